// Package ovstlstest makes public key infrastructures with Open vSwitch's ovs-pki for the tests
// of TLS connections, the way an operator makes them: the switch and controller CAs ovs-pki
// creates, and keys and certificates signed by them. A PKI takes about 1.5 s to make (two RSA
// CAs) and a certificate about 0.4 s, so the tests of a package share theirs ([Shared]). Only
// tests import it.
package ovstlstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Certificate kinds, as ovs-pki names them: each is signed by its own CA.
const (
	Switch     = "switch"
	Controller = "controller"
)

// PKI is one ovs-pki directory. Safe for concurrent use.
type PKI struct {
	Dir string // the PKI (ovs-pki --dir)

	mu     sync.Mutex
	issued int
	certs  map[string]Cert // Cert's, by kind and name
}

// Cert is a private key and the certificate ovs-pki signed for it.
type Cert struct {
	CommonName  string
	PrivateKey  string
	Certificate string
}

// New initialises a PKI (`ovs-pki init`) in a new directory under t's TempDir.
func New(t testing.TB) *PKI {
	t.Helper()
	p := &PKI{Dir: filepath.Join(t.TempDir(), "pki")}
	p.run(t, "", "init")
	return p
}

var shared = struct {
	sync.Mutex
	dir  string
	pkis map[string]*PKI
}{pkis: map[string]*PKI{}}

// Shared returns the test process's PKI called name, made at its first use; [RemoveShared],
// from TestMain, removes them all. Tests that need two PKIs (a CA and a stranger) name two.
func Shared(t testing.TB, name string) *PKI {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	if p := shared.pkis[name]; p != nil {
		return p
	}
	if shared.dir == "" {
		dir, err := os.MkdirTemp("", "ovsgw-pki-")
		if err != nil {
			t.Fatal(err)
		}
		shared.dir = dir
	}
	p := &PKI{Dir: filepath.Join(shared.dir, name)}
	p.run(t, "", "init")
	shared.pkis[name] = p
	return p
}

// RemoveShared removes the shared PKIs' files; call it from TestMain after the tests ran.
func RemoveShared() {
	shared.Lock()
	defer shared.Unlock()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	shared.dir, shared.pkis = "", map[string]*PKI{}
}

// CACert is the CA certificate of kind (Switch or Controller): what verifies the certificates
// Issue signs as that kind.
func (p *PKI) CACert(kind string) string { return filepath.Join(p.Dir, kind+"ca", "cacert.pem") }

// Bundle writes both CAs' certificates into one file, as a member of a config DB cluster trusts
// them (clients are switches, the other members controllers), and returns its path.
func (p *PKI) Bundle(t testing.TB) string {
	t.Helper()
	var all []byte
	for _, kind := range []string{Switch, Controller} {
		data, err := os.ReadFile(p.CACert(kind))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, data...)
	}
	f := filepath.Join(t.TempDir(), "bundle-cacert.pem")
	if err := os.WriteFile(f, all, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// Cert returns the certificate of name and kind that Cert issued before, or issues it: for the
// tests that need a certificate, not a new one.
func (p *PKI) Cert(t testing.TB, name, kind string) Cert {
	t.Helper()
	key := kind + " " + name
	p.mu.Lock()
	c, ok := p.certs[key]
	p.mu.Unlock()
	if ok {
		return c
	}
	c = p.Issue(t, name, kind)
	p.mu.Lock()
	if p.certs == nil {
		p.certs = map[string]Cert{}
	}
	p.certs[key] = c
	p.mu.Unlock()
	return c
}

// Issue makes a private key and a certificate whose common name is name (`ovs-pki -u
// req+sign NAME KIND`), signed by the CA of kind, in a directory of their own: issuing the same
// name again makes new files.
func (p *PKI) Issue(t testing.TB, name, kind string) Cert {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock() // ovs-pki's serial number file takes one signer at a time
	p.issued++
	dir := filepath.Join(p.Dir, "issued", fmt.Sprint(p.issued))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p.run(t, dir, "-u", "req+sign", name, kind)
	return Cert{CommonName: name, PrivateKey: filepath.Join(dir, name+"-privkey.pem"), Certificate: filepath.Join(dir, name+"-cert.pem")}
}

func (p *PKI) run(t testing.TB, dir string, args ...string) {
	t.Helper()
	tool, err := exec.LookPath("ovs-pki")
	if err != nil {
		t.Fatalf("ovs-pki not found: install openvswitch-common (apt-get install -y openvswitch-common): %v", err)
	}
	// Its log beside the PKI, not in the system's log directory (its default).
	logFile := filepath.Join(filepath.Dir(p.Dir), filepath.Base(p.Dir)+"-ovs-pki.log")
	cmd := exec.Command(tool, append([]string{"--dir=" + p.Dir, "--log=" + logFile}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ovs-pki %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// CopyFile copies src over dst (created, or truncated and rewritten in place), as an operator
// replaces a key or certificate.
func CopyFile(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

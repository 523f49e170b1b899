package ovstls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/ovsdb/ovstls/ovstlstest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	ovstlstest.RemoveShared()
	os.Exit(code)
}

// server is a TLS server as ovsdb-server is one: its key pair, and client certificates required
// and verified against its CA file. It records the common name of each client it accepted.
type server struct {
	t       *testing.T
	addr    string
	clients chan string
}

func newServer(t *testing.T, cert ovstlstest.Cert, caFile string) *server {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(cert.Certificate, cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &server{t: t, addr: l.Addr().String(), clients: make(chan string, 10)}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			if tc.Handshake() == nil {
				s.clients <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
			}
			c.Close()
		}
	}()
	return s
}

// dial makes one connection with c's TLS and returns the common name the server saw.
func (s *server) dial(c *Client) (string, error) {
	s.t.Helper()
	conn, err := tls.Dial("tcp", s.addr, c.Config())
	if err != nil {
		return "", err
	}
	defer conn.Close()
	select {
	case cn := <-s.clients:
		return cn, nil
	case <-time.After(5 * time.Second):
		return "", errors.New("the server accepted no client")
	}
}

// The peer is verified as Open vSwitch does: ovs-pki certificates, which name no host, are
// accepted when they chain to the CA; another CA's are refused, naming the CA file; a pinned
// common name must match, and a mismatch names both names; a certificate of the other ovs-pki
// CA (a switch's, where a controller's is expected) is refused.
func TestPeerIsVerifiedAsOpenVSwitchDoes(t *testing.T) {
	pki, stranger := ovstlstest.Shared(t, "ovsgw"), ovstlstest.Shared(t, "stranger")
	db1 := pki.Cert(t, "db1", ovstlstest.Controller)
	gw1 := pki.Cert(t, "gw1", ovstlstest.Switch)
	srv := newServer(t, db1, pki.CACert(ovstlstest.Switch))
	files := Files{PrivateKey: gw1.PrivateKey, Certificate: gw1.Certificate, CACert: pki.CACert(ovstlstest.Controller)}

	for _, tc := range []struct {
		name   string
		server *server
		pins   []string
		want   string // "" = accepted
	}{
		{"no pin: any certificate of the CA", srv, nil, ""},
		{"the pinned name", srv, []string{"db1"}, ""},
		{"one of the pinned names", srv, []string{"db2", "db1"}, ""},
		{"another pinned name", srv, []string{"db2"}, `the config DB member's certificate is refused: its common name "db1" is not the pinned "db2"`},
		{"other pinned names", srv, []string{"db2", "db3"}, `its common name "db1" is none of the pinned "db2", "db3"`},
		{"another CA", newServer(t, stranger.Cert(t, "db1", ovstlstest.Controller), pki.CACert(ovstlstest.Switch)), nil,
			`the config DB member's certificate is refused: "db1" is not signed by the CA in ` + files.CACert + `: x509: certificate signed by unknown authority`},
		{"the switch CA's certificate where a controller's is expected", newServer(t, pki.Cert(t, "db1", ovstlstest.Switch), pki.CACert(ovstlstest.Switch)), nil,
			`"db1" is not signed by the CA in ` + files.CACert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := files
			f.PeerCommonNames = tc.pins
			c, err := NewClient("config DB member", f)
			if err != nil {
				t.Fatal(err)
			}
			cn, err := tc.server.dial(c)
			if tc.want == "" {
				if err != nil || cn != "gw1" {
					t.Fatalf("refused: %v (server saw %q)", err, cn)
				}
				if c.LastError() != nil {
					t.Errorf("LastError after a handshake that passed: %v", c.LastError())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			if !Refused(err) || c.LastError() == nil || !strings.Contains(c.LastError().Error(), tc.want) {
				t.Errorf("Refused %v, LastError %v", Refused(err), c.LastError())
			}
		})
	}
}

// TestRotatedFilesAreUsedByTheNextConnection: a key and certificate written over the old files,
// and a CA file replaced by rename, are used by the next handshake without a new Client; files
// that did not change are not read again.
func TestRotatedFilesAreUsedByTheNextConnection(t *testing.T) {
	pki, next := ovstlstest.Shared(t, "ovsgw"), ovstlstest.Shared(t, "stranger")
	dir := t.TempDir()
	files := Files{PrivateKey: filepath.Join(dir, "key.pem"), Certificate: filepath.Join(dir, "cert.pem"),
		CACert: filepath.Join(dir, "cacert.pem"), PeerCommonNames: []string{"db1"}}
	install := func(c ovstlstest.Cert) {
		ovstlstest.CopyFile(t, c.PrivateKey, files.PrivateKey)
		ovstlstest.CopyFile(t, c.Certificate, files.Certificate)
	}
	install(pki.Cert(t, "gw1", ovstlstest.Switch))
	ovstlstest.CopyFile(t, pki.CACert(ovstlstest.Controller), files.CACert)
	srv := newServer(t, pki.Cert(t, "db1", ovstlstest.Controller), pki.CACert(ovstlstest.Switch))
	c, err := NewClient("config DB member", files)
	if err != nil {
		t.Fatal(err)
	}

	for i := range 3 {
		if cn, err := srv.dial(c); err != nil || cn != "gw1" {
			t.Fatalf("connection %d: %v (server saw %q)", i+1, err, cn)
		}
	}
	if n := c.reads.Load(); n != 3 {
		t.Errorf("three connections with unchanged files read %d files, want 3 (each once)", n)
	}

	install(pki.Issue(t, "gw1-rotated", ovstlstest.Switch)) // written in place
	if cn, err := srv.dial(c); err != nil || cn != "gw1-rotated" {
		t.Fatalf("after the key and certificate were rotated: %v (server saw %q, want gw1-rotated)", err, cn)
	}
	if n := c.reads.Load(); n != 5 {
		t.Errorf("after rotating key and certificate %d files were read in all, want 5 (those two again)", n)
	}

	// A new PKI: the server moves to it; the client follows once its files do.
	srv = newServer(t, next.Cert(t, "db1", ovstlstest.Controller), next.CACert(ovstlstest.Switch))
	if _, err := srv.dial(c); err == nil || !strings.Contains(err.Error(), "is not signed by the CA in "+files.CACert) {
		t.Fatalf("a server of another PKI: %v, want refused", err)
	}
	install(next.Cert(t, "gw1", ovstlstest.Switch))
	tmp := files.CACert + ".new"
	ovstlstest.CopyFile(t, next.CACert(ovstlstest.Controller), tmp)
	if err := os.Rename(tmp, files.CACert); err != nil {
		t.Fatal(err)
	}
	if cn, err := srv.dial(c); err != nil || cn != "gw1" {
		t.Fatalf("after key, certificate and CA moved to the new PKI: %v (server saw %q)", err, cn)
	}
}

// Bad files are refused with the file named, before any connection when Load is asked.
func TestBadFilesAreNamed(t *testing.T) {
	pki := ovstlstest.Shared(t, "ovsgw")
	gw1 := pki.Cert(t, "gw1", ovstlstest.Switch)
	other := pki.Cert(t, "gw2", ovstlstest.Switch)
	ca := pki.CACert(ovstlstest.Controller)
	for _, tc := range []struct {
		name  string
		files Files
		want  string
	}{
		{"missing key", Files{PrivateKey: "/nonexistent/key.pem", Certificate: gw1.Certificate, CACert: ca}, "private key: stat /nonexistent/key.pem: no such file or directory"},
		{"key of another certificate", Files{PrivateKey: other.PrivateKey, Certificate: gw1.Certificate, CACert: ca},
			"certificate and private key: " + gw1.Certificate + " and " + other.PrivateKey + ": tls: private key does not match public key"},
		{"CA file without a certificate", Files{PrivateKey: gw1.PrivateKey, Certificate: gw1.Certificate, CACert: gw1.PrivateKey}, "CA certificate: " + gw1.PrivateKey + " holds no PEM certificate"},
		{"CA path a device", Files{PrivateKey: gw1.PrivateKey, Certificate: gw1.Certificate, CACert: "/dev/zero"}, "CA certificate: /dev/zero is a character device, not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient("switch", tc.files)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Load(); err == nil || !strings.Contains(err.Error(), tc.want) || !Refused(err) {
				t.Fatalf("Load: %v, want an error saying %q", err, tc.want)
			}
		})
	}
	if _, err := NewClient("switch", Files{Certificate: gw1.Certificate}); err == nil || err.Error() != "TLS to the switch needs a private key, a CA certificate" {
		t.Errorf("NewClient without key and CA: %v", err)
	}
}

func TestCheckSetup(t *testing.T) {
	all := Files{PrivateKey: "k", Certificate: "c", CACert: "ca", PeerCommonNames: []string{"db1"}}
	for _, tc := range []struct {
		name      string
		endpoints []string
		files     Files
		want      []Problem
	}{
		{"ssl with every file", []string{"ssl:10.0.0.1:6641", "ssl:10.0.0.2:6641"}, all, nil},
		{"plain tcp, no files", []string{"tcp:10.0.0.1:6641", "unix:/run/db.sock"}, Files{}, nil},
		{"ssl without files", []string{"ssl:10.0.0.1:6641"}, Files{CACert: "ca"}, []Problem{
			{PrivateKey, "missing: ssl:10.0.0.1:6641 is an ssl: endpoint, which needs it"},
			{Certificate, "missing: ssl:10.0.0.1:6641 is an ssl: endpoint, which needs it"}}},
		{"files without ssl", []string{"tcp:10.0.0.1:6641"}, all, []Problem{
			{PrivateKey, "given, but no endpoint is ssl: (nothing would use it)"},
			{Certificate, "given, but no endpoint is ssl: (nothing would use it)"},
			{CACert, "given, but no endpoint is ssl: (nothing would use it)"},
			{PeerCommonNames, "given, but no endpoint is ssl: (nothing would check it)"}}},
		{"ssl beside tcp", []string{"ssl:10.0.0.1:6641", "tcp:10.0.0.2:6641"}, all, []Problem{
			{Endpoints, "tcp:10.0.0.2:6641 is tcp: beside ssl: endpoints: reach every member over ssl:, or the database travels unprotected whenever that one leads"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckSetup(tc.endpoints, tc.files)
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("problem %d: %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
	if got := ParseCommonNames(" db1, db2 ,,db3 "); strings.Join(got, "|") != "db1|db2|db3" {
		t.Errorf("ParseCommonNames: %q", got)
	}
}

package configdb

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
	"github.com/ovsgw/ovsgw/ovsdb/ovstls"
	"github.com/ovsgw/ovsgw/ovsdb/ovstls/ovstlstest"
)

// refusedAtOnce bounds the wait for a member's TLS alert on a raw connection (it comes with
// the handshake or the first read; well within a second on an idle machine).
const refusedAtOnce = 30 * time.Second

// TestConfigDBOverMutualTLS: the config DB spoke only plain tcp: (anyone who reached the port
// rewrote every node's flows). Over ssl: with certificates made by ovs-pki, set up as
// scripts/cluster.sh does (the member's certificate from the controller CA, the clients' from
// the switch CA): a client with its key, certificate and the CA reads and writes; a member whose
// certificate another CA signed, or whose common name is not the pinned one, is refused at
// once with the names; the member refuses a client without a certificate or with one of another
// CA; and key, certificate and CA files rotated while the client runs are used when it
// reconnects, without a restart.
func TestConfigDBOverMutualTLS(t *testing.T) {
	pki, stranger := ovstlstest.Shared(t, "ovsgw"), ovstlstest.Shared(t, "stranger")
	db1 := pki.Cert(t, "db1", ovstlstest.Controller)
	srv := configdbtest.NewStandaloneTLS(t, schemaFile, configdbtest.TLS{PrivateKey: db1.PrivateKey,
		Certificate: db1.Certificate, CACert: pki.Bundle(t)})
	gw1 := pki.Cert(t, "gw1", ovstlstest.Switch)
	files := ovstls.Files{PrivateKey: gw1.PrivateKey, Certificate: gw1.Certificate, CACert: pki.CACert(ovstlstest.Controller),
		PeerCommonNames: []string{"db1"}}
	connect := func(f ovstls.Files) (*Client, time.Duration, error) {
		tc, err := ovstls.NewClient("config DB member", f)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), configdbtest.ServerReady)
		defer cancel()
		start := time.Now()
		c, err := Connect(ctx, []string{srv.SSL}, WithTLS(tc))
		if err == nil {
			t.Cleanup(c.Close)
		}
		return c, time.Since(start), err
	}
	refused := func(t *testing.T, f ovstls.Files, want string) {
		t.Helper()
		_, took, err := connect(f)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v, want an error saying %q", err, want)
		}
		if !strings.Contains(err.Error(), srv.SSL) {
			t.Errorf("the error does not name the member %s: %v", srv.SSL, err)
		}
		// At once: the refusal itself is the answer, not a deadline reached while retrying (a
		// bound on the time would only measure the machine's load).
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			t.Errorf("refused only when the deadline ran out (%v), want the TLS refusal at once: %v", took.Round(time.Millisecond), err)
		}
	}

	t.Run("mutual TLS: the client reads and writes", func(t *testing.T) {
		c, _, err := connect(files)
		if err != nil {
			t.Fatal(err)
		}
		applyRows(t, c, testRows(5002))
		if g, err := c.Generation(); err != nil || g != 1 || c.Endpoint() != srv.SSL {
			t.Fatalf("generation %d (%v) on %q", g, err, c.Endpoint())
		}
	})
	t.Run("a one-shot writer (ConfigOnly, as db apply) reads the config over TLS too", func(t *testing.T) {
		tc, err := ovstls.NewClient("config DB member", files)
		if err != nil {
			t.Fatal(err)
		}
		c := connectTo(t, []string{srv.SSL}, WithTLS(tc), ConfigOnly())
		if sum := applyRows(t, c, testRows(5003)); sum.Empty() || sum.Generation != 2 {
			t.Fatalf("apply over TLS: %s (generation %d)", sum, sum.Generation)
		}
	})
	t.Run("a member certificate of another CA is refused at once, naming the CA file", func(t *testing.T) {
		f := files
		f.CACert = stranger.CACert(ovstlstest.Controller)
		refused(t, f, `the config DB member's certificate is refused: "db1" is not signed by the CA in `+f.CACert+": x509: certificate signed by unknown authority")
	})
	t.Run("a pinned common name that does not match is refused at once, naming both", func(t *testing.T) {
		f := files
		f.PeerCommonNames = []string{"db2", "db3"}
		refused(t, f, `the config DB member's certificate is refused: its common name "db1" is none of the pinned "db2", "db3"`)
	})
	t.Run("the member refuses a client without a certificate", func(t *testing.T) {
		conn, err := tls.Dial("tcp", strings.TrimPrefix(srv.SSL, "ssl:"), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec // the server's side is tested
		if err == nil {
			// A refusal may come with the first read rather than the handshake.
			_ = conn.SetDeadline(time.Now().Add(refusedAtOnce))
			_, err = conn.Read(make([]byte, 1))
			conn.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "remote error: tls:") {
			t.Fatalf("a client without a certificate: %v, want the member's TLS alert", err)
		}
	})
	t.Run("the member refuses a client certificate of another CA, at once", func(t *testing.T) {
		other := stranger.Cert(t, "gw1", ovstlstest.Switch)
		f := files
		f.PrivateKey, f.Certificate = other.PrivateKey, other.Certificate
		refused(t, f, "remote error: tls: unknown certificate authority")
	})
	t.Run("rotated key, certificate and CA are used when the client reconnects, without a restart", func(t *testing.T) {
		dir := t.TempDir()
		f := files
		f.PrivateKey, f.Certificate, f.CACert = filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "cacert.pem")
		ovstlstest.CopyFile(t, gw1.PrivateKey, f.PrivateKey)
		ovstlstest.CopyFile(t, gw1.Certificate, f.Certificate)
		ovstlstest.CopyFile(t, pki.CACert(ovstlstest.Controller), f.CACert)
		c, _, err := connect(f)
		if err != nil {
			t.Fatal(err)
		}
		// The member moves to another PKI: the client, still with the old files, cannot
		// reconnect.
		next := stranger.Cert(t, "db1", ovstlstest.Controller)
		srv.Stop()
		srv.TLS = &configdbtest.TLS{PrivateKey: next.PrivateKey, Certificate: next.Certificate, CACert: stranger.Bundle(t)}
		srv.Start(t)
		waitUntil(t, "the client lost the member", func() bool { return !c.Connected() })
		time.Sleep(retryMaxInterval) // attempts with the old files: 250 ms apart at first, doubling
		if c.Connected() {
			t.Fatal("reconnected with files of the old PKI")
		}
		// The new files, written over the old ones (the CA renamed into place).
		rotated := stranger.Cert(t, "gw1", ovstlstest.Switch) // another PKI's: files that differ
		ovstlstest.CopyFile(t, rotated.PrivateKey, f.PrivateKey)
		ovstlstest.CopyFile(t, rotated.Certificate, f.Certificate)
		ovstlstest.CopyFile(t, stranger.CACert(ovstlstest.Controller), f.CACert+".new")
		if err := os.Rename(f.CACert+".new", f.CACert); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the client reconnected with the rotated files", c.Connected)
		ctx, cancel := context.WithTimeout(context.Background(), testWait)
		defer cancel()
		if err := c.PublishNode(ctx, NodeState{Hostname: "gw1", InterfacesLimit: 4352}); err != nil {
			t.Fatalf("write after the rotation: %v", err)
		}
	})
}

package vtep

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/ovsdb/ovstls/ovstlstest"
)

// An ssl: endpoint, with certificates made by ovs-pki as Open vSwitch's convention has them (the
// switch's signed by the switch CA, ovsgw's by the controller CA): the client presents its
// certificate and accepts a switch whose certificate the CA signed, though it names no host;
// pinned, only the switch of that common name. A switch signed by another CA, or of another
// common name than the pinned one, is refused, and status says why, naming both names.
func TestSSLEndpoint(t *testing.T) {
	m := newMemSwitch(t)
	pki, stranger := ovstlstest.Shared(t, "ovsgw"), ovstlstest.Shared(t, "stranger")
	tor1 := pki.Cert(t, "tor1", ovstlstest.Switch)
	gw1 := pki.Cert(t, "gw1", ovstlstest.Controller)

	serve := func(c ovstlstest.Cert) *proxy {
		pair, err := tls.LoadX509KeyPair(c.Certificate, c.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		caPEM, err := os.ReadFile(pki.CACert(ovstlstest.Controller))
		if err != nil {
			t.Fatal(err)
		}
		clients := x509.NewCertPool()
		clients.AppendCertsFromPEM(caPEM)
		p := &proxy{dial: func() (net.Conn, error) { return net.Dial("unix", m.sock) },
			tls: &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert,
				ClientCAs: clients, MinVersion: tls.VersionTLS12}}
		if err := p.listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.close)
		return p
	}
	good := serve(tor1)
	opts := func(p *proxy, pin string) Options {
		return Options{Endpoint: "ssl:" + p.addr, Switch: switchName, PrivateKey: gw1.PrivateKey,
			Certificate: gw1.Certificate, CACert: pki.CACert(ovstlstest.Switch), PeerCommonName: pin}
	}
	connect := func(o Options) *Client {
		c, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	// refused waits until c's status says why it is not connected.
	refused := func(t *testing.T, c *Client, why string) {
		t.Helper()
		deadline := time.Now().Add(testWait)
		for {
			st := c.Status()
			if st.Connected {
				t.Fatal("connected")
			}
			if strings.Contains(st.ConnectError, why) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("status says %q, want it to say %q", st.ConnectError, why)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	for name, pin := range map[string]string{"any certificate of the CA connects": "", "the pinned switch connects": "tor1"} {
		t.Run(name, func(t *testing.T) {
			c := connect(opts(good, pin))
			ctx, cancel := context.WithTimeout(context.Background(), testWait)
			defer cancel()
			if err := c.WaitConnected(ctx); err != nil {
				t.Fatal(err)
			}
			doSync(t, c, desiredBase())
			if st := c.Status(); !st.InSync || st.ConnectError != "" {
				t.Errorf("over ssl: in sync %v, connection error %q", st.InSync, st.ConnectError)
			}
		})
	}
	t.Run("a switch of another common name than the pinned one is refused", func(t *testing.T) {
		refused(t, connect(opts(good, "tor2")), `switch's certificate is refused: its common name "tor1" is not the pinned "tor2"`)
	})
	t.Run("a switch signed by another CA is refused", func(t *testing.T) {
		refused(t, connect(opts(serve(stranger.Cert(t, "tor1", ovstlstest.Switch)), "")),
			`switch's certificate is refused: "tor1" is not signed by the CA in `+pki.CACert(ovstlstest.Switch))
	})
	t.Run("a FIFO at the key path is named, while the switch is away", func(t *testing.T) {
		fifo := filepath.Join(t.TempDir(), "gw1-privkey.pem")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		o := opts(good, "")
		o.Endpoint, o.PrivateKey = "ssl:127.0.0.1:1", fifo
		refused(t, connect(o), "private key: "+fifo+" is a named pipe (FIFO), not a regular file")
	})
}

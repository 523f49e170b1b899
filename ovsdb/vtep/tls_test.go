package vtep

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// pki is a CA with certificates it signed, written as PEM files the way ovs-pki leaves them.
type pki struct {
	t    *testing.T
	dir  string
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	pool *x509.CertPool
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := &pki{t: t, dir: t.TempDir(), key: key, cert: cert, pool: x509.NewCertPool()}
	p.pool.AddCert(cert)
	p.write(name+"-ca.pem", "CERTIFICATE", der)
	return p
}

func (p *pki) write(name, typ string, der []byte) string {
	p.t.Helper()
	f := filepath.Join(p.dir, name)
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return f
}

// issue signs a certificate for cn (a switch or controller name, not a host name, as ovs-pki
// issues them) and returns its key pair and the files.
func (p *pki) issue(cn string, serial int64) (pair tls.Certificate, certFile, keyFile string) {
	p.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		p.t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		p.t.Fatal(err)
	}
	certFile, keyFile = p.write(cn+"-cert.pem", "CERTIFICATE", der), p.write(cn+"-privkey.pem", "EC PRIVATE KEY", kder)
	pair, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		p.t.Fatal(err)
	}
	return pair, certFile, keyFile
}

// An ssl: endpoint: the client presents its certificate and accepts a switch whose certificate
// the CA signed, whatever name it carries; a switch signed by another CA is refused.
func TestSSLEndpoint(t *testing.T) {
	m := newMemSwitch(t)
	ca := newPKI(t, "ovsgw")
	serverPair, _, _ := ca.issue("tor1-switch-id", 2)
	_, clientCert, clientKey := ca.issue("ovsgw-controller", 3)
	other := newPKI(t, "stranger")
	strangerPair, _, _ := other.issue("tor1-switch-id", 2)

	serve := func(pair tls.Certificate) *proxy {
		p := &proxy{dial: func() (net.Conn, error) { return net.Dial("unix", m.sock) },
			tls: &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert,
				ClientCAs: ca.pool, MinVersion: tls.VersionTLS12}}
		if err := p.listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.close)
		return p
	}
	opts := func(p *proxy) Options {
		return Options{Endpoint: "ssl:" + p.addr, Switch: switchName,
			PrivateKey: clientKey, Certificate: clientCert, CACert: filepath.Join(ca.dir, "ovsgw-ca.pem")}
	}

	good := serve(serverPair)
	c, err := New(opts(good))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	doSync(t, c, desiredBase())
	if !c.Status().InSync {
		t.Error("not in sync over ssl")
	}

	bad := serve(strangerPair)
	s, err := New(opts(bad))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	if err := s.WaitConnected(ctx2); err == nil {
		t.Error("connected to a switch whose certificate another CA signed")
	}
}

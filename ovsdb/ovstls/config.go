package ovstls

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Files are this side's PEM files for mutual TLS with an Open vSwitch peer, and what the peer's
// certificate must name.
type Files struct {
	PrivateKey  string // this side's private key
	Certificate string // this side's certificate, signed by a CA the peer trusts
	CACert      string // the CA certificate(s) the peer's certificate must chain to
	// PeerCommonNames, when not empty, pin the peer: its certificate's common name must be one
	// of them (several: the members of a cluster, each with its own certificate).
	PeerCommonNames []string
}

// Given reports whether any setting is given.
func (f Files) Given() bool {
	return f.PrivateKey != "" || f.Certificate != "" || f.CACert != "" || len(f.PeerCommonNames) > 0
}

// ParseCommonNames splits a comma-separated list of common names, as the INI key and the flag
// that pin them take it; blanks around names are dropped, and so are empty names.
func ParseCommonNames(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// FileError is a key, certificate or CA file of this side that could not be used.
type FileError struct {
	What string // "private key", "certificate", "CA certificate"
	Err  error  // names the path
}

func (e *FileError) Error() string { return e.What + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// PeerError is a peer certificate this side refused.
type PeerError struct {
	Peer   string // what the peer is: "config DB member", "switch"
	Reason string
}

func (e *PeerError) Error() string { return "the " + e.Peer + "'s certificate is refused: " + e.Reason }

// remoteAlert starts the text of crypto/tls's error for a TLS alert the peer sent.
const remoteAlert = "remote error: tls: "

// Refused reports whether err (from a connection attempt) is a TLS failure that trying again
// will not mend by itself: a file of this side that cannot be used, a peer certificate this
// side refused, or a TLS alert from the peer (it does not trust this side's certificate, or was
// sent none). With TLS 1.3 the peer's alert arrives with the first read after the handshake,
// and libovsdb passes that error on as text only; so the text is looked at too.
func Refused(err error) bool {
	var fe *FileError
	var pe *PeerError
	var op *net.OpError
	return errors.As(err, &fe) || errors.As(err, &pe) || (errors.As(err, &op) && op.Op == "remote error") ||
		(err != nil && strings.Contains(err.Error(), remoteAlert))
}

// Client is this side's TLS for connections to one kind of peer. It reads its files at each
// handshake, again only when they changed (see the package comment), and never holds a lock
// while it reads them. Safe for concurrent use.
type Client struct {
	peer  string
	files Files

	mu   sync.Mutex
	pair *cachedPair
	ca   *cachedCA

	lastErr atomic.Pointer[error] // of the last handshake: nil after one that passed
	reads   atomic.Int64          // files read, for tests
}

type cachedPair struct {
	key, cert FileStamp
	pair      *tls.Certificate
}

type cachedCA struct {
	stamp FileStamp
	pool  *x509.CertPool
}

// NewClient checks that f names the three files and returns the TLS of connections to peer
// (what the peer is, for errors: "config DB member", "switch"). It reads no file.
func NewClient(peer string, f Files) (*Client, error) {
	var missing []string
	for _, s := range []struct{ what, path string }{{"a private key", f.PrivateKey}, {"a certificate", f.Certificate}, {"a CA certificate", f.CACert}} {
		if s.path == "" {
			missing = append(missing, s.what)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("TLS to the %s needs %s", peer, strings.Join(missing, ", "))
	}
	f.PeerCommonNames = slices.Clone(f.PeerCommonNames)
	return &Client{peer: peer, files: f}, nil
}

// Config returns a tls.Config for ssl: connections (libovsdb's client.WithTLSConfig): this side's
// key pair and the CA are loaded at each handshake, and the peer verified as the package
// comment says.
func (c *Client) Config() *tls.Config {
	return &tls.Config{
		MinVersion:           tls.VersionTLS12,
		GetClientCertificate: c.clientCertificate,
		// The chain (and the pinned name) are verified in VerifyPeerCertificate, without the
		// host name check that would refuse every ovs-pki certificate.
		InsecureSkipVerify:    true, //nolint:gosec // verified in verifyPeer
		VerifyPeerCertificate: c.verifyPeer,
	}
}

// Load reads the files now: an error at start names the file at fault at once, rather than
// at each connection attempt.
func (c *Client) Load() error {
	if _, err := c.keyPair(); err != nil {
		return err
	}
	_, err := c.caPool()
	return err
}

// LastError is why the last handshake failed on this side (a file, the peer's certificate);
// nil when it passed, or before any.
func (c *Client) LastError() error {
	if p := c.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *Client) setLast(err error) {
	if err == nil {
		c.lastErr.Store(nil)
		return
	}
	c.lastErr.Store(&err)
}

func (c *Client) clientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	pair, err := c.keyPair()
	c.setLast(err)
	return pair, err
}

func (c *Client) verifyPeer(raw [][]byte, _ [][]*x509.Certificate) error {
	err := c.verify(raw)
	c.setLast(err)
	return err
}

// keyPair returns this side's key pair, read again only when either file changed.
func (c *Client) keyPair() (*tls.Certificate, error) {
	keyStamp, kerr := statFile(c.files.PrivateKey)
	certStamp, cerr := statFile(c.files.Certificate)
	c.mu.Lock()
	cached := c.pair
	c.mu.Unlock()
	if kerr == nil && cerr == nil && cached != nil && cached.key == keyStamp && cached.cert == certStamp {
		return cached.pair, nil
	}
	keyPEM, keyStamp, err := ReadFile(c.files.PrivateKey, MaxFileSize)
	if err != nil {
		return nil, &FileError{What: "private key", Err: err}
	}
	certPEM, certStamp, err := ReadFile(c.files.Certificate, MaxFileSize)
	if err != nil {
		return nil, &FileError{What: "certificate", Err: err}
	}
	c.reads.Add(2)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &FileError{What: "certificate and private key", Err: fmt.Errorf("%s and %s: %w", c.files.Certificate, c.files.PrivateKey, err)}
	}
	c.mu.Lock()
	c.pair = &cachedPair{key: keyStamp, cert: certStamp, pair: &pair}
	c.mu.Unlock()
	return &pair, nil
}

// caPool returns the CA certificates, read again only when the file changed.
func (c *Client) caPool() (*x509.CertPool, error) {
	stamp, serr := statFile(c.files.CACert)
	c.mu.Lock()
	cached := c.ca
	c.mu.Unlock()
	if serr == nil && cached != nil && cached.stamp == stamp {
		return cached.pool, nil
	}
	data, stamp, err := ReadFile(c.files.CACert, MaxFileSize)
	if err != nil {
		return nil, &FileError{What: "CA certificate", Err: err}
	}
	c.reads.Add(1)
	pool, err := parseCAs(c.files.CACert, data)
	if err != nil {
		return nil, &FileError{What: "CA certificate", Err: err}
	}
	c.mu.Lock()
	c.ca = &cachedCA{stamp: stamp, pool: pool}
	c.mu.Unlock()
	return pool, nil
}

// parseCAs reads every certificate of a PEM file (a CA file may hold several, as while one CA
// replaces another); other blocks are skipped.
func parseCAs(path string, data []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", path, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// verify checks the peer's chain against the CA, as stream-ssl does (no host name), and the
// pinned common names.
func (c *Client) verify(raw [][]byte) error {
	pool, err := c.caPool()
	if err != nil {
		return err
	}
	if len(raw) == 0 {
		return &PeerError{Peer: c.peer, Reason: "it sent none"}
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, r := range raw {
		if certs[i], err = x509.ParseCertificate(r); err != nil {
			return &PeerError{Peer: c.peer, Reason: fmt.Sprintf("certificate %d of its chain: %v", i+1, err)}
		}
	}
	inter := x509.NewCertPool()
	for _, cert := range certs[1:] {
		inter.AddCert(cert)
	}
	leaf := certs[0]
	cn := leaf.Subject.CommonName
	// ovs-pki certificates carry no extended key usage; OVS checks none.
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return &PeerError{Peer: c.peer, Reason: fmt.Sprintf("%q is not signed by the CA in %s: %v", cn, c.files.CACert, err)}
	}
	if pins := c.files.PeerCommonNames; len(pins) > 0 && !slices.Contains(pins, cn) {
		quoted := make([]string, len(pins))
		for i, p := range pins {
			quoted[i] = fmt.Sprintf("%q", p)
		}
		which := "is not the pinned " + quoted[0]
		if len(pins) > 1 {
			which = "is none of the pinned " + strings.Join(quoted, ", ")
		}
		return &PeerError{Peer: c.peer, Reason: fmt.Sprintf("its common name %q %s", cn, which)}
	}
	return nil
}

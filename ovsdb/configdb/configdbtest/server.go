// Package configdbtest runs real ovsdb-server processes with the OVSGW
// schema for the tests of package configdb and of its domain side
// (gateway/configstore): standalone servers and Raft clusters, plain or
// over mutual TLS as scripts/cluster.sh runs them. It does not import
// configdb, whose own tests import it.
package configdbtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Real ovsdb-server processes for the tests that need the server's own
// update messages (events, reconnects, Raft failover, timing). Each runs in
// a private directory under the test's TempDir, listens on a unix socket
// there (Raft members also on 127.0.0.1; with TLS, ssl: clients too), and is
// stopped by its process handle when the test ends.

// databaseName is configdb.DatabaseName, the schema's; not imported, as
// configdb's tests import this package.
const databaseName = "OVSGW"

// Timing of the real-server tests.
const (
	// ServerReady bounds the wait for a server's socket, or for a cluster's
	// first leader: the election timer (1 s, randomised to 2 s) once two
	// members are up.
	ServerReady = 20 * time.Second
	// serverStopGrace is how long a server may take to exit on SIGTERM.
	serverStopGrace = 5 * time.Second
)

// OVSProgram finds an OVS program, also in the sbin directories a non-login PATH lacks.
func OVSProgram(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	t.Fatalf("%s not found: install openvswitch-switch (apt-get install -y openvswitch-switch)", name)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// RunTool runs an OVS tool and fails the test when it fails.
func RunTool(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Server is one ovsdb-server, a child of the test process.
type Server struct {
	Name     string
	Dir      string
	DB       string   // its database file
	Endpoint string   // unix:PATH
	Ctl      string   // its unixctl socket
	Args     []string // more arguments of ovsdb-server
	// TLS, when set, makes the server serve ssl: clients on SSL with mutual TLS (and a
	// cluster member speak Raft over ssl:). Start reads it: change it and restart the server
	// to rotate its files.
	TLS *TLS
	SSL string // ssl:127.0.0.1:PORT, with TLS
	// NetNS, when set, is the network namespace the server runs in (its 127.0.0.1 is that
	// namespace's); the unix sockets are reached through the file system all the same.
	NetNS string
	Cmd   *exec.Cmd
	Done  chan struct{}
}

// TLS are the PEM files of a server: its private key and certificate, and the CA
// certificate(s) that verify its clients' certificates (and, in a cluster, the other
// members').
type TLS struct {
	PrivateKey, Certificate, CACert string
}

// NewStandalone creates a standalone database of our schema in a private
// directory and starts a server on it.
func NewStandalone(t testing.TB, schemaFile string) *Server {
	t.Helper()
	return newStandalone(t, schemaFile, nil)
}

// NewStandaloneTLS is NewStandalone whose server also serves ssl: clients on
// 127.0.0.1 (Server.SSL) with mutual TLS.
func NewStandaloneTLS(t testing.TB, schemaFile string, tls TLS) *Server {
	t.Helper()
	return newStandalone(t, schemaFile, &tls)
}

func newStandalone(t testing.TB, schemaFile string, tls *TLS) *Server {
	t.Helper()
	dir := t.TempDir()
	s := &Server{Name: "db", Dir: dir, DB: filepath.Join(dir, "db.db"),
		Endpoint: "unix:" + filepath.Join(dir, "db.sock"), Ctl: filepath.Join(dir, "db.ctl"), TLS: tls}
	if tls != nil {
		s.SSL = "ssl:127.0.0.1:" + strconv.Itoa(FreeLoopbackPorts(t, 1)[0])
	}
	RunTool(t, OVSProgram(t, "ovsdb-tool"), "create", s.DB, schemaFile)
	s.Start(t)
	return s
}

// start runs the server and waits until its socket answers. The ssl:
// listener, when there is one, is set up in the same pass as the socket's.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	args := []string{s.DB, "--remote=p" + s.Endpoint, "--unixctl=" + s.Ctl,
		"--log-file=" + filepath.Join(s.Dir, s.Name+".log"), "-vconsole:off"}
	if s.TLS != nil {
		host, port, _ := strings.Cut(strings.TrimPrefix(s.SSL, "ssl:"), ":")
		args = append(args, "--private-key="+s.TLS.PrivateKey, "--certificate="+s.TLS.Certificate,
			"--ca-cert="+s.TLS.CACert, "--remote=pssl:"+port+":"+host)
	}
	args = append(args, s.Args...)
	prog := OVSProgram(t, "ovsdb-server")
	if s.NetNS != "" {
		// ip netns exec replaces itself with the server: the process is the server's.
		args = append([]string{"netns", "exec", s.NetNS, prog}, args...)
		prog = OVSProgram(t, "ip")
	}
	s.Cmd = exec.Command(prog, args...)
	// It must not outlive a test binary that dies without cleanup.
	s.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	s.Done = done
	cmd := s.Cmd
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { s.Stop() })
	sock := strings.TrimPrefix(s.Endpoint, "unix:")
	deadline := time.Now().Add(ServerReady)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(s.Dir, s.Name+".log"))
			t.Fatalf("ovsdb-server %s exited at start:\n%s", s.Name, log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ovsdb-server %s: no socket after %v", s.Name, ServerReady)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the server by its process handle (never by name), and waits.
func (s *Server) Stop() {
	select {
	case <-s.Done:
		return
	default:
	}
	_ = s.Cmd.Process.Signal(syscall.SIGCONT) // a stopped server would not act on SIGTERM
	_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.Done:
	case <-time.After(serverStopGrace):
		_ = s.Cmd.Process.Kill()
		<-s.Done
	}
}

// role is the member's Raft role as `ovs-appctl cluster/status` prints it;
// "" when it does not answer within a second (it may be stopped).
func (s *Server) Role(t testing.TB) string { return s.statusLine(t, "Role: ") }

// statusLine is the rest of the `ovs-appctl cluster/status` line that starts with prefix.
func (s *Server) statusLine(t testing.TB, prefix string) string {
	out, err := exec.Command(OVSProgram(t, "ovs-appctl"), "--timeout=1", "-t", s.Ctl, "cluster/status", databaseName).CombinedOutput()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		if r, ok := strings.CutPrefix(line, prefix); ok {
			return r
		}
	}
	return ""
}

// Cluster is a Raft cluster of our schema: clients on unix sockets,
// Raft on 127.0.0.1.
type Cluster []*Server

// NewCluster creates and starts a cluster of n members and waits for a leader.
func NewCluster(t testing.TB, schemaFile string, n int) Cluster {
	t.Helper()
	return newCluster(t, schemaFile, n, nil, "")
}

// NewClusterTLS creates and starts a cluster of one member per entry of
// members, set up as scripts/cluster.sh sets one up: each serves ssl:
// clients on 127.0.0.1 (Server.SSL) with mutual TLS, and the members speak
// Raft over ssl:, all with the files of their entry. With netns given, the
// members run in that network namespace. It waits for a leader.
func NewClusterTLS(t testing.TB, schemaFile string, members []TLS, netns string) Cluster {
	t.Helper()
	return newCluster(t, schemaFile, len(members), members, netns)
}

func newCluster(t testing.TB, schemaFile string, n int, tls []TLS, netns string) Cluster {
	t.Helper()
	dir := t.TempDir()
	tool := OVSProgram(t, "ovsdb-tool")
	proto := "tcp:"
	if tls != nil {
		proto = "ssl:"
	}
	raft := make([]string, n)
	ports := FreeLoopbackPorts(t, 2*n) // Raft, then clients over ssl:
	for i := range n {
		raft[i] = proto + "127.0.0.1:" + strconv.Itoa(ports[i])
	}
	var cl Cluster
	for i := range n {
		name := fmt.Sprintf("s%d", i+1)
		m := &Server{Name: name, Dir: dir, DB: filepath.Join(dir, name+".db"),
			Endpoint: "unix:" + filepath.Join(dir, name+".sock"), Ctl: filepath.Join(dir, name+".ctl"), NetNS: netns}
		if tls != nil {
			m.TLS, m.SSL = &tls[i], "ssl:127.0.0.1:"+strconv.Itoa(ports[n+i])
		}
		if i == 0 {
			RunTool(t, tool, "create-cluster", m.DB, schemaFile, raft[0])
		} else {
			RunTool(t, tool, "join-cluster", m.DB, databaseName, raft[i], raft[0])
		}
		cl = append(cl, m)
	}
	for _, m := range cl {
		m.Start(t)
	}
	deadline := time.Now().Add(ServerReady)
	for cl.Leader(t) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no Raft leader after %v", ServerReady)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Every member must have completed joining: one still joining counts for no majority, and
	// a leader stopped before then would leave the cluster without one.
	for _, m := range cl {
		for m.statusLine(t, "Status: ") != "cluster member" {
			if time.Now().After(deadline) {
				t.Fatalf("%s has not joined the Raft cluster after %v", m.Name, ServerReady)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return cl
}

func (cl Cluster) Leader(t testing.TB) *Server {
	for _, m := range cl {
		if m.Role(t) == "leader" {
			return m
		}
	}
	return nil
}

func (cl Cluster) Endpoints() []string {
	var eps []string
	for _, m := range cl {
		eps = append(eps, m.Endpoint)
	}
	return eps
}

// SSLEndpoints are the members' ssl: endpoints (NewClusterTLS).
func (cl Cluster) SSLEndpoints() []string {
	var eps []string
	for _, m := range cl {
		eps = append(eps, m.SSL)
	}
	return eps
}

// FreeLoopbackPorts returns n TCP ports free on 127.0.0.1 right now.
func FreeLoopbackPorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

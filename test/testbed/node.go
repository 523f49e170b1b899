package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// readyTimeout bounds how long a freshly started daemon may take to answer.
const readyTimeout = 20 * time.Second

// Node is one Open vSwitch instance, ovsdb-server plus ovs-vswitchd, running
// inside its own namespace. All its sockets, pidfiles, logs and the database
// live in RunDir, so nodes never see each other or a system OVS.
type Node struct {
	*NS
	RunDir string

	env []string // OVS_RUNDIR etc., so the OVS tools find RunDir by default

	mu       sync.Mutex
	db       *Proc
	vswitchd *Proc
}

// NewNode creates a namespace, a database from the installed vswitch
// schema, and starts ovsdb-server and ovs-vswitchd in it. It returns once
// ovs-vswitchd answers on its control socket and has applied the database.
// Cleanup stops both daemons, removes RunDir and deletes the namespace; if
// the test failed, the tails of the daemons' logs are logged first.
func NewNode(t T, name string) *Node {
	t.Helper()
	ns := NewNS(t, name)
	// os.MkdirTemp rather than t.TempDir: unix socket paths are limited to
	// 108 bytes and test-named temp dirs can exceed that.
	dir, err := os.MkdirTemp("", "ovsgw-"+name+"-")
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	n := &Node{
		NS:     ns,
		RunDir: dir,
		env:    []string{"OVS_RUNDIR=" + dir, "OVS_DBDIR=" + dir, "OVS_LOGDIR=" + dir},
	}
	t.Cleanup(func() { n.logTailsIfFailed(t) })
	t.Cleanup(func() {
		for _, p := range []*Proc{n.proc(&n.vswitchd), n.proc(&n.db)} {
			if p != nil {
				if err := p.Stop(); err != nil {
					t.Logf("testbed: cleanup %s: %v", n.Name, err)
				}
			}
		}
	})

	if _, err := run(cmdTimeout, nil, bin("ovsdb-tool"), "create", n.path("conf.db"), schemaPath()); err != nil {
		t.Fatalf("testbed: node %s: %v", name, err)
	}
	n.StartDB(t)
	n.StartVswitchd(t)
	return n
}

func (n *Node) path(file string) string { return filepath.Join(n.RunDir, file) }

func (n *Node) proc(pp **Proc) *Proc {
	n.mu.Lock()
	defer n.mu.Unlock()
	return *pp
}

// DBSocket is the OVSDB remote of this node's ovsdb-server.
func (n *Node) DBSocket() string { return "unix:" + n.path("db.sock") }

// MgmtSocket is the OpenFlow management socket ovs-vswitchd listens on for
// bridge (what ovs-ofctl uses when given a bridge name).
func (n *Node) MgmtSocket(bridge string) string { return "unix:" + n.path(bridge+".mgmt") }

// VswitchdCtl is the unixctl socket of this node's ovs-vswitchd.
func (n *Node) VswitchdCtl() string { return n.path("ovs-vswitchd.ctl") }

// DB and Vswitchd return the running daemons, e.g. to Kill one in a crash
// test. They are nil while stopped.
func (n *Node) DB() *Proc       { return n.proc(&n.db) }
func (n *Node) Vswitchd() *Proc { return n.proc(&n.vswitchd) }

// tool runs an OVS client inside the node's namespace with OVS_RUNDIR set,
// so defaults such as a bridge name's .mgmt socket resolve into RunDir.
func (n *Node) tool(name string, args ...string) (string, error) {
	full := append([]string{"netns", "exec", n.Name, bin(name)}, args...)
	out, err := run(cmdTimeout, n.env, bin("ip"), full...)
	if err != nil {
		return out, fmt.Errorf("node %s: %w", n.Name, err)
	}
	return out, nil
}

// Vsctl runs ovs-vsctl against this node's database. Unless --no-wait is
// given, ovs-vsctl waits until ovs-vswitchd has applied the change.
func (n *Node) Vsctl(args ...string) (string, error) {
	return n.tool("ovs-vsctl", append([]string{"--db=" + n.DBSocket(), "--timeout=10"}, args...)...)
}

// Ofctl runs ovs-ofctl speaking OpenFlow 1.3. A bridge may be named plainly
// ("dump-flows br0"): ovs-ofctl then connects to RunDir/br0.mgmt.
func (n *Node) Ofctl(args ...string) (string, error) {
	return n.tool("ovs-ofctl", append([]string{"-O", "OpenFlow13"}, args...)...)
}

// Appctl runs ovs-appctl against this node's ovs-vswitchd.
func (n *Node) Appctl(args ...string) (string, error) {
	return n.tool("ovs-appctl", append([]string{"-t", n.VswitchdCtl()}, args...)...)
}

// MustVsctl, MustOfctl and MustAppctl fail the test on error.
func (n *Node) MustVsctl(t T, args ...string) string {
	t.Helper()
	return must(t)(n.Vsctl(args...))
}

func (n *Node) MustOfctl(t T, args ...string) string {
	t.Helper()
	return must(t)(n.Ofctl(args...))
}

func (n *Node) MustAppctl(t T, args ...string) string {
	t.Helper()
	return must(t)(n.Appctl(args...))
}

func must(t T) func(string, error) string {
	return func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatalf("testbed: %v", err)
		}
		return out
	}
}

// AddBridge creates a userspace bridge. settings are extra Bridge columns,
// e.g. "fail_mode=secure" or "protocols=OpenFlow13". Without a controller
// and fail_mode the bridge behaves as a learning switch (a NORMAL flow).
func (n *Node) AddBridge(t T, name string, settings ...string) {
	t.Helper()
	args := []string{"add-br", name, "--", "set", "bridge", name, "datapath_type=netdev"}
	n.MustVsctl(t, append(args, settings...)...)
}

// AddPort adds interface ifname (already in this node's namespace) to
// bridge. settings are Port columns, e.g. "tag=10" or "trunks=10,20".
func (n *Node) AddPort(t T, bridge, ifname string, settings ...string) {
	t.Helper()
	n.MustVsctl(t, append([]string{"add-port", bridge, ifname}, settings...)...)
}

// StartDB starts ovsdb-server on the existing database and waits until it
// serves; the first start also initialises the Open_vSwitch root row.
func (n *Node) StartDB(t T) {
	t.Helper()
	n.start(t, &n.db, "ovsdb-server", n.path("conf.db"),
		"--remote=punix:"+n.path("db.sock"),
		"--pidfile="+n.path("ovsdb-server.pid"),
		"--unixctl="+n.path("ovsdb-server.ctl"),
		"--log-file="+n.path("ovsdb-server.log"),
		"-vconsole:off")
	// init is idempotent, so it doubles as the readiness probe.
	err := waitFor(readyTimeout, func() error {
		_, err := n.Vsctl("--no-wait", "init")
		return err
	})
	if err == nil {
		err = n.syncVswitchd()
	}
	if err != nil {
		t.Fatalf("testbed: ovsdb-server on %s not ready: %v", n.Name, err)
	}
}

// syncVswitchd waits, if ovs-vswitchd is running, until it is connected
// to the database and has applied it. After a database restart that takes
// up to ovs-vswitchd's reconnect backoff (8 s), and until then a netdev
// datapath does not forward at all (see StopDB).
func (n *Node) syncVswitchd() error {
	p := n.Vswitchd()
	if p == nil {
		return nil
	}
	if done, _ := p.Exited(); done {
		return nil
	}
	// Without --no-wait ovs-vsctl bumps next_cfg and waits for
	// ovs-vswitchd to report it applied.
	return waitFor(readyTimeout, func() error {
		_, err := n.Vsctl("init")
		return err
	})
}

// StartVswitchd starts ovs-vswitchd and waits until it answers on its
// control socket and has caught up with the database.
func (n *Node) StartVswitchd(t T) {
	t.Helper()
	// --disable-system: there is no kernel datapath module; without it
	// ovs-vswitchd would keep probing for one.
	n.start(t, &n.vswitchd, "ovs-vswitchd", n.DBSocket(),
		"--pidfile="+n.path("ovs-vswitchd.pid"),
		"--unixctl="+n.VswitchdCtl(),
		"--log-file="+n.path("ovs-vswitchd.log"),
		"-vconsole:off",
		"--disable-system")
	err := waitFor(readyTimeout, func() error {
		_, err := n.Appctl("version")
		return err
	})
	if err == nil {
		err = n.syncVswitchd()
	}
	if err == nil {
		_, err = n.Vsctl("show")
	}
	if err != nil {
		t.Fatalf("testbed: ovs-vswitchd on %s not ready: %v", n.Name, err)
	}
}

// StopVswitchd and StopDB stop the daemon (SIGTERM, then SIGKILL), for
// restart tests. Stopping one that is not running does nothing.
//
// Note that while the database is down a netdev datapath stops forwarding:
// ovs-vswitchd loses its database lock and then skips running its bridges,
// which is where the userspace datapath polls its ports (it spins at full
// CPU meanwhile). A kernel datapath would keep forwarding.
func (n *Node) StopVswitchd(t T) { t.Helper(); n.stop(t, &n.vswitchd) }
func (n *Node) StopDB(t T)       { t.Helper(); n.stop(t, &n.db) }

func (n *Node) start(t T, slot **Proc, name string, args ...string) {
	t.Helper()
	if p := n.proc(slot); p != nil {
		if done, _ := p.Exited(); !done {
			t.Fatalf("testbed: %s already running on %s (pid %d)", name, n.Name, p.Pid)
		}
	}
	p, err := startProc(n.Name, n.path(name+".out"), n.env, append([]string{bin(name)}, args...))
	if err != nil {
		t.Fatalf("testbed: node %s: %v", n.Name, err)
	}
	n.mu.Lock()
	*slot = p
	n.mu.Unlock()
}

func (n *Node) stop(t T, slot **Proc) {
	t.Helper()
	n.mu.Lock()
	p := *slot
	*slot = nil
	n.mu.Unlock()
	if p == nil {
		return
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("testbed: node %s: %v", n.Name, err)
	}
}

// logTailsIfFailed shows the end of the daemons' logs when the test failed
// (for T implementations that can tell), since RunDir is removed afterwards.
func (n *Node) logTailsIfFailed(t T) {
	f, ok := t.(interface{ Failed() bool })
	if !ok || !f.Failed() {
		return
	}
	for _, file := range []string{"ovsdb-server.log", "ovsdb-server.out", "ovs-vswitchd.log", "ovs-vswitchd.out"} {
		data, err := os.ReadFile(n.path(file))
		if err != nil || len(data) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		t.Logf("testbed: %s %s (tail):\n%s", n.Name, file, strings.Join(lines, "\n"))
	}
}

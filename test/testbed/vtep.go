package testbed

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The VTEP emulator of Debian's openvswitch-vtep, and what it needs.
const (
	// OVSVtep is the emulator script (`dpkg -L openvswitch-vtep`).
	OVSVtep = "/usr/share/openvswitch/scripts/ovs-vtep"
	// SystemPython runs it: the script imports the `ovs` module of python3-openvswitch, which
	// only the system interpreter sees (a pyenv or venv python3 on PATH does not).
	SystemPython = "/usr/bin/python3"
	// AccessBridge is the VTEP node's VLAN-tagging bridge, standing for the servers' cabling: the
	// kernel here has no 802.1Q module, so a server's untagged frames get their VLAN on an access
	// port of this bridge, whose trunk is a port of the emulated switch.
	AccessBridge = "access"
)

// VTEP is a hardware VTEP switch emulated by ovs-vtep: a node whose one ovsdb-server serves
// both the Open_vSwitch database (of its own ovs-vswitchd) and the switch's hardware_vtep
// database, a bridge named after the Physical_Switch whose ports are the switch's ports, and the
// ovs-vtep process, which follows the hardware_vtep database by polling it (its changes lag a
// second or two) and builds one bridge per logical switch with VXLAN ports. ovs-vtep reaches the
// database only through OVS_RUNDIR's db.sock (it has no --db option): that is the node's.
type VTEP struct {
	*Node
	Switch   string     // the Physical_Switch (and its bridge)
	TunnelIP netip.Addr // set by AttachUnderlay

	owner  T
	remote string // extra ovsdb-server remote (ListenTCP)
	vmu    sync.Mutex
	vtep   *Proc
}

// RequireVTEP fails the test unless Require passes and the emulator can run: vtep-ctl, the
// hardware_vtep schema, ovs-vtep and a python3 that imports ovs. It never skips.
func RequireVTEP(t T) {
	t.Helper()
	Require(t)
	var missing []string
	if _, err := exec.LookPath("vtep-ctl"); err != nil {
		missing = append(missing, "command vtep-ctl (package openvswitch-vtep)")
	}
	for _, f := range []string{vtepSchemaPath(), OVSVtep} {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f+" (package openvswitch-vtep)")
		}
	}
	if out, err := exec.Command(SystemPython, "-c", "import ovs").CombinedOutput(); err != nil {
		missing = append(missing, fmt.Sprintf("%s importing ovs (package python3-openvswitch): %v %s", SystemPython, err, out))
	}
	if len(missing) > 0 {
		t.Fatalf("testbed: cannot run the VTEP emulator, missing:\n  - %s\ninstall with: %s", strings.Join(missing, "\n  - "), InstallHint)
	}
}

func vtepSchemaPath() string { return filepath.Join(filepath.Dir(schemaPath()), "vtep.ovsschema") }

// NewVTEP creates the node (namespace, both databases, ovsdb-server serving them, ovs-vswitchd),
// the switch's bridge (datapath_type=netdev: the emulator's own bridges take the type of this
// one), the Physical_Switch row, and the access bridge. Add ports and the underlay, then
// StartEmulator. Cleanup stops everything by pid, as for a Node.
func NewVTEP(t T, name, switchName string) *VTEP {
	t.Helper()
	RequireVTEP(t)
	ns := NewNS(t, name)
	dir, err := os.MkdirTemp("", "ovsgw-"+name+"-")
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	n := &Node{NS: ns, RunDir: dir, env: []string{"OVS_RUNDIR=" + dir, "OVS_DBDIR=" + dir, "OVS_LOGDIR=" + dir}}
	v := &VTEP{Node: n, Switch: switchName, owner: t}
	t.Cleanup(func() { n.logTailsIfFailed(t); v.logTailIfFailed(t) })
	t.Cleanup(func() {
		for _, p := range []*Proc{v.emulator(), n.proc(&n.vswitchd), n.proc(&n.db)} {
			if p != nil {
				if err := p.Stop(); err != nil {
					t.Logf("testbed: cleanup %s: %v", n.Name, err)
				}
			}
		}
	})
	for db, schema := range map[string]string{"conf.db": schemaPath(), "vtep.db": vtepSchemaPath()} {
		if _, err := run(cmdTimeout, nil, bin("ovsdb-tool"), "create", n.path(db), schema); err != nil {
			t.Fatalf("testbed: vtep %s: %v", name, err)
		}
	}
	v.StartDB(t)
	n.StartVswitchd(t)
	n.AddBridge(t, switchName)
	v.MustVtepctl(t, "add-ps", switchName)
	n.AddBridge(t, AccessBridge, "fail_mode=standalone")
	return v
}

// StartDB starts ovsdb-server on both databases (again, after StopDB: the rows keep their
// UUIDs) and waits until it serves and ovs-vswitchd has caught up.
func (v *VTEP) StartDB(t T) {
	t.Helper()
	n := v.Node
	args := []string{n.path("conf.db"), n.path("vtep.db"),
		"--remote=punix:" + n.path("db.sock"),
		"--pidfile=" + n.path("ovsdb-server.pid"),
		"--unixctl=" + n.path("ovsdb-server.ctl"),
		"--log-file=" + n.path("ovsdb-server.log"),
		"-vconsole:off"}
	if v.remote != "" {
		args = append(args, "--remote="+v.remote)
	}
	n.start(t, &n.db, "ovsdb-server", args...)
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

// ListenTCP makes the switch's ovsdb-server also listen on its tunnel address, port port (after
// AttachUnderlay), now and after restarts, and returns the tcp: endpoint, reachable from the
// nodes over the underlay, as a real switch's management address would be.
func (v *VTEP) ListenTCP(t T, port int) string {
	t.Helper()
	if !v.TunnelIP.IsValid() {
		t.Fatalf("testbed: ListenTCP on %s before AttachUnderlay", v.Name)
	}
	hostPort := netip.AddrPortFrom(v.TunnelIP, uint16(port))
	v.remote = fmt.Sprintf("ptcp:%d:%s", port, v.TunnelIP)
	must(t)(v.tool("ovs-appctl", "-t", v.path("ovsdb-server.ctl"), "ovsdb-server/add-remote", v.remote))
	return "tcp:" + hostPort.String()
}

// DBEndpoint is the switch's OVSDB endpoint (serving hardware_vtep), a unix socket in RunDir.
func (v *VTEP) DBEndpoint() string { return v.DBSocket() }

// Vtepctl runs vtep-ctl against the switch's database.
func (v *VTEP) Vtepctl(args ...string) (string, error) {
	return v.tool("vtep-ctl", append([]string{"--db=" + v.DBSocket(), "--timeout=10"}, args...)...)
}

// MustVtepctl is Vtepctl that fails the test on error.
func (v *VTEP) MustVtepctl(t T, args ...string) string {
	t.Helper()
	return must(t)(v.Vtepctl(args...))
}

// AttachUnderlay puts the switch on the underlay like a node (tunnel address on br-phy) and
// makes that address the switch's tunnel IP (exactly one: ovs-vtep refuses more).
func (v *VTEP) AttachUnderlay(t T, sw *ToR, swIf, cidr string) netip.Addr {
	t.Helper()
	v.TunnelIP = AttachUnderlay(t, v.Node, sw, swIf, cidr)
	v.MustVtepctl(t, "set", "Physical_Switch", v.Switch, "tunnel_ips="+v.TunnelIP.String())
	return v.TunnelIP
}

// AddSwitchPort gives the switch a physical port, port, cabled to the access bridge as a trunk
// (any VLAN, tagged). ovs-vtep reports the bridge's ports as Physical_Port rows by itself; the
// row is added here too, so it exists before the emulator's first poll.
func (v *VTEP) AddSwitchPort(t T, port string) {
	t.Helper()
	peer := port + "-c"
	Link(t, v.NS, port, v.NS, peer)
	v.AddPort(t, v.Switch, port)
	v.AddPort(t, AccessBridge, peer)
	v.MustVtepctl(t, "--may-exist", "add-port", v.Switch, port)
}

// AddServer creates a bare-metal server: a host namespace whose eth0 sends untagged frames
// that reach the switch's port on VLAN vlan (through an access port of the access bridge). The
// access-side interface is named after the host, which must fit in 15 characters.
func (v *VTEP) AddServer(t T, name string, vlan int, mac, cidr string) *Host {
	t.Helper()
	h := NewHost(t, name, v.Node, name, mac, cidr)
	v.AddPort(t, AccessBridge, name, "tag="+strconv.Itoa(vlan))
	return h
}

// StartEmulator starts ovs-vtep for the switch (after AttachUnderlay: it needs exactly one
// tunnel IP) and waits until it has taken the switch over (its description is set then).
func (v *VTEP) StartEmulator(t T) {
	t.Helper()
	p, err := startProc(v.Name, v.path("ovs-vtep.out"), v.env, []string{SystemPython, OVSVtep,
		"--log-file=" + v.path("ovs-vtep.log"), "--pidfile=" + v.path("ovs-vtep.pid"), v.Switch})
	if err != nil {
		t.Fatalf("testbed: start ovs-vtep on %s: %v", v.Name, err)
	}
	v.vmu.Lock()
	v.vtep = p
	v.vmu.Unlock()
	err = waitFor(readyTimeout, func() error {
		if done, werr := p.Exited(); done {
			return fmt.Errorf("ovs-vtep exited: %v", werr)
		}
		out, err := v.Vtepctl("get", "Physical_Switch", v.Switch, "description")
		if err == nil && !strings.Contains(out, "OVS VTEP Emulator") {
			err = fmt.Errorf("not yet: description %s", strings.TrimSpace(out))
		}
		return err
	})
	if err != nil {
		data, _ := os.ReadFile(v.path("ovs-vtep.out"))
		t.Fatalf("testbed: ovs-vtep on %s did not start: %v\n%s", v.Name, err, tail(string(data), 30))
	}
}

func (v *VTEP) emulator() *Proc {
	v.vmu.Lock()
	defer v.vmu.Unlock()
	return v.vtep
}

// EmulatorDown says why the emulator is not running (it exited), or nil while it runs.
func (v *VTEP) EmulatorDown() error {
	p := v.emulator()
	if p == nil {
		return fmt.Errorf("ovs-vtep on %s was never started", v.Name)
	}
	if done, werr := p.Exited(); done {
		return fmt.Errorf("ovs-vtep on %s exited: %v", v.Name, werr)
	}
	return nil
}

// EmulatorLog returns ovs-vtep's log so far.
func (v *VTEP) EmulatorLog() string {
	data, _ := os.ReadFile(v.path("ovs-vtep.log"))
	return string(data)
}

// WaitVtepctl polls vtep-ctl args until check accepts its output, for the emulator's polled
// changes (a second or two); it fails the test after timeout.
func (v *VTEP) WaitVtepctl(t T, timeout time.Duration, what string, check func(string) bool, args ...string) string {
	t.Helper()
	var out string
	err := waitFor(timeout, func() error {
		var err error
		out, err = v.Vtepctl(args...)
		if err == nil && !check(out) {
			err = fmt.Errorf("not yet:\n%s", out)
		}
		return err
	})
	if err != nil {
		t.Fatalf("testbed: %s on %s: %v", what, v.Name, err)
	}
	return out
}

func (v *VTEP) logTailIfFailed(t T) {
	if !failed(t) {
		return
	}
	for _, file := range []string{"ovs-vtep.log", "ovs-vtep.out"} {
		if data, err := os.ReadFile(v.path(file)); err == nil && len(data) > 0 {
			t.Logf("testbed: %s %s (tail):\n%s", v.Name, file, tail(string(data), 40))
		}
	}
}

package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/ovsdb/configdb"
)

// Hosts share one subnet across VLANs on purpose: only VLAN separation
// keeps the VLAN 20 host away.
const (
	mac1 = "02:00:00:00:0a:01"
	mac2 = "02:00:00:00:0a:02"
	mac3 = "02:00:00:00:14:03"
)

func TestToRAccessPorts(t *testing.T) {
	Require(t)
	tor := NewToR(t, "tor")
	h1 := tor.AddHost(t, "h1", 10, mac1, "10.0.10.1/24")
	h2 := tor.AddHost(t, "h2", 10, mac2, "10.0.10.2/24")
	h3 := tor.AddHost(t, "h3", 20, mac3, "10.0.10.3/24")

	if h1.MAC != mac1 || h1.IP != "10.0.10.1" {
		t.Fatalf("h1 = %s %s, want %s 10.0.10.1", h1.MAC, h1.IP, mac1)
	}
	h1.MustPing(t, h2.IP)
	h2.MustPing(t, h1.IP)
	h1.MustTCP(t, h2, 5001)
	h3.MustNotPing(t, h1.IP)

	// Bridge names resolve to RunDir's mgmt socket, and with no controller
	// the bridge's only flow is NORMAL.
	if flows := tor.MustOfctl(t, "dump-flows", ToRBridge); !strings.Contains(flows, "actions=NORMAL") {
		t.Fatalf("tor flows lack NORMAL:\n%s", flows)
	}
	if out := tor.MustVsctl(t, "get", "bridge", ToRBridge, "datapath_type"); strings.TrimSpace(out) != "netdev" {
		t.Fatalf("datapath_type = %q", out)
	}
}

func TestTrunkToNode(t *testing.T) {
	Require(t)
	tor := NewToR(t, "tor")
	gw := NewNode(t, "gw")
	gw.AddBridge(t, "br0", "fail_mode=standalone")
	Link(t, tor.NS, "trunk0", gw.NS, "uplink0")
	tor.TrunkPort(t, "trunk0")
	gw.AddPort(t, "br0", "uplink0")

	h1 := tor.AddHost(t, "h1", 10, mac1, "10.0.10.1/24")
	h3 := tor.AddHost(t, "h3", 20, mac3, "10.0.10.3/24")
	h2 := NewHost(t, "h2", gw, "h2", mac2, "10.0.10.2/24")
	gw.AddPort(t, "br0", "h2", "tag=10")

	h1.MustPing(t, h2.IP)
	h2.MustPing(t, h1.IP)
	h2.MustTCP(t, h1, 5002)
	h3.MustNotPing(t, h2.IP)

	// br0 learned h1 in VLAN 10 on the untagged-config uplink: the VLAN can
	// only have come from the 802.1Q tag the ToR put on the trunk.
	ofport := strings.TrimSpace(gw.MustVsctl(t, "get", "interface", "uplink0", "ofport"))
	fdb := gw.MustAppctl(t, "fdb/show", "br0")
	learned := regexp.MustCompile(`(?m)^\s*` + ofport + `\s+10\s+` + mac1 + `\s`)
	if !learned.MatchString(fdb) {
		t.Fatalf("br0 did not learn %s in VLAN 10 on port %s:\n%s", mac1, ofport, fdb)
	}
}

func TestRestartDaemons(t *testing.T) {
	Require(t)
	tor := NewToR(t, "tor")
	h1 := tor.AddHost(t, "h1", 10, mac1, "10.0.10.1/24")
	h2 := tor.AddHost(t, "h2", 10, mac2, "10.0.10.2/24")
	h1.MustPing(t, h2.IP)

	tor.StopVswitchd(t)
	h1.MustNotPing(t, h2.IP)
	tor.StartVswitchd(t)
	h1.MustPing(t, h2.IP)

	// A crash: no chance to clean up pidfile or sockets.
	if err := tor.Vswitchd().Kill(); err != nil {
		t.Fatal(err)
	}
	tor.StartVswitchd(t)
	h1.MustPing(t, h2.IP)

	// A database restart: ovs-vswitchd reconnects and forwards again (the
	// netdev datapath forwards nothing while the database is down, see
	// StopDB), and takes new configuration.
	tor.StopDB(t)
	tor.StartDB(t)
	h1.MustPing(t, h2.IP)
	tor.MustVsctl(t, "set", "port", "h1", "tag=20")
	h1.MustNotPing(t, h2.IP)
}

func TestCleanupLeavesNothing(t *testing.T) {
	Require(t)
	var (
		namespaces, dirs []string
		procs            []*Proc
	)
	ok := t.Run("testbed", func(t *testing.T) {
		tor := NewToR(t, "tor")
		gw := NewNode(t, "gw")
		h1 := tor.AddHost(t, "h1", 10, "", "10.0.10.1/24")
		h2 := tor.AddHost(t, "h2", 10, "", "10.0.10.2/24")
		h1.MustPing(t, h2.IP)
		sleeper := h2.Start(t, "", nil, "sleep", "600")
		// ip netns exec execs the program, so our pid is the daemon's own.
		pidfile, err := os.ReadFile(tor.RunDir + "/ovs-vswitchd.pid")
		if err != nil || strings.TrimSpace(string(pidfile)) != strconv.Itoa(tor.Vswitchd().Pid) {
			t.Errorf("pidfile says %q (%v), we started pid %d", pidfile, err, tor.Vswitchd().Pid)
		}
		namespaces = []string{tor.Name, gw.Name, h1.Name, h2.Name}
		dirs = []string{tor.RunDir, gw.RunDir}
		procs = []*Proc{tor.DB(), tor.Vswitchd(), gw.DB(), gw.Vswitchd(), sleeper}
		for _, name := range namespaces {
			if !strings.HasPrefix(name, Prefix()) {
				t.Errorf("namespace %q lacks prefix %q", name, Prefix())
			}
		}
		// Nothing is ever created in the root namespace.
		rootLacks(t, "h1", "h2", "trunk0", "uplink0", "tor")
	})
	if !ok {
		t.Fatal("sub-test failed")
	}

	list, err := run(cmdTimeout, nil, bin("ip"), "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(list, "\n") {
		// "name" or "name (id: N)"
		if name, _, _ := strings.Cut(line, " "); slices.Contains(namespaces, name) {
			t.Errorf("namespace %s left behind", name)
		}
	}
	for _, p := range procs {
		if err := syscall.Kill(p.Pid, 0); !errors.Is(err, syscall.ESRCH) {
			cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(p.Pid) + "/cmdline")
			// A reused pid is not ours; one still running our program is.
			if strings.Contains(string(cmdline), p.Args[0]) {
				t.Errorf("pid %d (%s) still running", p.Pid, p.Args[0])
			}
		}
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("run dir %s left behind (stat: %v)", d, err)
		}
	}
}

// rootLacks fails if the root namespace has an interface with one of the
// given names (ip -o link prints "N: name[@peer]: ...").
func rootLacks(t *testing.T, names ...string) {
	t.Helper()
	out, err := run(cmdTimeout, nil, bin("ip"), "-o", "link", "show")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		for _, n := range names {
			if name == n {
				t.Errorf("root namespace has interface %s", name)
			}
		}
	}
}

func TestProcStop(t *testing.T) {
	Require(t)
	ns := NewNS(t, "proc")
	p := ns.Start(t, "", nil, "sleep", "600")
	if done, _ := p.Exited(); done {
		t.Fatal("sleep exited at once")
	}
	// ip netns exec execs, so the pid we hold becomes sleep itself (right
	// after Start it may still be ip, setting up the namespace).
	err := waitFor(2*time.Second, func() error {
		comm, _ := os.ReadFile("/proc/" + strconv.Itoa(p.Pid) + "/comm")
		if c := strings.TrimSpace(string(comm)); c != "sleep" {
			return fmt.Errorf("pid %d is %q, want sleep", p.Pid, c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil { // idempotent
		t.Fatal(err)
	}
	if done, _ := p.Exited(); !done || time.Since(start) > stopGrace {
		t.Fatalf("sleep not stopped promptly by SIGTERM (done=%v after %v)", done, time.Since(start))
	}
}

func TestConfigDBServesAndGoes(t *testing.T) {
	Require(t)
	var db *ConfigDB
	ok := t.Run("configdb", func(t *testing.T) {
		ns := NewNS(t, "cfgdb")
		db = NewConfigDB(t, ns, "../../schemas/gateway.ovsschema")
		if !strings.HasPrefix(db.Endpoint, "unix:"+db.Dir+"/") {
			t.Errorf("endpoint %s is not a unix socket in %s", db.Endpoint, db.Dir)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := configdb.Connect(ctx, []string{db.Endpoint})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.PublishNode(ctx, configdb.NodeState{Hostname: "n1"}); err != nil {
			t.Fatal(err)
		}
		if nodes := c.Nodes(); len(nodes) != 1 || nodes[0].Hostname != "n1" {
			t.Errorf("nodes %+v, want n1", nodes)
		}
	})
	if !ok {
		t.Fatal("sub-test failed")
	}
	if done, _ := db.Proc.Exited(); !done {
		t.Errorf("config DB server pid %d still running", db.Proc.Pid)
	}
	if _, err := os.Stat(db.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("config DB dir %s left behind (stat: %v)", db.Dir, err)
	}
}

func TestAgentConfigDir(t *testing.T) {
	Require(t)
	node := &Node{NS: &NS{Name: "unused"}, RunDir: t.TempDir()}
	a := PrepareAgent(t, "/bin/false", node, AgentOptions{Hostname: "gw1", ConfigDir: true}, "")
	conf, err := os.ReadFile(a.Conf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), "file = "+a.ConfigDir+"\n") {
		t.Errorf("INI does not name the directory %s:\n%s", a.ConfigDir, conf)
	}
	if entries, _ := os.ReadDir(a.ConfigDir); len(entries) != 0 {
		t.Errorf("an empty YAML wrote %d files", len(entries))
	}
	a.WriteConfigFile(t, "r1.yaml", "virtualNetworks: []\n")
	a.WriteConfig(t, "virtualNetworks: []\n")
	a.RemoveConfigFile(t, "r1.yaml")
	entries, _ := os.ReadDir(a.ConfigDir)
	if len(entries) != 1 || entries[0].Name() != "gateway.yaml" {
		t.Errorf("directory holds %v, want gateway.yaml alone", entries)
	}
}

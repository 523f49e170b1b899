package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/configstore"
	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/test/lab"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// Timing of the cluster tests.
const (
	// clusterReady bounds the wait for the first leader: the election timer
	// (1 s, randomised to 2 s) once two members are up.
	clusterReady = 20 * time.Second
	// failoverBound is what "within a few seconds" means after the leader
	// is disrupted: an election (1-2 s), plus for a hung leader the
	// client's probe (up to 4 s), plus its retry backoff (at most 2 s).
	// Measured here: see the test log.
	failoverBound = 10 * time.Second
	// memberStopGrace is how long a member may take to exit on SIGTERM.
	memberStopGrace = 5 * time.Second
)

// raftMember is one ovsdb-server of the cluster, a child of the test process.
type raftMember struct {
	remote string // client address, tcp:127.0.0.1:PORT
	unix   string // client address, unix:PATH: reachable from inside the nodes' namespaces
	ctl    string // unixctl socket
	cmd    *exec.Cmd
	done   chan struct{}
}

// raftCluster is a 3-member Raft cluster of the OVSGW schema, listening only
// on 127.0.0.1 (clients and Raft) on ports free at test time.
type raftCluster struct {
	dir     string
	members []*raftMember
}

// unixEndpoints lists the members' unix sockets, for agents inside network namespaces (where
// the root namespace's loopback is out of reach).
func (c *raftCluster) unixEndpoints() string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.unix)
	}
	return strings.Join(eps, ",")
}

func (c *raftCluster) endpoints() string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.remote)
	}
	return strings.Join(eps, ",")
}

// ovsProgram finds an OVS program, also in the sbin directories a non-login PATH lacks.
func ovsProgram(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name)
		}
	}
	t.Fatalf("%s not found: install openvswitch-switch (%s)", name, testbed.InstallHint)
	return ""
}

// freeLoopbackPorts returns n TCP ports free on 127.0.0.1 right now.
func freeLoopbackPorts(t testing.TB, n int) []int {
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

// mustRunTool runs a program to completion and fails the test on error.
func mustRunTool(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// startCluster creates and starts the cluster as scripts/cluster.sh does, but
// without its TLS (TestConfigDBOverMutualTLS has that), with child processes
// stopped by their pid at cleanup.
func startCluster(t testing.TB) *raftCluster {
	t.Helper()
	schema, err := filepath.Abs("../../schemas/gateway.ovsschema")
	if err != nil {
		t.Fatal(err)
	}
	return startClusterWith(t, schema)
}

// startClusterWith is startCluster with the database created from schema (a path).
func startClusterWith(t testing.TB, schema string) *raftCluster {
	t.Helper()
	testbed.Require(t)
	// Not t.TempDir: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "ovsgw-raft-")
	if err != nil {
		t.Fatal(err)
	}
	c := &raftCluster{dir: dir}
	t.Cleanup(func() {
		if t.Failed() {
			for i := range c.members {
				data, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("s%d.log", i+1)))
				t.Logf("member %d log:\n%s", i+1, data)
			}
		}
		os.RemoveAll(dir)
	})
	ports := freeLoopbackPorts(t, 6)
	raft := func(i int) string { return fmt.Sprintf("tcp:127.0.0.1:%d", ports[3+i]) }
	tool, server := ovsProgram(t, "ovsdb-tool"), ovsProgram(t, "ovsdb-server")
	for i := range 3 {
		db := filepath.Join(dir, fmt.Sprintf("s%d.db", i+1))
		if i == 0 {
			mustRunTool(t, tool, "create-cluster", db, schema, raft(0))
		} else {
			mustRunTool(t, tool, "join-cluster", db, configdb.DatabaseName, raft(i), raft(0))
		}
		m := &raftMember{
			remote: fmt.Sprintf("tcp:127.0.0.1:%d", ports[i]),
			unix:   "unix:" + filepath.Join(dir, fmt.Sprintf("s%d.sock", i+1)),
			ctl:    filepath.Join(dir, fmt.Sprintf("s%d.ctl", i+1)),
			done:   make(chan struct{}),
		}
		m.cmd = exec.Command(server, db, "--remote=ptcp:"+strconv.Itoa(ports[i])+":127.0.0.1", "--remote=p"+m.unix,
			"--unixctl="+m.ctl, "--log-file="+filepath.Join(dir, fmt.Sprintf("s%d.log", i+1)), "-vconsole:off")
		// The members must not outlive a test binary that dies without cleanup.
		m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := m.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = m.cmd.Wait(); close(m.done) }()
		t.Cleanup(func() { m.stop(t) })
		c.members = append(c.members, m)
	}
	deadline := time.Now().Add(clusterReady)
	for c.leader(t) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no leader after %v", clusterReady)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Every member must have completed joining: a member still joining counts for no
	// majority, and a leader stopped before then would leave the cluster without one.
	for i, m := range c.members {
		for m.clusterStatus(t) != "cluster member" {
			if time.Now().After(deadline) {
				t.Fatalf("member %d has not joined the cluster after %v (status %q)", i+1, clusterReady, m.clusterStatus(t))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return c
}

// stop ends the member by its process handle (a pidfd: a reused pid is never hit).
func (m *raftMember) stop(t testing.TB) {
	select {
	case <-m.done:
		return
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGCONT) // a stopped member would not act on SIGTERM
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(memberStopGrace):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

// role is the member's Raft role as `ovs-appctl cluster/status` prints it;
// "" when it does not answer within a second (it may be stopped).
func (m *raftMember) role(t testing.TB) string { return m.statusLine(t, "Role: ") }

// clusterStatus is the member's membership as cluster/status prints it ("cluster member",
// "joining cluster", …); "" when it does not answer within a second.
func (m *raftMember) clusterStatus(t testing.TB) string { return m.statusLine(t, "Status: ") }

// statusLine is the rest of the cluster/status line that starts with prefix.
func (m *raftMember) statusLine(t testing.TB, prefix string) string {
	out, err := exec.Command(ovsProgram(t, "ovs-appctl"), "--timeout=1", "-t", m.ctl, "cluster/status", configdb.DatabaseName).CombinedOutput()
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

func (c *raftCluster) leader(t testing.TB) *raftMember {
	for _, m := range c.members {
		if m.role(t) == "leader" {
			return m
		}
	}
	return nil
}

// ovsgwCLI runs the CLI and returns its combined output and error.
func ovsgwCLI(args ...string) (string, error) {
	out, err := exec.Command(ovsgwBin, args...).CombinedOutput()
	return string(out), err
}

// writeClusterFile writes a file into the cluster's run directory.
func writeClusterFile(t testing.TB, dir, name, yaml string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitClientConfig waits, re-reading after each Changed signal, until the client's
// config satisfies ok, and returns when that happened.
func waitClientConfig(t testing.TB, c *configdb.Client, within time.Duration, what string, ok func(*model.Config) bool) time.Time {
	t.Helper()
	deadline := time.After(within)
	store := configstore.New(c)
	for {
		if cfg, err := store.Config(); err == nil && ok(cfg) {
			return time.Now()
		}
		select {
		case <-c.Changed():
		case <-time.After(50 * time.Millisecond): // Changed is coalesced; re-check anyway
		case <-deadline:
			cfg, err := store.Config()
			t.Fatalf("client did not see %s within %v; it has %+v (%v)", what, within, cfg, err)
		}
	}
}

func vmiMAC(cfg *model.Config, name string) string {
	for _, v := range cfg.VirtualMachineInterfaces {
		if v.Name == name {
			return v.MAC
		}
	}
	return ""
}

// failover applies, through the CLI with every member listed, a config in
// which bms1 has MAC mac, right after disrupt (nil: none); then waits until
// the client (connected before) sees it, and until it is on the leader, a
// new one after a disruption. It logs how long each took.
func failover(t testing.TB, cl *raftCluster, client *configdb.Client, what, mac string, disrupt func(old *raftMember)) {
	t.Helper()
	old := cl.leader(t)
	moves := client.LeaderChanges() // what ovsgw_configdb_leader_changes_total reports
	if disrupt != nil {
		disrupt(old)
	}
	start := time.Now()
	file := writeClusterFile(t, cl.dir, strings.ReplaceAll(mac, ":", "")+".yaml", strings.Replace(lab.GatewayYAML, "02:00:00:00:01:0a", mac, 1))
	out, err := ovsgwCLI("db", "apply", "-f", file, "--db", cl.endpoints())
	applied := time.Since(start)
	if err != nil || !strings.Contains(out, "change  virtual-machine-interface bms1: mac\n") {
		t.Fatalf("%s: db apply: %v\n%s", what, err, out)
	}
	seen := waitClientConfig(t, client, failoverBound, what, func(c *model.Config) bool { return vmiMAC(c, "bms1") == mac }).Sub(start)
	deadline := time.Now().Add(failoverBound)
	for {
		l := cl.leader(t)
		if l != nil && (l != old || disrupt == nil) && client.Endpoint() == l.remote {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the client is on %q, not on the new leader %+v", what, client.Endpoint(), l)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := client.LeaderChanges(); disrupt != nil && got <= moves {
		t.Errorf("%s: the client moved to the new leader, but counts %d leader changes, as before", what, got)
	}
	t.Logf("measured: %s → CLI apply done %v, client connected before sees it %v, and is on the new leader %v",
		what, applied.Round(time.Millisecond), seen.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// The config DB on a real 3-member ovsdb-server Raft cluster: the CLI writes
// and shows it, a client follows it, and both survive the leader stepping
// down, hanging, and dying.
func TestConfigDBRaftCluster(t *testing.T) {
	cl := startCluster(t)
	eps := cl.endpoints()
	cfg1 := writeClusterFile(t, cl.dir, "gw1.yaml", lab.GatewayYAML)

	out, err := ovsgwCLI("db", "apply", "-f", cfg1, "--db", eps)
	if err != nil || !strings.Contains(out, "add     virtual-machine-interface bms1\n") || !strings.Contains(out, "config generation 1") {
		t.Fatalf("db apply: %v\n%s", err, out)
	}
	if out, err := ovsgwCLI("db", "apply", "-f", cfg1, "--db", eps); err != nil || !strings.Contains(out, "no change (config generation 1)") {
		t.Errorf("second db apply of the same config: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), clusterReady)
	defer cancel()
	client, err := configdb.Connect(ctx, strings.Split(eps, ","))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if leader := cl.leader(t); client.Endpoint() != leader.remote {
		t.Errorf("client connected to %s, the leader is %s: WithLeaderOnly did not pick the leader", client.Endpoint(), leader.remote)
	}
	want, err := model.Parse([]byte(lab.GatewayYAML))
	if err != nil {
		t.Fatal(err)
	}
	configstore.Normalize(want)
	if got, err := configstore.New(client).Config(); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("client config %+v (%v), want %+v", got, err, want)
	}

	// State published by an agent shows in db show, with the config.
	if err := client.PublishNode(ctx, configdb.NodeState{Hostname: "gw1", TunnelIP: "192.0.2.1", GatewayMode: true,
		InterfacesUsed: 6, InterfacesLimit: model.DefaultMaxInterfaces}); err != nil {
		t.Fatal(err)
	}
	if err := client.PublishBindings(ctx, "gw1", []configdb.BindingState{
		{VMI: "bms1", Kind: configdb.BindingRemote, PhysicalInterface: "eth1", VLAN: 100, Role: configdb.RoleActive},
		{VMI: "vm1", Kind: configdb.BindingLocal, Port: "tap-vm1", Role: configdb.RoleActive},
	}); err != nil {
		t.Fatal(err)
	}
	out, err = ovsgwCLI("db", "show", "--db", eps)
	for _, w := range []string{"config generation 1: 2 virtual networks, 1 physical routers, 4 virtual machine interfaces",
		"gw1   192.0.2.1  server", "6/4352", "bms1  blue     02:00:00:00:01:0a  gw1 eth1 vlan 100 (active)",
		"bms2  blue     02:00:00:00:01:0b  not bound", "vm1   blue     02:00:00:00:02:01  gw1 port tap-vm1 (active)"} {
		if err != nil || !strings.Contains(out, w) {
			t.Errorf("db show lacks %q: %v\n%s", w, err, out)
		}
	}

	// The client follows changes written by the CLI, also when the leader
	// steps down, hangs (no RST, no _Server update: only a probe finds it)
	// or dies.
	failover(t, cl, client, "no disruption", "02:00:00:00:01:a1", nil)
	failover(t, cl, client, "leader steps down", "02:00:00:00:01:a2", func(old *raftMember) {
		mustRunTool(t, ovsProgram(t, "ovs-appctl"), "-t", old.ctl, "cluster/failure-test", "transfer-leadership")
	})
	var hung *raftMember
	failover(t, cl, client, "leader hangs (SIGSTOP)", "02:00:00:00:01:a3", func(old *raftMember) {
		hung = old
		if err := old.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	})
	if err := hung.cmd.Process.Signal(syscall.SIGCONT); err != nil { // back as a follower: a majority again for the next
		t.Fatal(err)
	}
	waitUntilRole(t, hung, "follower")
	failover(t, cl, client, "leader killed (SIGKILL)", "02:00:00:00:01:a4", func(old *raftMember) {
		if err := old.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-old.done
	})
	gen, err := client.Generation()
	if err != nil || gen != 5 {
		t.Fatalf("generation %d (%v) after four changes, want 5", gen, err)
	}

	// A refused config writes nothing and prints what ovsgw validate prints.
	bad := writeClusterFile(t, cl.dir, "bad.yaml", strings.Replace(strings.Replace(lab.GatewayYAML, "vlan: 100", "vlan: 5000", 1),
		"02:00:00:00:01:0b", "03:00:00:00:01:0b", 1))
	refused, err := ovsgwCLI("db", "apply", "-f", bad, "--db", eps)
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("db apply of an invalid config: %v, want a non-zero exit\n%s", err, refused)
	}
	validated, _ := ovsgwCLI("validate", "-f", bad)
	if refused != validated || !strings.Contains(refused, "2 errors:") {
		t.Errorf("db apply's errors differ from validate's:\n%s\nvalidate:\n%s", refused, validated)
	}
	time.Sleep(200 * time.Millisecond) // a write, had there been one, would have reached the client by now
	if g, err := client.Generation(); err != nil || g != gen {
		t.Errorf("generation %d (%v) after a refused config, want %d", g, err, gen)
	}
	if out, err := ovsgwCLI("db", "show", "--db", eps); err != nil || !strings.Contains(out, fmt.Sprintf("config generation %d:", gen)) ||
		!strings.Contains(out, "02:00:00:00:01:a4") {
		t.Errorf("db show after a refused config: %v\n%s", err, out)
	}
}

func waitUntilRole(t testing.TB, m *raftMember, role string) {
	t.Helper()
	deadline := time.Now().Add(clusterReady)
	for m.role(t) != role {
		if time.Now().After(deadline) {
			t.Fatalf("member %s is %q, not %s, after %v", m.remote, m.role(t), role, clusterReady)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

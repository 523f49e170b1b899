package ovsdb

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/test/testbed"
)

// ovsWait bounds waits on the real daemons: ovs-vswitchd assigns ofports
// and link states asynchronously, and after an ovsdb-server restart the
// client's reconnect backoff (at most reconnectMaxInterval) comes on top.
const ovsWait = 20 * time.Second

// waitIface waits, re-reading after each Changed signal, until bridge has
// an interface name that satisfies ok, and returns it.
func waitIface(t *testing.T, c *Client, bridge, name string, ok func(Interface) bool) Interface {
	t.Helper()
	deadline := time.After(ovsWait)
	var last []Interface
	for {
		last = c.Interfaces(bridge)
		for _, i := range last {
			if i.Name == name && ok(i) {
				return i
			}
		}
		select {
		case <-c.Changed():
		case <-time.After(100 * time.Millisecond): // Changed is coalesced; re-check anyway
		case <-deadline:
			t.Fatalf("interface %s on %s not as expected; have %+v", name, bridge, last)
		}
	}
}

// connectNode connects to a fresh testbed node (ovsdb-server and
// ovs-vswitchd in their own namespace). Missing OVS fails the test.
func connectNode(t *testing.T) (*testbed.Node, *Client) {
	t.Helper()
	testbed.Require(t)
	node := testbed.NewNode(t, "ovsdb")
	ctx, cancel := context.WithTimeout(context.Background(), ovsWait)
	defer cancel()
	c, err := Connect(ctx, node.DBSocket())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return node, c
}

func TestIntegrationBridgeOnRealOVS(t *testing.T) {
	node, c := connectNode(t)
	// The "physical" NIC: one end of a veth pair inside the node's namespace.
	node.MustExec(t, "ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1-peer")
	node.MustExec(t, "ip", "link", "set", "eth1", "up")
	node.MustExec(t, "ip", "link", "set", "eth1-peer", "up")
	spec := BridgeSpec{Name: "br-int", DatapathType: "netdev", Ports: []string{"eth1"}}
	ctx, cancel := context.WithTimeout(context.Background(), ovsWait)
	defer cancel()

	if err := c.EnsureBridge(ctx, spec); err != nil {
		t.Fatal(err)
	}
	eth1 := waitIface(t, c, "br-int", "eth1", func(i Interface) bool { return i.OFPort > 0 && i.LinkState == "up" })
	if !eth1.Owned || eth1.Port != "eth1" {
		t.Errorf("eth1 = %+v, want owned, on port eth1", eth1)
	}
	for col, want := range map[string]string{"fail_mode": "secure", "protocols": "[OpenFlow13]",
		"datapath_type": "netdev", "other_config:disable-in-band": `"true"`} {
		if got := strings.TrimSpace(node.MustVsctl(t, "get", "Bridge", "br-int", col)); got != want {
			t.Errorf("br-int %s = %s, want %s", col, got, want)
		}
	}

	// ovs-vswitchd has since written ofports, states and statuses; none of
	// that may make a repeated call write.
	before := c.transactions.Load()
	if err := c.EnsureBridge(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if n := c.transactions.Load() - before; n != 0 {
		t.Errorf("repeated EnsureBridge sent %d transactions, want 0", n)
	}

	// A VM port plugged by someone else.
	select {
	case <-c.Changed():
	default:
	}
	node.MustVsctl(t, "add-port", "br-int", "tap-vm1", "--", "set", "Interface", "tap-vm1",
		"type=internal", "external_ids:iface-id=vm1")
	select {
	case <-c.Changed():
	case <-time.After(ovsWait):
		t.Fatal("Changed did not fire after ovs-vsctl add-port")
	}
	vm := waitIface(t, c, "br-int", "tap-vm1", func(i Interface) bool { return i.OFPort > 0 })
	if vm.IfaceID != "vm1" || vm.Owned {
		t.Errorf("tap-vm1 = %+v, want IfaceID vm1, not owned", vm)
	}

	// Dropping the NIC from the spec removes it and leaves the VM port.
	if err := c.EnsureBridge(ctx, BridgeSpec{Name: "br-int", DatapathType: "netdev"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(node.MustVsctl(t, "list-ports", "br-int")); len(got) != 1 || got[0] != "tap-vm1" {
		t.Errorf("ports after dropping eth1 = %v, want [tap-vm1]", got)
	}
}

func TestIntegrationReconnectsAfterDBRestart(t *testing.T) {
	node, c := connectNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), ovsWait)
	defer cancel()
	if err := c.EnsureBridge(ctx, BridgeSpec{Name: "br-int", DatapathType: "netdev"}); err != nil {
		t.Fatal(err)
	}

	node.StopDB(t)
	waitUntil(t, ovsWait, "client notices the lost connection", func() bool { return !c.Connected() })
	select {
	case <-c.Changed():
	default:
	}
	node.StartDB(t)

	select {
	case <-c.Changed():
	case <-time.After(ovsWait):
		t.Fatal("Changed did not fire after the reconnect")
	}
	waitUntil(t, ovsWait, "client reconnects", c.Connected)
	waitIface(t, c, "br-int", "br-int", func(i Interface) bool { return i.Owned })
	before := c.transactions.Load()
	if err := c.EnsureBridge(ctx, BridgeSpec{Name: "br-int", DatapathType: "netdev"}); err != nil {
		t.Fatal(err)
	}
	if n := c.transactions.Load() - before; n != 0 {
		t.Errorf("EnsureBridge after reconnect sent %d transactions, want 0", n)
	}
}

// TestIntegrationAdoptedBridgeKeepsItsSettings: on a real ovs-vswitchd, a bridge someone else
// made (standalone, OpenFlow 1.0 and 1.4 only, with a flow of theirs) gets OpenFlow13 added to
// its protocols and keeps the others, its fail mode and its flows (changing the fail mode would
// have made ovs-vswitchd delete them); the fail mode is reported.
func TestIntegrationAdoptedBridgeKeepsItsSettings(t *testing.T) {
	node, c := connectNode(t)
	node.AddBridge(t, "br-int", "fail_mode=standalone", "protocols=OpenFlow10,OpenFlow14")
	theirs := "cookie=0xbad,table=0,priority=77,in_port=LOCAL,actions=drop"
	node.MustExec(t, "ovs-ofctl", "-O", "OpenFlow14", "add-flow", node.MgmtSocket("br-int"), theirs)
	ctx, cancel := context.WithTimeout(context.Background(), ovsWait)
	defer cancel()
	if err := c.EnsureBridge(ctx, BridgeSpec{Name: "br-int", DatapathType: "netdev"}); err != nil {
		t.Fatal(err)
	}
	for col, want := range map[string]string{"fail_mode": "standalone", "protocols": "[OpenFlow10, OpenFlow13, OpenFlow14]"} {
		if got := strings.TrimSpace(node.MustVsctl(t, "get", "Bridge", "br-int", col)); got != want {
			t.Errorf("br-int %s = %s, want %s", col, got, want)
		}
	}
	// OpenFlow 1.3 now works, and the bridge's flows are as they were: theirs and the NORMAL
	// flow ovs-vswitchd keeps in standalone mode.
	flows := node.MustOfctl(t, "dump-flows", "br-int")
	if !strings.Contains(flows, "cookie=0xbad,") || !strings.Contains(flows, "priority=77") || !strings.Contains(flows, "actions=NORMAL") {
		t.Errorf("flows of the adopted bridge changed:\n%s", flows)
	}
	notices := c.BridgeNotices("br-int")
	if len(notices) != 1 || !strings.Contains(notices[0], `bridge "br-int": fail_mode is standalone, not secure`) {
		t.Errorf("notices %q, want one about fail_mode", notices)
	}
	// Set secure by its owner: no notice any more, and ovsgw leaves that too.
	node.MustVsctl(t, "set-fail-mode", "br-int", "secure")
	waitUntil(t, ovsWait, "the cache shows fail_mode secure", func() bool { return len(c.BridgeNotices("br-int")) == 0 })
	before := c.transactions.Load()
	if err := c.EnsureBridge(ctx, BridgeSpec{Name: "br-int", DatapathType: "netdev"}); err != nil {
		t.Fatal(err)
	}
	if n := c.transactions.Load() - before; n != 0 {
		t.Errorf("EnsureBridge sent %d transactions to a settled bridge", n)
	}
}

package testbed

import "net/netip"

// PhysBridge is the bridge that holds a node's uplink and its tunnel address. The userspace
// datapath sends VXLAN through an OVS bridge: the tunnel address lives on that bridge's
// internal port, as in OVS-DPDK deployments.
const PhysBridge = "br-phy"

// AttachUnderlay links node to the underlay switch sw (a ToR's learning bridge) through the
// switch port swIf, and gives the node the tunnel address cidr on br-phy, inside its namespace.
func AttachUnderlay(t T, node *Node, sw *ToR, swIf, cidr string) netip.Addr {
	t.Helper()
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		t.Fatalf("testbed: underlay address %q: %v", cidr, err)
	}
	Link(t, node.NS, "ul0", sw.NS, swIf)
	sw.AddPort(t, ToRBridge, swIf)
	node.AddBridge(t, PhysBridge, "fail_mode=standalone")
	node.AddPort(t, PhysBridge, "ul0")
	node.MustExec(t, "ip", "addr", "add", cidr, "dev", PhysBridge)
	node.MustExec(t, "ip", "link", "set", PhysBridge, "up")
	return p.Addr()
}

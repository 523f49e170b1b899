package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/test/lab"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// routingYAML is the one-gateway lab with a logical router: blue (bms1, a remote instance, and
// vm1, a local VM) and red (bms3, a remote instance) on router r1, each with an IPv4 and an IPv6
// subnet; green (the stranger, now on VLAN 300) reuses red's IPv4 subnet on no router. vm1
// admits only pings and the replies of its own connections: the replies of a routed
// connection come back from the other VN, and must meet the connection in one conntrack zone.
// policies, if any, go into both blue and red.
func routingYAML(policies string) string {
	attach := ""
	if policies != "" {
		attach = ", networkPolicies: [pair]"
	}
	return `
virtualNetworks:
  - {name: blue, vni: 5001, subnets: ["10.1.0.0/24", "2001:db8:1::/64"]` + attach + `}
  - {name: red, vni: 5002, subnets: ["10.2.0.0/24", "2001:db8:2::/64"]` + attach + `}
  - {name: green, vni: 5003, subnets: ["10.2.0.0/24"]}
logicalRouters:
  - {name: r1, networks: [blue, red]}
physicalRouters:
  - name: gw1
    physicalInterfaces:
      - name: eth1
        logicalInterfaces:
          - {name: eth1-100, vlan: 100, vmi: bms1}
          - {name: eth1-200, vlan: 200, vmi: bms3}
          - {name: eth1-300, vlan: 300, vmi: stranger}
virtualMachineInterfaces:
  - {name: bms1, network: blue, mac: "02:00:00:00:01:0a", instanceIPs: [{address: 10.1.0.10}, {address: "2001:db8:1::10"}]}
  - {name: vm1, network: blue, mac: "02:00:00:00:02:01", instanceIPs: [{address: 10.1.0.20}, {address: "2001:db8:1::20"}], securityGroups: [client]}
  - {name: bms3, network: red, mac: "02:00:00:00:01:0c", instanceIPs: [{address: 10.2.0.30}, {address: "2001:db8:2::30"}]}
  - {name: stranger, network: green, mac: "02:00:00:00:01:0f", instanceIPs: [{address: 10.2.0.40}]}
securityGroups:
  - name: client
    rules:
      - {direction: egress}
      - {direction: egress, ethertype: IPv6}
      - {direction: ingress, protocol: icmp}
      - {direction: ingress, ethertype: IPv6, protocol: icmpv6}
` + policies
}

// pairPolicy denies all traffic between blue and red, both ways (attached to both VNs).
const pairPolicy = `networkPolicies:
  - name: pair
    rules:
      - {action: deny, source: {network: blue}, destination: {network: red}, direction: "<>"}
`

// readdress gives a lab host new addresses and routes: IPv4 cidr with its default gateway, and,
// if v6 is given, an IPv6 address with a route to 2001:db8::/32 through the subnet's gateway
// (gw6), whose router MAC is a static neighbour entry (the gateway's neighbour advertisements
// are not there yet; routing does not depend on them). The host takes no router advertisements:
// the node's (SLAAC) would give it an address of the EUI-64 of its MAC, not its instance IP,
// which port security drops, and the kernel may pick it as the source of a ping.
func readdress(t *testing.T, h *testbed.Host, cidr, gw, v6, gw6 string) {
	t.Helper()
	h.MustExec(t, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=0")
	h.MustExec(t, "ip", "addr", "flush", "dev", "eth0", "scope", "global")
	h.MustExec(t, "ip", "addr", "add", cidr, "dev", "eth0")
	h.MustExec(t, "ip", "route", "replace", "default", "via", gw)
	h.IP, h.CIDR = strings.Split(cidr, "/")[0], cidr
	if v6 != "" {
		h.MustExec(t, "ip", "-6", "addr", "add", v6, "dev", "eth0", "nodad")
		h.MustExec(t, "ip", "-6", "neigh", "replace", gw6, "lladdr", model.RouterMAC, "dev", "eth0", "nud", "permanent")
		h.MustExec(t, "ip", "-6", "route", "replace", "2001:db8::/32", "via", gw6)
	}
}

var replyTTL = regexp.MustCompile(`ttl=(\d+)`)

// pingTTLs pings dst count times and returns the TTL (hop limit) of each reply.
func pingTTLs(t *testing.T, h *testbed.Host, dst string, args ...string) []string {
	t.Helper()
	var ttls []string
	lab.Eventually(t, 10*time.Second, h.Name+" pings "+dst, func() error {
		out, err := h.Exec(append(append([]string{"ping", "-n", "-c", "2", "-i", "0.2", "-W", "1"}, args...), dst)...)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		ttls = nil
		for _, m := range replyTTL.FindAllStringSubmatch(out, -1) {
			ttls = append(ttls, m[1])
		}
		return nil
	})
	return ttls
}

// testRoutingOnOneNode runs on the one-gateway lab (TestGatewayNode): the gateways answer ARP
// and pings; remote instances and a local VM in two VNs of one router reach each other (ping,
// TCP, ping6) with the TTL decremented by one; a TTL that would expire is dropped and counted;
// a third VN stays isolated although it reuses a routed subnet; a policy denying the pair wins;
// status and flows show the router.
func testRoutingOnOneNode(t *testing.T, l *lab.Gateway) {
	l.SetConfig(t, routingYAML(""))
	l.WaitBound(t, "vm1", "bms1", "bms3", "stranger")
	readdress(t, l.BMS1, "10.1.0.10/24", "10.1.0.1", "2001:db8:1::10/64", "2001:db8:1::1")
	readdress(t, l.VM, "10.1.0.20/24", "10.1.0.1", "2001:db8:1::20/64", "2001:db8:1::1")
	readdress(t, l.BMS3, "10.2.0.30/24", "10.2.0.1", "2001:db8:2::30/64", "2001:db8:2::1")
	readdress(t, l.Stranger, "10.2.0.40/24", "10.2.0.1", "", "")
	drops := func(reason string) uint64 {
		st := l.Status(t)
		if st.Drops == nil {
			t.Fatal("status has no drop counters")
		}
		return st.Drops.ByReason[reason]
	}

	t.Run("the gateway answers ARP with the router MAC, and pings", func(t *testing.T) {
		for _, h := range []*testbed.Host{l.BMS1, l.VM, l.BMS3, l.Stranger} {
			gw := map[bool]string{true: "10.1.0.1", false: "10.2.0.1"}[strings.HasPrefix(h.IP, "10.1.")]
			h.MustPing(t, gw)
			if out := h.MustExec(t, "ip", "neigh", "show", gw); !strings.Contains(out, "lladdr "+model.RouterMAC) {
				t.Errorf("%s: the gateway %s is not at the router MAC: %q", h.Name, gw, out)
			}
		}
		for _, h := range []*testbed.Host{l.BMS1, l.VM} {
			// The host's address may still be in duplicate address detection (tentative): a
			// ping from it fails until that ends, a second or so after it was added.
			lab.Eventually(t, 10*time.Second, h.Name+" pings its IPv6 gateway", func() error {
				_, err := h.Exec("ping", "-6", "-n", "-c", "2", "-i", "0.2", "-W", "1", "2001:db8:1::1")
				return err
			})
		}
	})
	t.Run("routed between VNs, remote and local alike, with the TTL decremented by one", func(t *testing.T) {
		for _, p := range []struct {
			from, to *testbed.Host
			dst      string
		}{
			{l.VM, l.BMS3, "10.2.0.30"}, {l.BMS3, l.VM, "10.1.0.20"}, {l.BMS1, l.BMS3, "10.2.0.30"}, {l.BMS3, l.BMS1, "10.1.0.10"},
			{l.VM, l.BMS3, "2001:db8:2::30"}, {l.BMS3, l.BMS1, "2001:db8:1::10"},
		} {
			// The sender's TTL is 64; the reply was routed once, on its way back.
			if ttls := pingTTLs(t, p.from, p.dst); len(ttls) == 0 || slices.ContainsFunc(ttls, func(s string) bool { return s != "63" }) {
				t.Errorf("%s -> %s: reply TTLs %v, want 63 (64 less one hop)", p.from.Name, p.dst, ttls)
			}
		}
		l.VM.MustTCP(t, l.BMS3, 5101)
		l.BMS3.MustTCP(t, l.BMS1, 5102)
		l.BMS1.MustTCP(t, l.BMS3, 5103)
	})
	t.Run("a packet whose TTL would expire is dropped and counted", func(t *testing.T) {
		before := drops("ttl-expired")
		if _, err := l.VM.Exec("ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", "-t", "1", "10.2.0.30"); err == nil {
			t.Fatal("a ping with TTL 1 was routed")
		}
		if after := drops("ttl-expired"); after < before+2 {
			t.Errorf("ttl-expired drops grew by %d, want the 2 pings", after-before)
		}
		if ttls := pingTTLs(t, l.VM, "10.2.0.30", "-t", "2"); len(ttls) == 0 {
			t.Error("a ping with TTL 2 was not routed")
		}
	})
	t.Run("a VN on no router stays isolated, though it reuses a routed subnet", func(t *testing.T) {
		before := drops("no-route")
		l.VM.MustNotPing(t, l.Stranger.IP)   // routed into red, where no VMI has it
		l.Stranger.MustNotPing(t, l.VM.IP)   // green has no router
		l.Stranger.MustNotPing(t, l.BMS3.IP) // same subnet, another VN
		l.BMS3.MustNotPing(t, l.Stranger.IP) //
		if after := drops("no-route"); after < before+6 {
			t.Errorf("no-route drops grew by %d, want the 6 pings routed nowhere", after-before)
		}
	})
	t.Run("status shows each VN's router and gateways; flows show the router", func(t *testing.T) {
		st := l.Status(t)
		var blue *pipeline.Network
		for i := range st.Networks {
			if st.Networks[i].Name == "blue" {
				blue = &st.Networks[i]
			}
		}
		if blue == nil || blue.Router != "r1" || !slices.Equal(blue.RouterNetworks, []string{"red"}) ||
			!slices.Equal(blue.Gateways, []string{"10.1.0.1", "2001:db8:1::1"}) {
			t.Errorf("status networks: %+v", st.Networks)
		}
		text, err := l.Agent.CLI("status")
		if err != nil || !strings.Contains(text, "network:       blue (VNI 5001): router r1 (with red); gateway 10.1.0.1, 2001:db8:1::1") ||
			!strings.Contains(text, "network:       green (VNI 5003): no router; gateway 10.2.0.1") {
			t.Errorf("status text: %v\n%s", err, text)
		}
		out, err := l.Agent.CLI("flows", "--table", "route-classify", "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var fl control.Flows
		if err := json.Unmarshal([]byte(out), &fl); err != nil {
			t.Fatal(err)
		}
		routed := 0
		for _, f := range fl.Flows {
			if f.OwnerKind == "logical-router" && f.OwnerName == "r1" && f.Packets > 0 {
				routed++
			}
		}
		if routed == 0 {
			t.Errorf("no route-classify flow of logical-router r1 counted a packet:\n%s", out)
		}
		if text, err := l.Agent.CLI("flows", "--vmi", "bms3", "--table", "routing"); err != nil || !strings.Contains(text, "dec_ttl") {
			t.Errorf("flows --vmi bms3 --table routing: %v\n%s", err, text)
		}
	})
	t.Run("a policy denying the VN pair wins", func(t *testing.T) {
		l.SetConfig(t, routingYAML(pairPolicy))
		before := drops("policy-deny")
		l.VM.MustNotPing(t, l.BMS3.IP)
		l.BMS3.MustNotPing(t, l.BMS1.IP)
		if err := l.BMS1.TCPBlocked(t, l.BMS3, 5104); err != nil {
			t.Fatal(err)
		}
		if after := drops("policy-deny"); after < before+6 {
			t.Errorf("policy-deny drops grew by %d, want the 6 pings", after-before)
		}
		l.BMS1.MustPing(t, l.VM.IP) // within blue: not the pair
	})
}

// The routed VNs added to the overlay lab's config (TestOverlayThreeNodes): router r1 joins
// apple (bmsA, a remote instance behind gw1's ToR on VLAN 300) and pear (vmP, a local VM on c1);
// grape (vmG, a local VM on c2) reuses pear's IPv4 subnet on no router. Pear's policy no-5201
// denies TCP to port 5201 in pear's traffic: routed traffic is checked against its source VN's
// policies where it enters. The agents get all of it from the config DB.
const (
	routedVNs = `  - {name: apple, vni: 5101, subnets: ["10.3.0.0/24", "2001:db8:3::/64"]APPLE}
  - {name: pear, vni: 5102, subnets: ["10.4.0.0/24", "2001:db8:4::/64"], networkPolicies: [no-5201PEAR]}
  - {name: grape, vni: 5103, subnets: ["10.4.0.0/24"]}
`
	routedLI   = "          - {name: eth1-300, vlan: 300, vmi: bmsA}\n"
	routedVMIs = `  - {name: bmsA, network: apple, mac: "02:00:00:00:03:0a", instanceIPs: [{address: 10.3.0.10}, {address: "2001:db8:3::10"}]}
  - {name: vmP, network: pear, mac: "02:00:00:00:04:14", instanceIPs: [{address: 10.4.0.20}, {address: "2001:db8:4::20"}]}
  - {name: vmG, network: grape, mac: "02:00:00:00:05:1e", instanceIPs: [{address: 10.4.0.30}]}
`
	routedRouters = `logicalRouters:
  - {name: r1, networks: [apple, pear]}
`
	routedPolicies = `networkPolicies:
  - name: no-5201
    rules:
      - {action: deny, protocol: tcp, destinationPorts: "5201"}
`
	// routedPairPolicy denies all traffic between apple and pear, both ways.
	routedPairPolicy = `  - name: pair
    rules:
      - {action: deny, source: {network: apple}, destination: {network: pear}, direction: "<>"}
`
)

// routedOverlayYAML is the overlay lab's config with the routed VNs, and with the pair policy
// attached to apple and pear if deny.
func routedOverlayYAML(t *testing.T, deny bool) string {
	apple, pear, policies := "", "", routedPolicies
	if deny {
		apple, pear, policies = ", networkPolicies: [pair]", ", pair", routedPolicies+routedPairPolicy
	}
	y := overlayYAML
	for _, r := range []struct{ after, add string }{
		{"  - {name: red, vni: 5002, subnets: [\"10.1.0.0/24\"]}\n", strings.NewReplacer("APPLE", apple, "PEAR", pear).Replace(routedVNs)},
		{"          - {name: eth1-200, vlan: 200, vmi: bms2}\n", routedLI},
		{"securityGroups:\n", ""}, // checked only: the VMIs go before it
	} {
		if !strings.Contains(y, r.after) {
			t.Fatalf("the overlay lab's config changed: no %q in\n%s", r.after, overlayYAML)
		}
		y = strings.Replace(y, r.after, r.after+r.add, 1)
	}
	y = strings.Replace(y, "securityGroups:\n", routedVMIs+"securityGroups:\n", 1)
	return y + routedRouters + policies
}

// udhcpcConfigure runs udhcpc on a host's eth0 with a script that configures what the lease
// says, as a distribution's does: address, MTU, default route.
func udhcpcConfigure(t *testing.T, h *testbed.Host) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "udhcpc.sh")
	text := `#!/bin/sh
[ "$1" = bound ] || exit 0
ip addr flush dev $interface scope global
ip addr add $ip/$mask dev $interface
[ -n "$mtu" ] && ip link set $interface mtu $mtu
ip route replace default via $router
echo "ip=$ip mask=$mask router=$router mtu=$mtu"
`
	if err := os.WriteFile(script, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := h.ExecTimeout(30*time.Second, "udhcpc", "-i", testbed.HostIf, "-f", "-q", "-n", "-t", "5", "-T", "2", "-s", script)
	if err != nil {
		t.Fatalf("udhcpc in %s: %v\n%s", h.Name, err, out)
	}
	return out
}

// routeAcrossNodes runs on the overlay lab (TestOverlayThreeNodes): agents in database mode on
// three nodes route between a remote instance behind gw1's ToR and a local VM on c1 over the
// overlay, IPv4 and IPv6, the TTL decremented once, on the node where a packet enters; the
// remote instance gets its address, MTU and router by DHCP from gw1 and pings its gateway (and
// its IPv6 gateway, whose neighbour advertisement gw1's agent sends); the source VN's policy
// decides where routed traffic enters; a
// third VN on c2, not on the router and reusing a routed subnet, stays isolated; a policy
// denying the VN pair wins.
func (l *overlayLab) routeAcrossNodes(t *testing.T) {
	bmsA := l.tor.AddHost(t, "bmsA", 300, "02:00:00:00:03:0a", "")
	vmP := testbed.NewHost(t, "vmP", l.nodes["c1"], "vmPp", "02:00:00:00:04:14", "")
	vmG := testbed.NewHost(t, "vmG", l.nodes["c2"], "vmGp", "02:00:00:00:05:1e", "")
	l.apply(t, routedOverlayYAML(t, false))
	plug(t, l.nodes["c1"], "vmPp", "vmP")
	plug(t, l.nodes["c2"], "vmGp", "vmG")
	t.Cleanup(func() {
		l.nodes["c1"].Vsctl("--if-exists", "del-port", "br-int", "vmPp")
		l.nodes["c2"].Vsctl("--if-exists", "del-port", "br-int", "vmGp")
	})
	l.waitBindings(t, map[string][]string{"gw1": {"bmsA", "vmP"}, "c1": {"vmP", "bmsA"}, "c2": {"vmG"}})
	readdress(t, vmP, "10.4.0.20/24", "10.4.0.1", "2001:db8:4::20/64", "2001:db8:4::1")
	readdress(t, vmG, "10.4.0.30/24", "10.4.0.1", "", "")
	drops := func(node, reason string) uint64 {
		st := agentStatus(t, l.agents[node])
		if st.Drops == nil {
			t.Fatalf("%s's status has no drop counters", node)
		}
		return st.Drops.ByReason[reason]
	}

	t.Run("a remote instance behind a ToR VLAN gets its lease from its gateway node, and pings its gateway", func(t *testing.T) {
		bmsA.MustExec(t, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=0")
		// gw1 has the overlay: the MTU leaves room for VXLAN.
		if out := udhcpcConfigure(t, bmsA); !strings.Contains(out, "ip=10.3.0.10 mask=24 router=10.3.0.1 mtu=1450") {
			t.Fatalf("bmsA's lease: %s", out)
		}
		bmsA.IP, bmsA.CIDR = "10.3.0.10", "10.3.0.10/24"
		bmsA.MustPing(t, "10.3.0.1")
		// IPv6: no static neighbour entry for the gateway; gw1's agent answers its solicitation.
		bmsA.MustExec(t, "ip", "-6", "addr", "add", "2001:db8:3::10/64", "dev", "eth0", "nodad")
		bmsA.MustExec(t, "ip", "-6", "route", "replace", "2001:db8::/32", "via", "2001:db8:3::1")
		lab.Eventually(t, 10*time.Second, "bmsA pings its IPv6 gateway", func() error {
			_, err := bmsA.Exec("ping", "-6", "-n", "-c", "2", "-i", "0.2", "-W", "1", "2001:db8:3::1")
			return err
		})
		if out := bmsA.MustExec(t, "ip", "-6", "neigh", "show", "2001:db8:3::1"); !strings.Contains(out, "lladdr "+model.RouterMAC) {
			t.Errorf("bmsA: the IPv6 gateway is not at the router MAC: %q", out)
		}
	})
	t.Run("ping and ping6 across nodes, routed once where they enter", func(t *testing.T) {
		for _, p := range []struct {
			from *testbed.Host
			dst  string
		}{{bmsA, "10.4.0.20"}, {vmP, "10.3.0.10"}, {bmsA, "2001:db8:4::20"}, {vmP, "2001:db8:3::10"}} {
			if ttls := pingTTLs(t, p.from, p.dst); len(ttls) == 0 || slices.ContainsFunc(ttls, func(s string) bool { return s != "63" }) {
				t.Errorf("%s -> %s: reply TTLs %v, want 63 (64 less one hop)", p.from.Name, p.dst, ttls)
			}
		}
	})
	t.Run("TCP across nodes, both ways", func(t *testing.T) {
		bmsA.MustTCP(t, vmP, 5200)
		vmP.MustTCP(t, bmsA, 5200)
	})
	t.Run("the source VN's policies decide, where the traffic enters", func(t *testing.T) {
		bmsA.MustTCP(t, vmP, 5201) // apple has no policy; pear's is not applied on c1 to routed traffic
		if err := vmP.TCPBlocked(t, bmsA, 5201); err != nil {
			t.Fatal(err) // pear's policy, where vmP's traffic enters
		}
	})
	t.Run("a VN on no router stays isolated across nodes, though it reuses a routed subnet", func(t *testing.T) {
		before := drops("gw1", "no-route")
		bmsA.MustNotPing(t, vmG.IP) // routed into pear, where no VMI has it
		if after := drops("gw1", "no-route"); after < before+3 {
			t.Errorf("gw1's no-route drops grew by %d, want the 3 pings", after-before)
		}
		vmG.MustNotPing(t, bmsA.IP) // grape has no router
		vmG.MustNotPing(t, vmP.IP)  // same subnet, another VN
		vmP.MustNotPing(t, vmG.IP)
	})
	t.Run("a policy denying the VN pair wins", func(t *testing.T) {
		l.apply(t, routedOverlayYAML(t, true))
		lab.Eventually(t, 20*time.Second, "the pair is denied", func() error {
			if sent, received, _ := bmsA.PingCount(vmP.IP, 1, 200*time.Millisecond, time.Second); sent == 1 && received == 0 {
				return nil
			}
			return fmt.Errorf("bmsA still reaches vmP")
		})
		before := drops("c1", "policy-deny")
		bmsA.MustNotPing(t, vmP.IP)
		vmP.MustNotPing(t, bmsA.IP)
		if err := vmP.TCPBlocked(t, bmsA, 5200); err != nil {
			t.Fatal(err)
		}
		if err := bmsA.TCPBlocked(t, vmP, 5200); err != nil {
			t.Fatal(err)
		}
		if after := drops("c1", "policy-deny"); after < before+3 {
			t.Errorf("c1's policy-deny drops grew by %d, want vmP's 3 pings", after-before)
		}
		l.bms1.MustPing(t, l.vm1.IP) // blue: not the pair
	})
}

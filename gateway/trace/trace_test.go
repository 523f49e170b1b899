package trace

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/ with what the code prints now")

// The two labs the testdata/*.trace files were taken from, with a real ovs-vswitchd: the
// one-gateway lab (test/lab, with a security group on vm1 and a policy denying TCP 22 in blue)
// and the gateway gw1 of the three-node overlay lab (test/e2e).
func gatewayLab(t *testing.T) *Snapshot {
	return snapshot(t, "gateway.yaml", pipeline.Input{Host: "gw1", GatewayMode: true,
		Ports: []pipeline.Port{{Name: "eth1", OFPort: 1}, {Name: "vm1p", OFPort: 2, IfaceID: "vm1"}}}, nil)
}

func overlayLab(t *testing.T) *Snapshot {
	c1, c2 := netip.MustParseAddr("192.168.100.2"), netip.MustParseAddr("192.168.100.3")
	return snapshot(t, "overlay.yaml", pipeline.Input{Host: "gw1", GatewayMode: true, TunnelPort: 2,
		Ports: []pipeline.Port{{Name: "eth1", OFPort: 1}},
		Peers: []pipeline.Peer{{VMI: "vm1", Node: "c1", TunnelIP: c1}, {VMI: "vm2", Node: "c2", TunnelIP: c2}, {VMI: "vm3", Node: "c2", TunnelIP: c2}}},
		map[string]string{"192.168.100.2": "c1", "192.168.100.3": "c2"})
}

func snapshot(t *testing.T, config string, in pipeline.Input, nodes map[string]string) *Snapshot {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", config))
	if err != nil {
		t.Fatal(err)
	}
	c, err := model.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if in.Index, err = c.ValidateIndex(); err != nil {
		t.Fatal(err)
	}
	out := pipeline.Compile(in)
	return &Snapshot{Node: in.Host, Bridge: "br-int", Index: in.Index, Bindings: out.Bindings, Names: out.Names, Nodes: nodes}
}

func vlan(n int) *int { return &n }

// TestTraceExplainsWhatTheSwitchDid runs Run over outputs a real ovs-vswitchd gave for these
// packets: the packet built must be the one traced (the golden text holds it), every step is
// annotated, and the verdict names the VMI and the way it was reached, or what dropped it.
func TestTraceExplainsWhatTheSwitchDid(t *testing.T) {
	for _, c := range []struct {
		name    string
		lab     func(*testing.T) *Snapshot
		req     Request
		verdict string
		check   func(t *testing.T, v Verdict)
	}{
		{"local", gatewayLab, Request{VMI: "bms1", DstIP: "10.1.0.20"},
			"delivered to VMI vm1 via port vm1p", delivered(Delivery{VMI: "vm1", Via: "port", Port: "vm1p"})},
		{"remote-vlan", gatewayLab, Request{VMI: "vm1", DstIP: "10.1.0.11"},
			"delivered to VMI bms2 via eth1 VLAN 101", delivered(Delivery{VMI: "bms2", Via: "vlan", Port: "eth1", VLAN: 101})},
		{"flood", gatewayLab, Request{VMI: "bms1", DstIP: "10.1.0.11", DstMAC: "ff:ff:ff:ff:ff:ff"},
			"delivered to 2 destinations: VMI bms2 via eth1 VLAN 101; VMI vm1 via port vm1p",
			delivered(Delivery{VMI: "bms2", Via: "vlan", Port: "eth1", VLAN: 101}, Delivery{VMI: "vm1", Via: "port", Port: "vm1p"})},
		{"sg", gatewayLab, Request{VMI: "bms1", DstIP: "10.1.0.20", Proto: "tcp", DstPort: 8081},
			"dropped by the security groups of VMI vm1: no ingress rule of server allows it",
			dropped(Drop{Reason: "security-group-deny", Table: pipeline.TableIngressACL, TableName: "ingress-acl", OwnerKind: "vmi", OwnerName: "vm1",
				SecurityGroups: []string{"server"}, Direction: "ingress"})},
		{"policy", gatewayLab, Request{VMI: "bms1", DstIP: "10.1.0.11", Proto: "tcp", DstPort: 22},
			"dropped by rule 0 of network policy deny-port (VN blue)",
			dropped(Drop{Reason: "policy-deny", Table: pipeline.TablePolicy, TableName: "network-policy", OwnerKind: "network-policy", OwnerName: "deny-port",
				Policy: "deny-port", Rule: vlan(0)})},
		{"spoof", gatewayLab, Request{VMI: "bms1", DstIP: "10.1.0.11", SrcIP: "10.1.0.77"},
			"dropped by port security of VMI bms1: the source MAC, IP or ARP claim is not the VMI's",
			dropped(Drop{Reason: "spoofing", Table: pipeline.TablePortSecurity, TableName: "port-security", OwnerKind: "vmi", OwnerName: "bms1"})},
		{"unknown-vlan", gatewayLab, Request{VMI: "bms1", DstIP: "10.1.0.11", FromVLAN: vlan(300)},
			"dropped: unknown VLAN: no logical interface of physical interface eth1 claims VLAN 300",
			dropped(Drop{Reason: "unknown-vlan", Table: pipeline.TableClassify, TableName: "classify", OwnerKind: "physical-interface", OwnerName: "eth1"})},
		{"tunnel", overlayLab, Request{VMI: "bms1", DstIP: "10.1.0.21"},
			"delivered to VMI vm1 on node c1 via the tunnel to 192.168.100.2 (VNI 5001)",
			delivered(Delivery{VMI: "vm1", Via: "tunnel", TunnelIP: "192.168.100.2", VNI: 5001, Node: "c1"})},
		{"tunnel-flood", overlayLab, Request{VMI: "bms1", DstIP: "10.1.0.99", DstMAC: "ff:ff:ff:ff:ff:ff"},
			"delivered to 2 destinations: node c1 via the tunnel to 192.168.100.2 (VNI 5001), flooded in VN blue; node c2 via the tunnel to 192.168.100.3 (VNI 5001), flooded in VN blue",
			delivered(Delivery{Via: "tunnel", TunnelIP: "192.168.100.2", VNI: 5001, Node: "c1"}, Delivery{Via: "tunnel", TunnelIP: "192.168.100.3", VNI: 5001, Node: "c2"})},
	} {
		t.Run(c.name, func(t *testing.T) {
			text, err := os.ReadFile(filepath.Join("testdata", c.name+".trace"))
			if err != nil {
				t.Fatal(err)
			}
			s := c.lab(t)
			var traced string
			res, err := Run(context.Background(), c.req, s, func(_ context.Context, bridge, flow string) (string, error) {
				traced = flow
				return string(text), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !sameFlow(traced, firstLine(string(text))) {
				t.Errorf("the packet built (%s) is not the one ovs-vswitchd traced:\n%s", traced, firstLine(string(text)))
			}
			if res.Verdict.Text != c.verdict {
				t.Errorf("verdict %q,\nwant %q", res.Verdict.Text, c.verdict)
			}
			c.check(t, res.Verdict)
			for _, st := range res.Steps {
				if st.Bridge == "br-int" && (st.TableName == "" || st.OwnerKind == "" || (st.OwnerKind != "foreign" && st.OwnerName == "")) {
					t.Errorf("step not annotated: %+v", st)
				}
			}
			var b bytes.Buffer
			res.WriteText(&b)
			golden(t, c.name+".golden", b.String())
		})
	}
}

// sameFlow reports whether ovs-vswitchd's "Flow: ..." line is the flow built: it echoes every
// field given, among the ones it adds (dl_vlan_pcp, nw_tos, ...), and transport ports as
// tp_src and tp_dst.
func sameFlow(built, echoed string) bool {
	fields := map[string]bool{}
	for _, f := range strings.Split(strings.TrimPrefix(echoed, "Flow: "), ",") {
		fields[f] = true
	}
	ports := strings.NewReplacer("tcp_src=", "tp_src=", "tcp_dst=", "tp_dst=", "udp_src=", "tp_src=", "udp_dst=", "tp_dst=")
	for _, f := range strings.Split(built, ",") {
		if !fields[ports.Replace(f)] {
			return false
		}
	}
	return true
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

func delivered(want ...Delivery) func(*testing.T, Verdict) {
	return func(t *testing.T, v Verdict) {
		t.Helper()
		if v.Dropped != nil || len(v.Delivered) != len(want) {
			t.Fatalf("verdict %+v, want %d deliveries", v, len(want))
		}
		for i, w := range want {
			got := v.Delivered[i]
			got.Text = ""
			if got != w {
				t.Errorf("delivery %d: %+v, want %+v", i, got, w)
			}
		}
	}
}

func dropped(want Drop) func(*testing.T, Verdict) {
	return func(t *testing.T, v Verdict) {
		t.Helper()
		if v.Dropped == nil || len(v.Delivered) > 0 {
			t.Fatalf("verdict %+v, want dropped", v)
		}
		got := *v.Dropped
		got.Text = ""
		if got.Reason != want.Reason || got.Table != want.Table || got.TableName != want.TableName || got.OwnerKind != want.OwnerKind ||
			got.OwnerName != want.OwnerName || got.Policy != want.Policy || (got.Rule == nil) != (want.Rule == nil) ||
			(got.Rule != nil && *got.Rule != *want.Rule) || strings.Join(got.SecurityGroups, ",") != strings.Join(want.SecurityGroups, ",") ||
			got.Direction != want.Direction {
			t.Errorf("drop %+v, want %+v", got, want)
		}
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("text differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

// TestTraceRequestErrorsNameTheFlag: a request that cannot be traced is refused before
// ovs-vswitchd is asked, with the flag at fault.
func TestTraceRequestErrorsNameTheFlag(t *testing.T) {
	for _, c := range []struct {
		req  Request
		want string
	}{
		{Request{DstIP: "10.1.0.20"}, "--vmi: name the VMI"},
		{Request{VMI: "bms1"}, "--dst-ip or --dst-mac"},
		{Request{VMI: "nosuch", DstIP: "10.1.0.20"}, "--vmi nosuch: no such VMI in the config in force"},
		{Request{VMI: "bms3", DstIP: "10.1.0.20"}, "--dst-ip 10.1.0.20: no VMI of VN red has this address; give --dst-mac too"},
		{Request{VMI: "bms1", DstIP: "10.1.0.2x"}, `--dst-ip "10.1.0.2x": not an IP address`},
		{Request{VMI: "bms1", DstMAC: "02:00"}, `--dst-mac "02:00": not a MAC address`},
		{Request{VMI: "bms1", DstMAC: "02:00:00:00:09:09"}, "--dst-mac 02:00:00:00:09:09: no VMI of VN blue has this MAC"},
		{Request{VMI: "bms1", DstIP: "10.1.0.20", SrcMAC: "zz"}, `--src-mac "zz": not a MAC address`},
		{Request{VMI: "bms1", DstIP: "10.1.0.20", SrcIP: "fe80::1"}, "--src-ip fe80::1 and --dst-ip 10.1.0.20: not of one address family"},
		{Request{VMI: "bms1", DstIP: "fe80::2", DstMAC: "02:00:00:00:02:01"}, "--vmi bms1 has no IPv6 instance IP to send from; give --src-ip"},
		{Request{VMI: "bms1", DstIP: "10.1.0.20", Proto: "icmpv6"}, "--proto icmpv6: the destination 10.1.0.20 is IPv4"},
		{Request{VMI: "bms1", DstIP: "10.1.0.20", Proto: "sctp"}, `--proto "sctp": want tcp, udp, icmp or icmpv6`},
		{Request{VMI: "bms1", DstIP: "10.1.0.20", Proto: "udp"}, "--dst-port 0: --proto udp needs a port 1..65535"},
		{Request{VMI: "bms1", DstIP: "10.1.0.20", DstPort: 80}, "--dst-port 80: only with --proto tcp or udp"},
		{Request{VMI: "bms1", DstIP: "10.1.0.20", FromVLAN: vlan(4095)}, "--from-vlan 4095: out of range 0..4094"},
	} {
		_, err := Run(context.Background(), c.req, gatewayLab(t), func(context.Context, string, string) (string, error) {
			t.Fatalf("%+v: ovs-vswitchd asked to trace a refused request", c.req)
			return "", nil
		})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error with %q", c.req, err, c.want)
		}
	}
}

// TestTraceOfAVMINotBoundHereSaysWhere: a VMI bound on another node, or nowhere, is not traced
// from this one; the error says where to trace it, or why it is not bound.
func TestTraceOfAVMINotBoundHereSaysWhere(t *testing.T) {
	s := overlayLab(t)
	for vmi, want := range map[string]string{
		"vm1": "--vmi vm1 is bound on node c1, not on gw1: trace it there",
		"vm2": "--vmi vm2 is bound on node c2, not on gw1: trace it there",
	} {
		_, err := Run(context.Background(), Request{VMI: vmi, DstIP: "10.1.0.10"}, s, nil)
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", vmi, err, want)
		}
	}
	s = gatewayLab(t)
	s.Bindings = nil // the agent has not seen vm1's port yet
	if _, err := Run(context.Background(), Request{VMI: "vm1", DstIP: "10.1.0.10"}, s, nil); err == nil ||
		!strings.Contains(err.Error(), "--vmi vm1 is not bound on node gw1") {
		t.Errorf("trace of a VMI bound nowhere: %v", err)
	}
	failing := func(context.Context, string, string) (string, error) { return "", errors.New("connection refused") }
	if _, err := Run(context.Background(), Request{VMI: "bms1", DstIP: "10.1.0.20"}, gatewayLab(t), failing); err == nil ||
		!strings.Contains(err.Error(), "ofproto/trace br-int icmp,in_port=1,dl_vlan=100") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("a failed ofproto/trace: %v", err)
	}
}

// TestTracePacketIsWhatTheVMISends: the flow given to ofproto/trace, per protocol and family,
// in the field names OVS wants (udp_src, not tp_src, which is TCP's: ovs-vswitchd refused
// "udp,...,tp_src=" with "prerequisites not met").
func TestTracePacketIsWhatTheVMISends(t *testing.T) {
	s := gatewayLab(t)
	for _, c := range []struct {
		req  Request
		flow string
	}{
		{Request{VMI: "bms1", DstIP: "10.1.0.11", Proto: "udp", DstPort: 53},
			"udp,in_port=1,dl_vlan=100,dl_src=02:00:00:00:01:0a,dl_dst=02:00:00:00:01:0b,nw_src=10.1.0.10,nw_dst=10.1.0.11,nw_ttl=64,udp_src=49152,udp_dst=53"},
		{Request{VMI: "vm1", DstMAC: "02:00:00:00:01:0b", Proto: "tcp", DstPort: 22},
			"tcp,in_port=2,dl_src=02:00:00:00:02:01,dl_dst=02:00:00:00:01:0b,nw_src=10.1.0.20,nw_dst=10.1.0.11,nw_ttl=64,tcp_src=49152,tcp_dst=22"},
		{Request{VMI: "bms1", SrcIP: "fe80::1", DstIP: "fe80::2", DstMAC: "02:00:00:00:02:01"},
			"icmp6,in_port=1,dl_vlan=100,dl_src=02:00:00:00:01:0a,dl_dst=02:00:00:00:02:01,ipv6_src=fe80::1,ipv6_dst=fe80::2,nw_ttl=64,icmpv6_type=128"},
		{Request{VMI: "bms1", SrcIP: "fe80::1", DstIP: "fe80::2", DstMAC: "02:00:00:00:02:01", Proto: "udp", DstPort: 547, FromVLAN: vlan(0)},
			"udp6,in_port=1,dl_src=02:00:00:00:01:0a,dl_dst=02:00:00:00:02:01,ipv6_src=fe80::1,ipv6_dst=fe80::2,nw_ttl=64,udp_src=49152,udp_dst=547"},
	} {
		p, err := buildPacket(c.req, s)
		if err != nil || p.Flow != c.flow {
			t.Errorf("%+v: %v\n%s,\nwant %s", c.req, err, flowOf(p), c.flow)
		}
	}
}

func flowOf(p *Packet) string {
	if p == nil {
		return ""
	}
	return p.Flow
}

// TestTraceOfAFlowWhoseOwnerIsGoneStillExplains: a drop flow whose owner the agent no longer
// names (the config changed since the trace's flows were installed) is explained by its cookie
// alone, without a crash.
func TestTraceOfAFlowWhoseOwnerIsGoneStillExplains(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("testdata", "sg.trace"))
	if err != nil {
		t.Fatal(err)
	}
	s := gatewayLab(t)
	s.Names = map[pipeline.Kind]map[uint32]string{}
	res, err := Run(context.Background(), Request{VMI: "bms1", DstIP: "10.1.0.20", Proto: "tcp", DstPort: 8081}, s,
		func(context.Context, string, string) (string, error) { return string(text), nil })
	if err != nil {
		t.Fatal(err)
	}
	if want := "dropped in table 60 (ingress-acl) by a flow of vmi (cookie 0x6f670305511c93a7, no longer in the config): security-group-deny"; res.Verdict.Text != want {
		t.Errorf("verdict %q, want %q", res.Verdict.Text, want)
	}
}

package pipeline

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

// TestToRLearnedMACsCannotHijack (issue: a server behind a ToR can hijack a VMI or stop all
// syncing): MACs a switch reports as learned are used only when they are 6-byte unicast
// addresses that no VMI owns. A VMI's own MAC must keep its l2-lookup flow, the broadcast
// address must keep the VN's flood, and a malformed "MAC" must not reach the flow table; the
// rest is programmed and the skipped ones are counted in a notice.
func TestToRLearnedMACsCannotHijack(t *testing.T) {
	x := loadIndex(t, "two-vns.yaml")
	good := mustMAC("02:00:00:00:09:01")
	in := Input{Index: x, Host: "gw1", GatewayMode: true, Ports: gw1Ports, TunnelPort: 10,
		Tors: []Tor{{Name: "tor1", TunnelIP: netip.MustParseAddr("192.168.50.9"), VNIs: []uint32{5001}, Replicator: true,
			ReplicationIP: netip.MustParseAddr("192.168.50.1"), MACs: []TorMAC{
				{VNI: 5001, MAC: good},
				{VNI: 5001, MAC: mustMAC("02:00:00:00:01:0a")},             // bms1's own
				{VNI: 5001, MAC: mustMAC("ff:ff:ff:ff:ff:ff")},             // broadcast
				{VNI: 5001, MAC: mustMAC("01:00:5e:00:00:01")},             // multicast
				{VNI: 5001, MAC: net.HardwareAddr{2, 0, 0, 0, 9, 2, 0, 0}}, // 8 bytes (EUI-64), as net.ParseMAC accepts
			}}}}
	out := Compile(in)
	var torL2 []string
	for _, e := range out.Flows {
		if e.Owner.Kind == KindTor && e.Table == TableL2Lookup {
			torL2 = append(torL2, e.Match.String())
		}
	}
	if len(torL2) != 1 || !strings.Contains(torL2[0], good.String()) {
		t.Errorf("the switch's l2-lookup flows are %q, want only the one for %s", torL2, good)
	}
	found := false
	for _, n := range out.Notices {
		found = found || strings.Contains(n, "tor1") && strings.Contains(n, "4 learned MACs ignored")
	}
	if !found {
		t.Errorf("no notice counts the 4 learned MACs ignored: %q", out.Notices)
	}
}

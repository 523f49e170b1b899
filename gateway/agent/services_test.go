package agent

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/agentconf"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/openflow"
)

// meteredSwitch is a fakeSwitch with meters as OVS 3.1 treats them: a flow that uses a missing
// meter is refused (the whole bundle), and deleting a meter deletes the flows that use it.
type meteredSwitch struct {
	*fakeSwitch
	meters map[uint32]openflow.Meter
	events []string
}

func (m *meteredSwitch) ModMeters(_ context.Context, mods ...openflow.MeterMod) error {
	for _, mod := range mods {
		m.events = append(m.events, fmt.Sprintf("%s %d", mod.Command, mod.Meter.ID))
		switch mod.Command {
		case openflow.MeterDelete:
			delete(m.meters, mod.Meter.ID)
			for k, f := range m.flows {
				if uses(f, mod.Meter.ID) {
					delete(m.flows, k)
				}
			}
		default:
			m.meters[mod.Meter.ID] = mod.Meter
		}
	}
	return nil
}

func (m *meteredSwitch) DumpMeters(context.Context) ([]openflow.Meter, error) {
	m.events = append(m.events, "dump-meters")
	var out []openflow.Meter
	for _, x := range m.meters {
		out = append(out, x)
	}
	return out, nil
}

func (m *meteredSwitch) Apply(ctx context.Context, changes []openflow.Change) error {
	for _, c := range changes {
		if fm, ok := c.(openflow.FlowMod); ok && fm.Command != openflow.FlowDeleteStrict {
			for _, a := range fm.Flow.Actions {
				if ma, ok := a.(openflow.MeterAction); ok {
					if _, ok := m.meters[ma.ID]; !ok {
						return fmt.Errorf("meter %d does not exist", ma.ID)
					}
				}
				if ca, ok := a.(openflow.Controller); ok && ca.MeterID != 0 {
					if _, ok := m.meters[ca.MeterID]; !ok {
						return fmt.Errorf("meter %d does not exist", ca.MeterID)
					}
				}
			}
		}
	}
	m.events = append(m.events, "bundle")
	return m.fakeSwitch.Apply(ctx, changes)
}

func uses(f openflow.Flow, id uint32) bool {
	for _, a := range f.Actions {
		if ma, ok := a.(openflow.MeterAction); ok && ma.ID == id {
			return true
		}
	}
	return false
}

// TestMetersAddedBeforeTheirFlowsAndDeletedAfter: the agent puts each meter on the switch
// before the bundle whose flows use it (OVS refuses a flow with a missing meter, and meters in
// bundles), and deletes meters only after the bundle that removed their flows (deleting a meter
// deletes its flows): the switch ends with exactly the compiled flows and the meters they use.
func TestMetersAddedBeforeTheirFlowsAndDeletedAfter(t *testing.T) {
	sw := &meteredSwitch{fakeSwitch: newFakeSwitch(), meters: map[uint32]openflow.Meter{}}
	a := newSyncAgent(t, sw.fakeSwitch)
	a.of = sw
	if err := a.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := switchText(sw.fakeSwitch), compiledText(a.testInput()); got != want {
		t.Fatalf("switch differs from the compile:\n%s\n---\n%s", got, want)
	}
	if len(sw.meters) != 4 || !strings.HasSuffix(strings.Join(sw.events, ","), "bundle") {
		t.Fatalf("meters %v, events %v: want 4 meters (3 VMIs, shared), all added before the bundle", sw.meters, sw.events)
	}
	// DHCP off: the punts go, then their meters.
	sw.events = nil
	a.idx = syncTestIndex(t, strings.Replace(syncTestConfig, "subnets: [10.1.0.0/24]", "subnets: [{cidr: 10.1.0.0/24, dhcp: false}]", 1))
	a.cfgGen++
	if err := a.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := switchText(sw.fakeSwitch), compiledText(a.testInput()); got != want {
		t.Fatalf("after DHCP off, switch differs from the compile:\n%s\n---\n%s", got, want)
	}
	if len(sw.meters) != 0 || len(sw.events) != 5 || sw.events[0] != "bundle" {
		t.Fatalf("meters %v, events %v: want the bundle, then 4 deletions", sw.meters, sw.events)
	}
}

// TestMeterChangesReachTheSwitchAfterSyncsThatSkipThem: a sync whose meters are those already
// synced skips comparing them with the switch's (thousands at 4K instances; a cost only a
// benchmark shows): such a sync sends its bundle alone, and a later change of the meters still
// reaches the switch, after its bundle.
func TestMeterChangesReachTheSwitchAfterSyncsThatSkipThem(t *testing.T) {
	sw := &meteredSwitch{fakeSwitch: newFakeSwitch(), meters: map[uint32]openflow.Meter{}}
	a := newSyncAgent(t, sw.fakeSwitch)
	a.of = sw
	if err := a.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	sw.events = nil
	a.idx = syncTestIndex(t, strings.Replace(syncTestConfig, `mac: "02:00:00:00:01:02"`, `mac: "02:00:00:00:01:0f"`, 1))
	a.cfgGen++
	if err := a.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Join(sw.events, ",") != "bundle" {
		t.Fatalf("events %v: want the bundle alone", sw.events)
	}
	sw.events = nil // vm1 renamed vm2, which has no port on this node: its meter goes
	a.idx = syncTestIndex(t, strings.Replace(syncTestConfig, "  - {name: vm1, network: blue,", "  - {name: vm2, network: blue,", 1))
	a.cfgGen++
	if err := a.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := switchText(sw.fakeSwitch), compiledText(a.testInput()); got != want {
		t.Fatalf("switch differs from the compile:\n%s\n---\n%s", got, want)
	}
	if len(sw.meters) != 3 || !strings.Contains(strings.Join(sw.events, ","), "bundle,delete") {
		t.Fatalf("meters %v, events %v: vm1's meter must go after the bundle (vm2 has no port here)", sw.meters, sw.events)
	}
}

// TestServiceInterfaceFromTheConfig: what netsvc is told of a VMI comes from its VN's subnets
// holding its instance IPs: address with the subnet's prefix, effective gateway, DNS servers,
// domain, the overlay's MTU; a subnet with DHCP off offers no DHCPv4 and no router advertisement.
func TestServiceInterfaceFromTheConfig(t *testing.T) {
	idx := syncTestIndex(t, `
virtualNetworks:
  - name: blue
    vni: 5001
    subnets:
      - {cidr: 10.1.0.0/24, dnsServers: [10.1.0.2], domainName: blue.example}
      - {cidr: "2001:db8::/64", gateway: "2001:db8::fe", dnsServers: ["2001:db8::53"]}
  - name: red
    vni: 5002
    subnets: [{cidr: 10.2.0.0/24, dhcp: false}, {cidr: "2001:db8:2::/64", dhcp: false}]
virtualMachineInterfaces:
  - {name: vm1, network: blue, mac: "02:00:00:00:02:01", instanceIPs: [{address: 10.1.0.21}, {address: "2001:db8::21"}]}
  - {name: vm2, network: red, mac: "02:00:00:00:02:02", instanceIPs: [{address: 10.2.0.22}, {address: "2001:db8:2::22"}]}
`)
	a := &Agent{conf: &agentconf.Config{TunnelIP: "192.168.50.1"}}
	vm1, ok := a.targetOf(idx, "vm1", 7)
	if !ok {
		t.Fatal("vm1: no interface")
	}
	got := fmt.Sprintf("%v %v %v %s %v %v %v mtu=%d ra=%v vni=%d router=%s", vm1.ifc.IPv4, vm1.ifc.Gateway4, vm1.ifc.DNS4, vm1.ifc.Domain,
		vm1.ifc.IPv6, vm1.ifc.Gateway6, vm1.ifc.DNS6, vm1.ifc.MTU, vm1.ra, vm1.vni, vm1.ifc.RouterMAC)
	want := "10.1.0.21/24 10.1.0.1 [10.1.0.2] blue.example [2001:db8::21/64] [2001:db8::fe] [2001:db8::53] mtu=1450 ra=true vni=5001 router=00:00:5e:00:01:00"
	if got != want {
		t.Errorf("vm1:\n got %s\nwant %s", got, want)
	}
	vm2, ok := a.targetOf(idx, "vm2", 8)
	if !ok {
		t.Fatal("vm2: no interface")
	}
	if vm2.ifc.IPv4.IsValid() || vm2.ra || len(vm2.ifc.Gateway6) != 1 {
		t.Errorf("vm2 (DHCP off): IPv4 %v, router advertisements %v, IPv6 gateways %v: want none, off, and its gateway's neighbour advertisements",
			vm2.ifc.IPv4, vm2.ra, vm2.ifc.Gateway6)
	}
}

// Meters have no cookie: a meter ovsgw did not make is never modified or deleted (deleting a
// meter deletes the flows that use it, someone else's included), whether its id is one ovsgw
// does not want or one it wants for a VMI.
func TestForeignMetersLeftAlone(t *testing.T) {
	// The ids ovsgw wants for this config, from a first agent on a switch of its own.
	probe := &meteredSwitch{fakeSwitch: newFakeSwitch(), meters: map[uint32]openflow.Meter{}}
	pa := newSyncAgent(t, probe.fakeSwitch)
	pa.of = probe
	if err := pa.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wanted uint32
	for id := range probe.meters {
		if id != pipeline.SharedMeterID {
			wanted = id
		}
	}
	// Someone else's meters are there first: one at an id ovsgw does not use, one at a VMI's.
	sw := &meteredSwitch{fakeSwitch: newFakeSwitch(), meters: map[uint32]openflow.Meter{}}
	foreign, other := openflow.PacketRateMeter(7, 99, 99), openflow.PacketRateMeter(wanted, 1, 1)
	sw.meters[7], sw.meters[wanted] = foreign, other
	a := newSyncAgent(t, sw.fakeSwitch)
	a.of = sw
	if err := a.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.idx = syncTestIndex(t, strings.Replace(syncTestConfig, "subnets: [10.1.0.0/24]", "subnets: [{cidr: 10.1.0.0/24, dhcp: false}]", 1))
	a.cfgGen++
	if err := a.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !sw.meters[7].Equal(foreign) {
		t.Errorf("a foreign meter at an id ovsgw does not want: %+v", sw.meters[7])
	}
	if m, ok := sw.meters[wanted]; !ok || !m.Equal(other) {
		t.Errorf("a foreign meter at a VMI's id was changed or deleted: %+v (%v)", m, ok)
	}
	if _, ok := sw.meters[pipeline.SharedMeterID]; ok {
		t.Error("ovsgw's own shared meter, no longer wanted, was left behind")
	}
}

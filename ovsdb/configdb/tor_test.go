package configdb

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// torYAML is fullYAML with two ToR switches using every field: one over ssl with its files and
// another manager, bindings in no particular order (VLAN 0 included, a port name with a slash).
const torYAML = fullYAML + `
torSwitches:
  - name: tor2
    endpoint: ssl:192.0.2.11:6640
    ssl: {privateKey: /etc/ovsgw/tor2-key.pem, certificate: /etc/ovsgw/tor2-cert.pem, caCert: /etc/ovsgw/ca.pem}
    replicationNode: gw1
    managedBy: gw2
    bindings:
      - {port: Ethernet1/1, vlan: 0, network: red}
  - name: tor1
    endpoint: tcp:192.0.2.10:6640
    replicationNode: gw1
    bindings:
      - {port: p2, vlan: 200, network: red}
      - {port: p1, vlan: 101, network: blue}
      - {port: p1, vlan: 100, network: blue}
`

// YAML → DB → model equals YAML → model for the switches too, through a fresh client's cache.
func TestTorRoundTrip(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	if err := parse(t, torYAML).Validate(); err != nil {
		t.Fatalf("test config invalid: %v", err)
	}
	sum := apply(t, c, parse(t, torYAML))
	var added []string
	for _, ch := range sum.Added {
		if ch.Kind == KindTorSwitch {
			added = append(added, ch.Name)
		}
	}
	if strings.Join(added, " ") != "tor1 tor2" {
		t.Errorf("added switches %v", added)
	}
	sameConfig(t, mustConfig(t, c), parse(t, torYAML))
	sameConfig(t, mustConfig(t, m.connect()), parse(t, torYAML))
	if cfg := mustConfig(t, c); cfg.TorSwitches[1].SSL == nil || cfg.TorSwitches[0].SSL != nil || cfg.TorSwitches[0].Manager() != "gw1" ||
		cfg.TorSwitches[1].Manager() != "gw2" {
		t.Errorf("switches read back: %+v", cfg.TorSwitches)
	}
	if again := apply(t, c, parse(t, torYAML)); !again.Empty() {
		t.Errorf("re-apply: %s", again)
	}
}

// A binding is part of its switch: changing, adding or removing one is a change of the switch's
// bindings; a switch's own field shows by name; removing a switch removes its binding rows.
func TestTorSummary(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	apply(t, c, parse(t, torYAML))
	y := strings.Replace(torYAML, "{port: p1, vlan: 101, network: blue}", "{port: p1, vlan: 101, network: red}", 1)
	y = strings.Replace(y, "endpoint: tcp:192.0.2.10:6640", "endpoint: tcp:192.0.2.10:6641", 1)
	y = strings.Replace(y, "      - {port: Ethernet1/1, vlan: 0, network: red}\n", "      - {port: Ethernet1/1, vlan: 0, network: red}\n      - {port: Ethernet1/2, vlan: 7, network: blue}\n", 1)
	sum := apply(t, c, parse(t, y))
	want := []Change{
		{Kind: KindTorSwitch, Name: "tor1", Fields: []string{"endpoint", "bindings"}},
		{Kind: KindTorSwitch, Name: "tor2", Fields: []string{"bindings"}},
	}
	if !reflect.DeepEqual(sum.Changed, want) || len(sum.Added)+len(sum.Removed) != 0 {
		t.Errorf("summary:\n%s", sum)
	}
	sameConfig(t, mustConfig(t, c), parse(t, y))

	y = y[:strings.Index(y, "  - name: tor1\n")]
	sum = apply(t, c, parse(t, y))
	if !reflect.DeepEqual(sum.Removed, []Change{{Kind: KindTorSwitch, Name: "tor1"}}) || len(sum.Changed) != 0 {
		t.Errorf("removing tor1:\n%s", sum)
	}
	for _, r := range m.rows() {
		if b, ok := r.(*gatewaydb.TorBinding); ok && b.Switch == "tor1" {
			t.Errorf("binding of the removed switch left behind: %+v", b)
		}
	}
}

// PublishTorMACs writes only the difference for its switch and leaves others' rows alone;
// PublishTorState upserts; RemoveTorState removes a switch's state and MACs.
func TestPublishTorMACsAndState(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	ctx := context.Background()
	tor1 := []TorMACState{
		{VNI: 5001, MAC: "02:00:00:00:0B:01", TunnelIP: "192.0.2.10"},
		{VNI: 5002, MAC: "02:00:00:00:0b:02", IP: "10.1.0.52", TunnelIP: "192.0.2.10"},
		{VNI: 5001, MAC: "02:00:00:00:0b:01", TunnelIP: "192.0.2.10"}, // again: counted once
	}
	tor2 := []TorMACState{{VNI: 5001, MAC: "02:00:00:00:0b:09", TunnelIP: "192.0.2.11"}}
	for sw, list := range map[string][]TorMACState{"tor1": tor1, "tor2": tor2} {
		if err := c.PublishTorMACs(ctx, sw, list); err != nil {
			t.Fatal(err)
		}
	}
	before, sent := m.rows(), c.transactions.Load()
	if err := c.PublishTorMACs(ctx, "tor1", tor1); err != nil {
		t.Fatal(err)
	}
	if n := c.transactions.Load() - sent; n != 0 {
		t.Errorf("publishing the same MACs sent %d transactions", n)
	}
	next := []TorMACState{tor1[0], {VNI: 5002, MAC: "02:00:00:00:0b:02", IP: "10.1.0.53", TunnelIP: "192.0.2.10"}}
	if err := c.PublishTorMACs(ctx, "tor1", next); err != nil {
		t.Fatal(err)
	}
	ch := changedRows(before, m.rows())
	if len(ch) != 1 {
		t.Errorf("changed rows %v, want only the MAC whose IP changed", ch)
	}
	got := c.TorMACs()
	want := []TorMACState{
		{Switch: "tor1", VNI: 5001, MAC: "02:00:00:00:0b:01", TunnelIP: "192.0.2.10"},
		{Switch: "tor1", VNI: 5002, MAC: "02:00:00:00:0b:02", IP: "10.1.0.53", TunnelIP: "192.0.2.10"},
		{Switch: "tor2", VNI: 5001, MAC: "02:00:00:00:0b:09", TunnelIP: "192.0.2.11"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TorMACs:\n got %+v\nwant %+v", got, want)
	}
	if err := c.PublishTorMACs(ctx, "tor1", []TorMACState{{Switch: "tor2", MAC: "x"}}); err == nil {
		t.Error("a MAC naming another switch was accepted")
	}

	st := TorState{Switch: "tor1", Node: "gw1", Connected: true, InSync: true, TunnelIPs: []string{"192.0.2.10"}, MACsLearned: 2}
	for range 2 {
		if err := c.PublishTorState(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	st.InSync = false
	if err := c.PublishTorState(ctx, st); err != nil {
		t.Fatal(err)
	}
	if got := c.TorStates(); !reflect.DeepEqual(got, []TorState{st}) {
		t.Errorf("TorStates %+v", got)
	}

	var out strings.Builder
	v, err := c.View()
	if err != nil {
		t.Fatal(err)
	}
	v.Config = parse(t, torYAML)
	if err := v.Write(&out, time.Now(), StaleAfter); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"tor1    gw1         192.0.2.10  yes                  no       2",
		"tor2    gw2         -           (no state published)  -        -",
	} {
		if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), strings.Join(strings.Fields(line), " ")) {
			t.Errorf("db show lacks %q:\n%s", line, out.String())
		}
	}

	if err := c.RemoveTorState(ctx, "tor1"); err != nil {
		t.Fatal(err)
	}
	if states, macs := c.TorStates(), c.TorMACs(); len(states) != 0 || len(macs) != 1 || macs[0].Switch != "tor2" {
		t.Errorf("after removing tor1's state: %+v %+v", states, macs)
	}
}

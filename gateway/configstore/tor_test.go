package configstore

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// torYAML is fullYAML with two ToR switches using every field: one over ssl with its files, a
// pinned common name and another manager, bindings in no particular order (VLAN 0 included, a port name with a slash).
const torYAML = fullYAML + `
torSwitches:
  - name: tor2
    endpoint: ssl:192.0.2.11:6640
    ssl: {privateKey: /etc/ovsgw/tor2-key.pem, certificate: /etc/ovsgw/tor2-cert.pem, caCert: /etc/ovsgw/ca.pem, peerCommonName: tor2}
    replicationNode: gw1
    managedBy: [gw2, gw3]
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
		if ch.Kind == configdb.KindTorSwitch {
			added = append(added, ch.Name)
		}
	}
	if strings.Join(added, " ") != "tor1 tor2" {
		t.Errorf("added switches %v", added)
	}
	sameConfig(t, mustConfig(t, c), parse(t, torYAML))
	sameConfig(t, mustConfig(t, m.connect()), parse(t, torYAML))
	if cfg := mustConfig(t, c); cfg.TorSwitches[1].SSL == nil || cfg.TorSwitches[1].SSL.PeerCommonName != "tor2" || cfg.TorSwitches[0].SSL != nil || !slices.Equal(cfg.TorSwitches[0].Managers(), []string{"gw1"}) ||
		!slices.Equal(cfg.TorSwitches[1].Managers(), []string{"gw2", "gw3", "gw1"}) {
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
	want := []configdb.Change{
		{Kind: configdb.KindTorSwitch, Name: "tor1", Fields: []string{"endpoint", "bindings"}},
		{Kind: configdb.KindTorSwitch, Name: "tor2", Fields: []string{"bindings"}},
	}
	if !reflect.DeepEqual(sum.Changed, want) || len(sum.Added)+len(sum.Removed) != 0 {
		t.Errorf("summary:\n%s", sum)
	}
	sameConfig(t, mustConfig(t, c), parse(t, y))

	y = y[:strings.Index(y, "  - name: tor1\n")]
	sum = apply(t, c, parse(t, y))
	if !reflect.DeepEqual(sum.Removed, []configdb.Change{{Kind: configdb.KindTorSwitch, Name: "tor1"}}) || len(sum.Changed) != 0 {
		t.Errorf("removing tor1:\n%s", sum)
	}
	for _, r := range m.rows() {
		if b, ok := r.(*gatewaydb.TorBinding); ok && b.Switch == "tor1" {
			t.Errorf("binding of the removed switch left behind: %+v", b)
		}
	}
}

// db show lists the config's switches with what their managing agents published, and a switch
// nobody published for as such.
func TestTorViewWrite(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	ctx := context.Background()
	apply(t, c, parse(t, torYAML))
	if err := c.PublishTorMACs(ctx, "tor1", []configdb.TorMACState{{VNI: 5001, MAC: "02:00:00:00:0b:01", TunnelIP: "192.0.2.10"},
		{VNI: 5002, MAC: "02:00:00:00:0b:02", TunnelIP: "192.0.2.10"}}); err != nil {
		t.Fatal(err)
	}
	st := configdb.TorState{Switch: "tor1", Node: "gw1", Connected: true, TunnelIPs: []string{"192.0.2.10"}, MACsLearned: 2}
	if err := c.PublishTorState(ctx, st); err != nil {
		t.Fatal(err)
	}
	lease, err := c.TakeTorLease(ctx, "tor1", "gw1", nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.View()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := v.Write(&out, time.Now(), configdb.StaleAfter); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"tor1    gw1         192.0.2.10  yes                  no       2  gw1 (epoch 1) until " + lease.Expires.Format(time.RFC3339Nano) + " gw1",
		"tor2    -         -           (no state published)  -        -  none  gw2,gw3,gw1",
	} {
		if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), strings.Join(strings.Fields(line), " ")) {
			t.Errorf("db show lacks %q:\n%s", line, out.String())
		}
	}
}

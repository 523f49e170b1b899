package configdb

import (
	"context"
	"reflect"
	"testing"
)

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

	if err := c.RemoveTorState(ctx, "tor1"); err != nil {
		t.Fatal(err)
	}
	if states, macs := c.TorStates(), c.TorMACs(); len(states) != 0 || len(macs) != 1 || macs[0].Switch != "tor2" {
		t.Errorf("after removing tor1's state: %+v %+v", states, macs)
	}
}

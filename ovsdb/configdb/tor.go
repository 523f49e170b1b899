package configdb

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	gwmodel "github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// ToR switches in the config DB.
//
// Config: one Tor_Switch row per switch (its SSL files as three columns, empty when it has none;
// managed_by empty for the default), one Tor_Binding row per binding, keyed by switch, port and
// VLAN. A binding is part of its switch: changing one shows as a change of the switch's
// "bindings" in a Summary.
//
// State, published by the agent that manages a switch (TorSwitch.Manager()): one Tor_State row
// per switch (connected, in sync, its tunnel IPs, how many MACs it learned), and one Tor_MAC row
// per MAC the switch learned in a VN (switch, VNI, MAC, IP, the switch's tunnel IP), which every
// node reads to send frames for that MAC into a tunnel to the switch.

// torRows maps the config's switches to rows.
func torRows(c *gwmodel.Config) ([]gatewaydb.TorSwitch, []gatewaydb.TorBinding) {
	var tors []gatewaydb.TorSwitch
	var bindings []gatewaydb.TorBinding
	for _, sw := range c.TorSwitches {
		row := gatewaydb.TorSwitch{Name: sw.Name, Endpoint: sw.Endpoint, ReplicationNode: sw.ReplicationNode, ManagedBy: sw.ManagedBy}
		if sw.SSL != nil {
			row.SSLPrivateKey, row.SSLCertificate, row.SSLCaCert = sw.SSL.PrivateKey, sw.SSL.Certificate, sw.SSL.CACert
		}
		tors = append(tors, row)
		for _, b := range sw.Bindings {
			vlan := 0
			if b.VLAN != nil {
				vlan = *b.VLAN
			}
			bindings = append(bindings, gatewaydb.TorBinding{Switch: sw.Name, Port: b.Port, VLAN: vlan, Network: b.Network})
		}
	}
	return tors, bindings
}

// torSwitches maps the switch rows of a snapshot back to the model. A binding whose switch row
// is missing still shows, under a switch made up with its name, so nothing in the database is
// invisible to validation.
func (s *snapshot) torSwitches() []gwmodel.TorSwitch {
	byName := map[string]*gwmodel.TorSwitch{}
	sw := func(name string) *gwmodel.TorSwitch {
		if byName[name] == nil {
			byName[name] = &gwmodel.TorSwitch{Name: name}
		}
		return byName[name]
	}
	for _, r := range s.tors {
		t := sw(r.Name)
		t.Endpoint, t.ReplicationNode, t.ManagedBy = r.Endpoint, r.ReplicationNode, r.ManagedBy
		if r.SSLPrivateKey != "" || r.SSLCertificate != "" || r.SSLCaCert != "" {
			t.SSL = &gwmodel.TorSSL{PrivateKey: r.SSLPrivateKey, Certificate: r.SSLCertificate, CACert: r.SSLCaCert}
		}
	}
	for _, r := range s.torBindings {
		vlan := r.VLAN
		t := sw(r.Switch)
		t.Bindings = append(t.Bindings, gwmodel.TorBinding{Port: r.Port, VLAN: &vlan, Network: r.Network})
	}
	var out []gwmodel.TorSwitch
	for _, t := range byName {
		out = append(out, *t)
	}
	return out
}

// normalizeTors sorts switches by name and their bindings by port, VLAN and network (their
// order means nothing); empty lists nil.
func normalizeTors(c *gwmodel.Config) {
	slices.SortFunc(c.TorSwitches, func(a, b gwmodel.TorSwitch) int { return strings.Compare(a.Name, b.Name) })
	vlan := func(b gwmodel.TorBinding) int {
		if b.VLAN == nil {
			return -1
		}
		return *b.VLAN
	}
	for i := range c.TorSwitches {
		sw := &c.TorSwitches[i]
		slices.SortFunc(sw.Bindings, func(a, b gwmodel.TorBinding) int {
			return cmp.Or(strings.Compare(a.Port, b.Port), cmp.Compare(vlan(a), vlan(b)), strings.Compare(a.Network, b.Network))
		})
		sw.Bindings = nilIfEmpty(sw.Bindings)
	}
	c.TorSwitches = nilIfEmpty(c.TorSwitches)
}

// torBindingSep separates the parts of a binding's key; neither a switch name nor a port name
// holds a NUL, while "/" is common in port names ("Ethernet1/1").
const torBindingSep = "\x00"

// torConfig plans the switch and binding rows and summarises them: bindings as the "bindings"
// of their switch, unless the switch is added or removed whole.
func (p *planner) torConfig(sum *Summary, s *snapshot, want configRows) {
	objects(sum, KindTorSwitch, syncRows(p, s.tors, want.tors, func(r *gatewaydb.TorSwitch) string { return r.Name }))
	diffs := syncRows(p, s.torBindings, want.torBindings, func(r *gatewaydb.TorBinding) string {
		return r.Switch + torBindingSep + r.Port + torBindingSep + strconv.Itoa(r.VLAN)
	})
	for _, d := range diffs {
		owner, _, _ := strings.Cut(d.key, torBindingSep)
		if sum.find(sum.Added, KindTorSwitch, owner) >= 0 || sum.find(sum.Removed, KindTorSwitch, owner) >= 0 {
			continue
		}
		if i := sum.find(sum.Changed, KindTorSwitch, owner); i >= 0 {
			if !slices.Contains(sum.Changed[i].Fields, "bindings") {
				sum.Changed[i].Fields = append(sum.Changed[i].Fields, "bindings")
			}
			continue
		}
		sum.Changed = append(sum.Changed, Change{Kind: KindTorSwitch, Name: owner, Fields: []string{"bindings"}})
	}
}

// TorState is what the agent managing a switch publishes about it.
type TorState struct {
	Switch      string
	Node        string // the managing node
	Connected   bool
	InSync      bool
	TunnelIPs   []string // the switch's own (Physical_Switch tunnel_ips)
	MACsLearned int
}

// TorMACState is a MAC a switch learned on one of its ports, in a VN.
type TorMACState struct {
	Switch   string
	VNI      uint32
	MAC      string
	IP       string // "" when the switch reports none
	TunnelIP string // the switch's tunnel IP: where nodes send frames for the MAC
}

// PublishTorState creates or updates the Tor_State row of st.Switch. It returns once the cache
// shows it.
func (c *Client) PublishTorState(ctx context.Context, st TorState) error {
	what := fmt.Sprintf("publish state of switch %q", st.Switch)
	if st.Switch == "" {
		return fmt.Errorf("%s: empty switch name", what)
	}
	row := gatewaydb.TorState{Switch: st.Switch, Node: st.Node, Connected: st.Connected, InSync: st.InSync,
		TunnelIPs: slices.Clone(st.TunnelIPs), MACsLearned: st.MACsLearned}
	return c.write(ctx, what, func(s *snapshot, p *planner) {
		var have []gatewaydb.TorState
		for _, r := range s.torStates {
			if r.Switch == st.Switch {
				have = append(have, r)
			}
		}
		syncRows(p, have, []gatewaydb.TorState{row}, func(r *gatewaydb.TorState) string { return r.Switch })
	})
}

// RemoveTorState deletes the Tor_State and Tor_MAC rows of a switch (no longer in the config,
// or no longer managed here). It returns once the cache shows it.
func (c *Client) RemoveTorState(ctx context.Context, sw string) error {
	what := fmt.Sprintf("remove state of switch %q", sw)
	return c.write(ctx, what, func(s *snapshot, p *planner) {
		var states []gatewaydb.TorState
		for _, r := range s.torStates {
			if r.Switch == sw {
				states = append(states, r)
			}
		}
		syncRows(p, states, nil, func(r *gatewaydb.TorState) string { return r.Switch })
		var macs []gatewaydb.TorMAC
		for _, r := range s.torMACs {
			if r.Switch == sw {
				macs = append(macs, r)
			}
		}
		syncRows(p, macs, nil, torMACKey)
	})
}

func torMACKey(r *gatewaydb.TorMAC) string {
	return strconv.Itoa(r.Vni) + " " + r.MAC
}

// PublishTorMACs makes switch sw's Tor_MAC rows equal list (each entry's Switch is set to sw; a
// MAC listed twice in one VNI counts once, the first), writing only the rows that differ; other
// switches' rows are not touched. It returns once the cache shows the result.
func (c *Client) PublishTorMACs(ctx context.Context, sw string, list []TorMACState) error {
	what := fmt.Sprintf("publish MACs learned by switch %q", sw)
	if sw == "" {
		return fmt.Errorf("%s: empty switch name", what)
	}
	want := make([]gatewaydb.TorMAC, 0, len(list))
	seen := map[string]bool{}
	for _, m := range list {
		if m.Switch != "" && m.Switch != sw {
			return fmt.Errorf("%s: MAC %s names switch %q", what, m.MAC, m.Switch)
		}
		row := gatewaydb.TorMAC{Switch: sw, Vni: int(m.VNI), MAC: strings.ToLower(m.MAC), IP: m.IP, TunnelIP: m.TunnelIP}
		if k := torMACKey(&row); !seen[k] {
			seen[k] = true
			want = append(want, row)
		}
	}
	return c.write(ctx, what, func(s *snapshot, p *planner) {
		var have []gatewaydb.TorMAC
		for _, r := range s.torMACs {
			if r.Switch == sw {
				have = append(have, r)
			}
		}
		syncRows(p, have, slices.Clone(want), torMACKey)
	})
}

// TorStates lists the Tor_State rows of the cache, sorted by switch.
func (c *Client) TorStates() []TorState {
	s, err := c.snapshot(doneCtx())
	if err != nil {
		log.WithError(err).Warn("cannot read switch states from cache")
		return nil
	}
	return s.torStateList()
}

func (s *snapshot) torStateList() []TorState {
	out := make([]TorState, 0, len(s.torStates))
	for _, r := range s.torStates {
		out = append(out, TorState{Switch: r.Switch, Node: r.Node, Connected: r.Connected, InSync: r.InSync,
			TunnelIPs: slices.Sorted(slices.Values(r.TunnelIPs)), MACsLearned: r.MACsLearned})
	}
	slices.SortFunc(out, func(a, b TorState) int { return strings.Compare(a.Switch, b.Switch) })
	return out
}

// TorMACs lists the Tor_MAC rows of the cache, sorted by switch, VNI and MAC.
func (c *Client) TorMACs() []TorMACState {
	s, err := c.snapshot(doneCtx())
	if err != nil {
		log.WithError(err).Warn("cannot read switch MACs from cache")
		return nil
	}
	return s.torMACList()
}

func (s *snapshot) torMACList() []TorMACState {
	out := make([]TorMACState, 0, len(s.torMACs))
	for _, r := range s.torMACs {
		out = append(out, TorMACState{Switch: r.Switch, VNI: uint32(r.Vni), MAC: r.MAC, IP: r.IP, TunnelIP: r.TunnelIP})
	}
	slices.SortFunc(out, func(a, b TorMACState) int {
		return cmp.Or(strings.Compare(a.Switch, b.Switch), cmp.Compare(a.VNI, b.VNI), strings.Compare(a.MAC, b.MAC))
	})
	return out
}

// writeTors prints the ToR switches of the config with what their managing agents published;
// nothing when the config has none and nobody published any.
func (v *View) writeTors(w io.Writer) {
	states := map[string]TorState{}
	for _, st := range v.TorStates {
		states[st.Switch] = st
	}
	names := map[string]bool{}
	for _, sw := range v.Config.TorSwitches {
		names[sw.Name] = true
	}
	for name := range states {
		names[name] = true
	}
	if len(names) == 0 {
		return
	}
	macs := map[string]int{}
	for _, m := range v.TorMACs {
		macs[m.Switch]++
	}
	fmt.Fprintln(w, "\nSWITCH\tMANAGED BY\tTUNNEL IP\tCONNECTED\tIN SYNC\tMACS LEARNED\t")
	for _, name := range slices.Sorted(maps.Keys(names)) {
		st, ok := states[name]
		if !ok {
			manager := "-"
			for _, sw := range v.Config.TorSwitches {
				if sw.Name == name {
					manager = sw.Manager()
				}
			}
			fmt.Fprintf(w, "%s\t%s\t-\t(no state published)\t-\t-\t\n", name, manager)
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t\n", name, st.Node, dash(strings.Join(st.TunnelIPs, ",")), yesNo(st.Connected), yesNo(st.InSync), macs[name])
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

package configdb

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ovsgw/ovsgw/logging"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// ToR switches in the config DB.
//
// Config: one Tor_Switch row per switch (its SSL files and pinned common name as four columns,
// empty when it has none; managed_by empty for the default), one Tor_Binding row per binding, keyed by switch, port and
// VLAN. A binding is part of its switch: changing one shows as a change of the switch's
// "bindings" in a Summary.
//
// State, published by the agent that manages a switch (TorSwitch.Manager()): one Tor_State row
// per switch (connected, in sync, its tunnel IPs, how many MACs it learned), and one Tor_MAC row
// per MAC the switch learned in a VN (switch, VNI, MAC, IP, the switch's tunnel IP), which every
// node reads to send frames for that MAC into a tunnel to the switch.

// torBindingSep separates the parts of a binding's key; neither a switch name nor a port name
// holds a NUL, while "/" is common in port names ("Ethernet1/1").
const torBindingSep = "\x00"

// torConfig plans the switch and binding rows and summarises them: bindings as the "bindings"
// of their switch, unless the switch is added or removed whole.
func (p *planner) torConfig(sum *Summary, s *snapshot, want *ConfigRows) {
	objects(sum, KindTorSwitch, syncRows(p, s.tors, want.TorSwitches, func(r *gatewaydb.TorSwitch) string { return r.Name }))
	diffs := syncRows(p, s.torBindings, want.TorBindings, func(r *gatewaydb.TorBinding) string {
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
		MACsLearned: st.MACsLearned}
	for _, ip := range st.TunnelIPs { // as the switch reports them: one it garbled must not hide the others
		if _, err := netip.ParseAddr(ip); err != nil {
			log.WithField(logging.Object, gatewaydb.TorStateTable+"["+st.Switch+"]").Warnf("not publishing tunnel IP %q of the switch: not an IP address", ip)
			continue
		}
		row.TunnelIPs = append(row.TunnelIPs, ip)
	}
	if errs := checkRow(gatewaydb.TorStateTable, "", &row); errs != nil { // every reader would skip it
		return fmt.Errorf("%s: %w", what, errs)
	}
	return c.write(ctx, what, []string{gatewaydb.TorStateTable}, func(s *snapshot, p *planner) {
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
	return c.write(ctx, what, []string{gatewaydb.TorStateTable, gatewaydb.TorMACTable}, func(s *snapshot, p *planner) {
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
		if errs := checkRow(gatewaydb.TorMACTable, "", &row); errs != nil {
			// What the switch learned, as it reports it: one entry it garbled must not keep the
			// others from the nodes (and every reader would skip the row).
			log.WithError(errs).WithField(logging.Object, errs.Object()).Warn("not publishing a MAC the switch learned")
			continue
		}
		if k := torMACKey(&row); !seen[k] {
			seen[k] = true
			want = append(want, row)
		}
	}
	return c.write(ctx, what, []string{gatewaydb.TorMACTable}, func(s *snapshot, p *planner) {
		var have []gatewaydb.TorMAC
		for _, r := range s.torMACs {
			if r.Switch == sw {
				have = append(have, r)
			}
		}
		syncRows(p, have, slices.Clone(want), torMACKey)
	})
}

// TorStates lists the Tor_State rows of the cache, sorted by switch. While
// no Tor_State row changed since the last call, it costs a copy of the list.
func (c *Client) TorStates() []TorState {
	list, err := c.torStateList()
	if err != nil {
		log.WithError(err).Warn("cannot read switch states from cache")
		return nil
	}
	out := slices.Clone(list)
	for i := range out {
		out[i].TunnelIPs = slices.Clone(out[i].TunnelIPs)
	}
	return out
}

// torStateList is the kept list of TorStates: shared, read-only.
func (c *Client) torStateList() ([]TorState, error) {
	return getList(c, &c.views.torState, gatewaydb.TorStateTable, torState, func(a, b *TorState) int {
		return strings.Compare(a.Switch, b.Switch)
	})
}

func torState(r *gatewaydb.TorState) TorState {
	return TorState{Switch: r.Switch, Node: r.Node, Connected: r.Connected, InSync: r.InSync,
		TunnelIPs: slices.Sorted(slices.Values(r.TunnelIPs)), MACsLearned: r.MACsLearned}
}

// TorMACs lists the Tor_MAC rows of the cache, sorted by switch, VNI and
// MAC. While no Tor_MAC row changed since the last call, it costs a copy of
// the list.
func (c *Client) TorMACs() []TorMACState {
	list, err := c.torMACList()
	if err != nil {
		log.WithError(err).Warn("cannot read switch MACs from cache")
		return nil
	}
	return slices.Clone(list)
}

// torMACList is the kept list of TorMACs: shared, read-only.
func (c *Client) torMACList() ([]TorMACState, error) {
	return getList(c, &c.views.torMACs, gatewaydb.TorMACTable, torMACState, func(a, b *TorMACState) int {
		return cmp.Or(strings.Compare(a.Switch, b.Switch), cmp.Compare(a.VNI, b.VNI), strings.Compare(a.MAC, b.MAC))
	})
}

func torMACState(r *gatewaydb.TorMAC) TorMACState {
	// The VNI fits: the row passed the schema's 1..16777215 (see check.go).
	return TorMACState{Switch: r.Switch, VNI: uint32(r.Vni), MAC: r.MAC, IP: r.IP, TunnelIP: r.TunnelIP}
}

package vtep

import (
	"cmp"
	"context"
	"slices"
	"strings"
)

// doneCtx is an ended context: libovsdb's List then reads without waiting for a reconnect to
// finish, serving the last complete cache.
func doneCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// LocalMACs returns the MACs the switch learned on its ports (Ucast_Macs_Local) in ovsgw's
// logical switches, sorted by VNI and MAC. Others' logical switches are left out. While the
// client reconnects it answers from the last complete cache.
func (c *Client) LocalMACs() []LocalMAC {
	s, err := c.snapshot(doneCtx())
	if err != nil {
		c.log.WithError(err).Warn("cannot read learned MACs from cache")
		return nil
	}
	return s.localMACs()
}

func (s *snapshot) localMACs() []LocalMAC {
	var out []LocalMAC
	seen := map[string]bool{}
	for _, r := range s.ucastLocal {
		ls := s.ownedLS(r.LogicalSwitch)
		if ls == nil || ls.TunnelKey == nil {
			continue
		}
		m := LocalMAC{LogicalSwitch: ls.Name, VNI: uint32(*ls.TunnelKey), MAC: strings.ToLower(r.MAC), IP: r.Ipaddr,
			Locator: s.locatorIP(r.Locator)}
		if k := ls.UUID + " " + m.MAC + " " + m.IP; !seen[k] {
			seen[k] = true
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b LocalMAC) int {
		return cmp.Or(cmp.Compare(a.VNI, b.VNI), strings.Compare(a.MAC, b.MAC), strings.Compare(a.IP, b.IP))
	})
	return out
}

// TunnelIPs returns the switch's own tunnel addresses (Physical_Switch tunnel_ips), where the
// nodes send its VNIs' traffic; nil while the switch is unknown.
func (c *Client) TunnelIPs() []string {
	s, err := c.snapshot(doneCtx())
	if err != nil || s.sw == nil {
		return nil
	}
	return slices.Sorted(slices.Values(s.sw.TunnelIPs))
}

// Status reports the connection, whether ovsgw's rows equal what the last Sync wanted, how many
// rows ovsgw has there and how many MACs the switch learned.
func (c *Client) Status() Status {
	c.mu.Lock()
	st := Status{Name: c.opts.Switch, Endpoint: c.opts.Endpoint, LastSync: c.lastSync, LastSyncError: c.syncErr,
		Problems: slices.Clone(c.problems), ConnectError: c.dialErr}
	d, ovs := c.desired, c.ovs
	c.mu.Unlock()
	st.Connected = c.Connected()
	if !st.Connected && st.ConnectError == "" && c.tls != nil {
		// libovsdb's reconnects report no error; a TLS one is what the handshake recorded.
		if err := c.tls.LastError(); err != nil {
			st.ConnectError = err.Error()
		}
	}
	if st.Connected {
		st.ConnectError = ""
	}
	s, err := c.snapshot(doneCtx())
	if err != nil {
		c.log.WithError(err).Warn("cannot read the switch's database from cache")
		return st
	}
	st.Rows = s.rowCounts()
	st.MACsLearned = len(s.localMACs())
	if s.sw != nil {
		st.TunnelIPs = slices.Sorted(slices.Values(s.sw.TunnelIPs))
	}
	if d != nil && ovs != nil && st.Connected {
		p := newPlanner(ovs, s)
		p.plan(d)
		st.InSync = p.err == nil && len(p.ops()) == 0 && len(p.problems) == 0
		st.Problems = p.problems
	}
	return st
}

func (s *snapshot) rowCounts() RowCounts {
	var n RowCounts
	for i := range s.lswitches {
		if owned(&s.lswitches[i]) {
			n.LogicalSwitches++
		}
	}
	for _, p := range s.ports {
		for _, u := range p.VLANBindings {
			if s.ownedLS(u) != nil {
				n.Bindings++
			}
		}
	}
	for _, r := range s.ucastRemote {
		if s.ownedLS(r.LogicalSwitch) != nil {
			n.RemoteMACs++
		}
	}
	for _, r := range s.mcastRemote {
		if s.ownedLS(r.LogicalSwitch) != nil {
			n.FloodEntries++
		}
	}
	return n
}

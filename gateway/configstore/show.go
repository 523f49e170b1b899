package configstore

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// View is what `ovsgw db show` prints: the config and the state of the nodes.
type View struct {
	Generation int
	Config     *model.Config
	Nodes      []configdb.NodeState
	Bindings   []configdb.BindingState
	TorStates  []configdb.TorState    // published by the agents managing switches
	TorMACs    []configdb.TorMACState // MACs the switches learned
	TorLeases  []configdb.TorLease    // who manages each switch, until when (by its clock)
	// VcenterSyncs are the vCenter syncs' status rows.
	VcenterSyncs []gatewaydb.VcenterSync
	// Refused are the config rows out of what the schema allows: while there is one, agents
	// refuse the whole config and keep the one they run. Config is assembled without them.
	Refused configdb.RowErrors
	// Skipped are the state rows out of what the schema allows, which agents skip.
	Skipped configdb.RowErrors
}

// View reads a consistent View: every table in one read, the config
// converted in full (the view is the caller's).
func (s *Store) View() (*View, error) {
	v, err := s.db.View()
	if err != nil {
		return nil, err
	}
	cv := buildConfigView(nil, v.Config) // its own: no copy needed
	return &View{Generation: cv.generation, Config: cv.cfg, Nodes: v.Nodes, Bindings: v.Bindings,
		TorStates: v.TorStates, TorMACs: v.TorMACs, TorLeases: v.TorLeases, VcenterSyncs: v.VcenterSyncs, Refused: cv.refused.Errors(), Skipped: v.Skipped}, nil
}

// Write prints the view for operators: every node with its tunnel IP,
// gateway mode, interfaces used/limit and heartbeat age (STALE past
// staleAfter), then every VMI with where it is bound.
func (v *View) Write(w io.Writer, now time.Time, staleAfter time.Duration) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	c := v.Config
	fmt.Fprintf(tw, "config generation %d: %d virtual networks, %d physical routers, %d virtual machine interfaces\n\n",
		v.Generation, len(c.VirtualNetworks), len(c.PhysicalRouters), len(c.VirtualMachineInterfaces))
	if len(v.Refused) > 0 {
		fmt.Fprintf(tw, "REFUSED CONFIG ROWS: agents refuse the whole config and keep the one they run; fix them (ovsgw db apply) or delete them\n")
		for _, e := range v.Refused {
			fmt.Fprintf(tw, "  %s\n", e)
		}
		fmt.Fprintln(tw)
	}
	if len(v.Skipped) > 0 {
		fmt.Fprintf(tw, "SKIPPED STATE ROWS: agents ignore them\n")
		for _, e := range v.Skipped {
			fmt.Fprintf(tw, "  %s\n", e)
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintln(tw, "NODE\tTUNNEL IP\tGATEWAY MODE\tINTERFACES\tHEARTBEAT\tHA ROLE\t")
	for _, n := range v.Nodes {
		mode := "off"
		if n.GatewayMode {
			mode = "server"
		}
		age := now.Sub(n.Heartbeat).Truncate(100 * time.Millisecond)
		beat := fmt.Sprintf("%v ago", age)
		if n.Stale(now, staleAfter) {
			beat += " STALE"
		}
		role := "-"
		if r := n.Status[configdb.StatusHARole]; r != "" {
			role = fmt.Sprintf("%s of group %s since %s", r, n.Status[configdb.StatusHAGroup], n.Status[configdb.StatusHASince])
			if why := n.Status[configdb.StatusHAReason]; why != "" {
				role += " (" + why + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\t\n", n.Hostname, dash(n.TunnelIP), mode, n.InterfacesUsed, n.InterfacesLimit, beat, role)
	}
	fmt.Fprintln(tw, "\nVMI\tNETWORK\tMAC\tBOUND\t")
	bound := map[string][]string{}
	for _, b := range v.Bindings {
		where := "port " + b.Port
		if b.Kind == configdb.BindingRemote {
			where = fmt.Sprintf("%s vlan %d", b.PhysicalInterface, b.VLAN)
		}
		bound[b.VMI] = append(bound[b.VMI], fmt.Sprintf("%s %s (%s)", b.Node, where, b.Role))
	}
	for _, vmi := range c.VirtualMachineInterfaces {
		at := strings.Join(bound[vmi.Name], ", ")
		if at == "" {
			at = "not bound"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", vmi.Name, vmi.Network, vmi.MAC, at)
		delete(bound, vmi.Name)
	}
	for _, b := range v.Bindings { // bound by a node, but no longer in the config
		if at, ok := bound[b.VMI]; ok {
			fmt.Fprintf(tw, "%s\t-\t-\t%s (not in the config)\t\n", b.VMI, strings.Join(at, ", "))
			delete(bound, b.VMI)
		}
	}
	v.writeTors(tw)
	v.writeVcenterSyncs(tw, now)
	return tw.Flush()
}

// writeVcenterSyncs lists the vCenter syncs: connection, what they map, their VLANs, the last
// error and their reports.
func (v *View) writeVcenterSyncs(tw io.Writer, now time.Time) {
	if len(v.VcenterSyncs) == 0 {
		return
	}
	fmt.Fprintf(tw, "\nVCENTER SYNC\tVCENTER\tCONNECTED\tVMS\tNICS MAPPED\tVLANS USED\tVLANS FREE\tUPDATED\t\n")
	for _, s := range v.VcenterSyncs {
		age := now.Sub(time.UnixMilli(int64(s.Updated))).Truncate(time.Second)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s ago\t\n", s.Name, s.Url, yesNo(s.Connected), s.VmsSeen, s.NicsMapped,
			s.VLANsUsed, s.VLANsFree, age)
	}
	for _, s := range v.VcenterSyncs {
		if s.LastError != "" {
			fmt.Fprintf(tw, "  %s: last error: %s\n", s.Name, s.LastError)
		}
		for _, r := range s.Reports {
			fmt.Fprintf(tw, "  %s: %s\n", s.Name, r)
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeTors prints the ToR switches of the config with what their managing agents published;
// nothing when the config has none and nobody published any.
func (v *View) writeTors(w io.Writer) {
	states := map[string]configdb.TorState{}
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
	leases := map[string]configdb.TorLease{}
	for _, l := range v.TorLeases {
		leases[l.Switch] = l
		names[l.Switch] = true
	}
	managers := map[string]string{}
	for _, sw := range v.Config.TorSwitches {
		managers[sw.Name] = strings.Join(sw.Managers(), ",")
	}
	fmt.Fprintln(w, "\nSWITCH\tMANAGED BY\tTUNNEL IP\tCONNECTED\tIN SYNC\tMACS LEARNED\tLEASE\tMAY MANAGE\t")
	for _, name := range slices.Sorted(maps.Keys(names)) {
		lease := "none"
		if l, ok := leases[name]; ok {
			holder := l.Holder
			if holder == "" {
				holder = "released"
			}
			lease = fmt.Sprintf("%s (epoch %d) until %s", holder, l.Epoch, l.Expires.Format(time.RFC3339Nano))
		}
		st, ok := states[name]
		if !ok {
			fmt.Fprintf(w, "%s\t-\t-\t(no state published)\t-\t-\t%s\t%s\t\n", name, lease, dash(managers[name]))
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t\n", name, st.Node, dash(strings.Join(st.TunnelIPs, ",")), yesNo(st.Connected),
			yesNo(st.InSync), macs[name], lease, dash(managers[name]))
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

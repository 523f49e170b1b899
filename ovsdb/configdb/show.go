package configdb

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	gwmodel "github.com/ovsgw/ovsgw/gateway/model"
)

// View is what `ovsgw db show` prints: the config and the state of the nodes.
type View struct {
	Generation int
	Config     *gwmodel.Config
	Nodes      []NodeState
	Bindings   []BindingState
	TorStates  []TorState    // published by the agents managing switches
	TorMACs    []TorMACState // MACs the switches learned
}

// View reads a consistent View from the cache.
func (c *Client) View() (*View, error) {
	s, err := c.snapshot(doneCtx())
	if err != nil {
		return nil, err
	}
	return &View{Generation: s.generation(), Config: s.config(), Nodes: s.nodeStates(), Bindings: s.bindingStates(),
		TorStates: s.torStateList(), TorMACs: s.torMACList()}, nil
}

// Write prints the view for operators: every node with its tunnel IP,
// gateway mode, interfaces used/limit and heartbeat age (STALE past
// staleAfter), then every VMI with where it is bound.
func (v *View) Write(w io.Writer, now time.Time, staleAfter time.Duration) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	c := v.Config
	fmt.Fprintf(tw, "config generation %d: %d virtual networks, %d physical routers, %d virtual machine interfaces\n\n",
		v.Generation, len(c.VirtualNetworks), len(c.PhysicalRouters), len(c.VirtualMachineInterfaces))
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
		if r := n.Status[StatusHARole]; r != "" {
			role = fmt.Sprintf("%s of group %s since %s", r, n.Status[StatusHAGroup], n.Status[StatusHASince])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\t\n", n.Hostname, dash(n.TunnelIP), mode, n.InterfacesUsed, n.InterfacesLimit, beat, role)
	}
	fmt.Fprintln(tw, "\nVMI\tNETWORK\tMAC\tBOUND\t")
	bound := map[string][]string{}
	for _, b := range v.Bindings {
		where := "port " + b.Port
		if b.Kind == BindingRemote {
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
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

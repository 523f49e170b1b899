package configdb

import (
	"cmp"
	"slices"
	"strings"

	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// View is every table of one consistent read: the config tables as rows
// (the domain side converts them, see gateway/configstore) and the state
// the nodes publish, each list sorted as Nodes, Bindings, TorStates and
// TorMACs sort it. It is what `ovsgw db show` prints.
type View struct {
	Config    ConfigRead
	Nodes     []NodeState
	Bindings  []BindingState
	TorStates []TorState    // published by the agents managing switches
	TorMACs   []TorMACState // MACs the switches learned
	TorLeases []TorLease    // who manages each switch, until when
	// VcenterSyncs are the status rows of the vCenter syncs, by name.
	VcenterSyncs []gatewaydb.VcenterSync
	// Skipped are the problems of the state rows left out of the lists above, refused by
	// their checks (see check.go).
	Skipped RowErrors
}

// View reads every table consistently from the cache, in one read. A
// ConfigOnly client cannot.
func (c *Client) View() (*View, error) {
	r, err := c.conn().read(allTables)
	if err != nil {
		return nil, err
	}
	v := &View{Config: ConfigRead{r}}
	var skipped [5]RowErrors
	v.Nodes, skipped[0] = list(r[gatewaydb.NodeTable], nodeState, func(a, b *NodeState) int {
		return strings.Compare(a.Hostname, b.Hostname)
	})
	v.Bindings, skipped[1] = list(r[gatewaydb.BindingTable], bindingState, func(a, b *BindingState) int {
		return cmp.Or(strings.Compare(a.VMI, b.VMI), strings.Compare(a.Node, b.Node))
	})
	v.TorStates, skipped[2] = list(r[gatewaydb.TorStateTable], torState, func(a, b *TorState) int {
		return strings.Compare(a.Switch, b.Switch)
	})
	v.TorMACs, skipped[3] = list(r[gatewaydb.TorMACTable], torMACState, func(a, b *TorMACState) int {
		return cmp.Or(strings.Compare(a.Switch, b.Switch), cmp.Compare(a.VNI, b.VNI), strings.Compare(a.MAC, b.MAC))
	})
	v.TorLeases, skipped[4] = list(r[gatewaydb.TorLeaseTable], torLease, func(a, b *TorLease) int {
		return strings.Compare(a.Switch, b.Switch)
	})
	v.VcenterSyncs = values[gatewaydb.VcenterSync](r[gatewaydb.VcenterSyncTable])
	slices.SortFunc(v.VcenterSyncs, func(a, b gatewaydb.VcenterSync) int { return strings.Compare(a.Name, b.Name) })
	for _, s := range skipped {
		v.Skipped = append(v.Skipped, s...)
	}
	v.Skipped.sort()
	return v, nil
}

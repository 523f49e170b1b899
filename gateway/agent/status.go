package agent

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
)

// Status implements control.Backend.
func (a *Agent) Status() control.Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := control.Status{
		Node:              a.conf.Hostname,
		GatewayMode:       a.conf.GatewayEnabled(),
		Bridge:            a.conf.Bridge,
		InterfacesLimit:   a.conf.MaxInterfaces,
		ConfigFile:        a.conf.ConfigFile,
		ConfigLoadedAt:    a.loadedAt,
		LastConfigError:   a.cfgErr,
		LastConfigErrorAt: a.cfgErrAt,
		OVSDBConnected:    a.ovs != nil && a.ovs.Connected(),
		OpenFlowConnected: a.of != nil,
		LastSync:          a.lastSync,
		LastSyncChanges:   a.syncN,
		LastSyncError:     a.syncErr,
	}
	if s.GatewayMode {
		s.InterfacesUsed = a.idx.InterfacesUsed(a.conf.Hostname)
	} else {
		s.GatewayModeReason = fmt.Sprintf("[DEFAULT] gateway_mode = server is not set in %s: logical interfaces of this node are ignored (restart the agent after setting it)", a.conf.Path)
	}
	if a.out != nil {
		s.Flows, s.Groups = len(a.out.Flows), len(a.out.Groups)
		s.Bindings, s.Notices = a.out.Bindings, a.out.Notices
	}
	return s
}

// Flows implements control.Backend: the bridge's flows as installed now, each annotated with
// the table and object it serves.
func (a *Agent) Flows(ctx context.Context, f control.FlowFilter) (*control.Flows, error) {
	a.mu.Lock()
	conn, out, idx := a.of, a.out, a.idx
	a.mu.Unlock()
	if conn == nil || out == nil {
		return nil, errNotConnected
	}
	var table *uint8
	if f.Table != "" {
		t, err := parseTable(f.Table)
		if err != nil {
			return nil, err
		}
		table = &t
	}
	if f.VMI != "" && idx.VMIs[f.VMI] == nil {
		return nil, fmt.Errorf("vmi %q is not in the config in force", f.VMI)
	}
	if f.VN != "" && idx.VNs[f.VN] == nil {
		return nil, fmt.Errorf("vn %q is not in the config in force", f.VN)
	}
	flows, err := conn.DumpFlows(ctx, table)
	if err != nil {
		return nil, err
	}
	groups, err := conn.DumpGroups(ctx)
	if err != nil {
		return nil, err
	}
	owner := func(kind pipeline.Kind, id uint32) (string, string, string) {
		name := out.Names[kind][id]
		network := ""
		switch kind {
		case pipeline.KindVN:
			network = name
		case pipeline.KindVMI:
			if v := idx.VMIs[name]; v != nil {
				network = v.Network
			}
		}
		return kind.String(), name, network
	}
	keep := func(kind, name, network string) bool {
		return (f.VMI == "" || (kind == pipeline.KindVMI.String() && name == f.VMI)) &&
			(f.VN == "" || network == f.VN)
	}
	res := &control.Flows{Bridge: a.conf.Bridge}
	for _, fl := range flows {
		kind, name, network := "foreign", "", ""
		if k, id, ok := pipeline.ParseCookie(fl.Cookie); ok {
			kind, name, network = owner(k, id)
		}
		if !keep(kind, name, network) {
			continue
		}
		res.Flows = append(res.Flows, control.Flow{
			Table: fl.Table, TableName: pipeline.TableNames[fl.Table], Priority: fl.Priority,
			Cookie: fmt.Sprintf("%#x", fl.Cookie), Match: fl.Match.String(), Actions: fl.ActionsString(),
			Packets: fl.Packets, Bytes: fl.Bytes, Duration: fl.Duration.Seconds(),
			OwnerKind: kind, OwnerName: name, Network: network, Text: fl.Flow.String(),
		})
	}
	sort.SliceStable(res.Flows, func(i, j int) bool {
		x, y := res.Flows[i], res.Flows[j]
		if x.Table != y.Table {
			return x.Table < y.Table
		}
		return x.Priority > y.Priority
	})
	if table == nil && f.VMI == "" {
		for _, g := range groups {
			kind, name, network := "foreign", "", ""
			if pipeline.OwnedGroup(g.ID) {
				kind, name, network = owner(pipeline.KindVN, g.ID&^pipeline.FloodGroupBase)
			}
			if keep(kind, name, network) {
				res.Groups = append(res.Groups, control.Group{ID: g.ID, OwnerKind: kind, OwnerName: name, Text: g.String()})
			}
		}
	}
	return res, nil
}

func parseTable(s string) (uint8, error) {
	for id, name := range pipeline.TableNames {
		if name == s {
			return id, nil
		}
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		names := make([]string, 0, len(pipeline.TableNames))
		for _, name := range pipeline.TableNames {
			names = append(names, name)
		}
		sort.Strings(names)
		return 0, fmt.Errorf("table %q: not a table name (%v) or number 0..254", s, names)
	}
	return uint8(n), nil
}

package agent

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/openflow"
)

// Status implements control.Backend.
func (a *Agent) Status(ctx context.Context, counters bool) control.Status {
	a.mu.Lock()
	s := control.Status{
		Node:               a.conf.Hostname,
		GatewayMode:        a.conf.GatewayEnabled(),
		Bridge:             a.conf.Bridge,
		InterfacesLimit:    a.conf.MaxInterfaces,
		ConfigFile:         a.src.String(),
		ConfigLoadedAt:     a.loadedAt,
		ConfigGeneration:   a.cfgGen,
		SyncedGeneration:   a.syncedGen,
		LastConfigError:    a.cfgErr,
		LastConfigErrorAt:  a.cfgErrAt,
		OVSDBConnected:     a.ovs != nil && a.ovs.Connected(),
		OpenFlowConnected:  a.of != nil,
		LastSync:           a.lastSync,
		LastSyncChanges:    a.syncN,
		LastSyncSeconds:    a.timings,
		ConfigCheckSeconds: a.checkSecs,
		LastSyncError:      a.syncErr,
	}
	if s.GatewayMode {
		s.InterfacesUsed = a.idx.InterfacesUsed(a.conf.Hostname)
	} else {
		s.GatewayModeReason = fmt.Sprintf("[DEFAULT] gateway_mode = server is not set in %s: logical interfaces of this node are ignored (restart the agent after setting it)", a.conf.Path)
	}
	s.HA = a.haStatus()
	if a.tors != nil {
		s.TorSwitches = a.tors.Statuses()
	}
	if a.out != nil {
		s.Flows, s.Groups = len(a.out.Flows), len(a.out.Groups)
		s.Bindings, s.Notices = a.out.Bindings, a.out.Notices
	}
	conn, out := a.of, a.out
	a.mu.Unlock()
	if counters && conn != nil && out != nil {
		if flows, err := conn.DumpFlows(ctx, nil); err == nil {
			s.Drops = countDrops(flows, out)
		}
	}
	return s
}

// countDrops adds up the packet counters of ovsgw's drop flows by reason and by VMI.
func countDrops(flows []openflow.InstalledFlow, out *pipeline.Output) *control.Drops {
	d := &control.Drops{ByReason: map[string]uint64{}, ByVMI: map[string]map[string]uint64{}}
	for _, reason := range pipeline.DropReasons {
		d.ByReason[reason] = 0
	}
	for _, f := range flows {
		kind, why, id, ok := pipeline.ParseCookie(f.Cookie)
		if !ok || why == pipeline.Forward {
			continue
		}
		reason := pipeline.DropReasons[why]
		d.ByReason[reason] += f.Packets
		if kind == pipeline.KindVMI {
			vmi := out.Names[pipeline.KindVMI][id]
			if d.ByVMI[vmi] == nil {
				d.ByVMI[vmi] = map[string]uint64{}
			}
			d.ByVMI[vmi][reason] += f.Packets
		}
	}
	return d
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
	res := &control.Flows{Bridge: a.conf.Bridge}
	for _, fl := range flows {
		cf := annotate(fl, out, idx)
		if (f.VMI == "" || contains(cf.VMIs, f.VMI)) && (f.VN == "" || cf.Network == f.VN) {
			res.Flows = append(res.Flows, cf)
		}
	}
	if table == nil && f.VMI == "" {
		for _, g := range groups {
			cg := control.Group{ID: g.ID, OwnerKind: "foreign", Text: g.String()}
			if pipeline.OwnedGroup(g.ID) {
				cg.OwnerKind, cg.OwnerName = pipeline.KindVN.String(), out.Names[pipeline.KindVN][pipeline.GroupVNI(g.ID)]
			}
			if f.VN == "" || cg.OwnerName == f.VN {
				res.Groups = append(res.Groups, cg)
			}
		}
	}
	return res, nil
}

// annotate names a flow's table, owner, drop reason, VN and the VMIs it serves: its owner, or
// the VMIs its match selects by source or destination register (a security group rule's flow
// serves the VMI it is compiled for).
func annotate(fl openflow.InstalledFlow, out *pipeline.Output, idx *model.Index) control.Flow {
	cf := control.Flow{
		Table: fl.Table, TableName: pipeline.TableNames[fl.Table], Priority: fl.Priority,
		Cookie: fmt.Sprintf("%#x", fl.Cookie), Match: fl.Match.String(), Actions: fl.ActionsString(),
		Packets: fl.Packets, Bytes: fl.Bytes, Duration: fl.Duration.Seconds(),
		OwnerKind: "foreign", Text: fl.Flow.String(),
	}
	kind, why, id, ok := pipeline.ParseCookie(fl.Cookie)
	if !ok {
		return cf
	}
	cf.OwnerKind, cf.OwnerName, cf.Drop = kind.String(), out.Names[kind][id], pipeline.DropReasons[why]
	switch kind {
	case pipeline.KindVN:
		cf.Network = cf.OwnerName
	case pipeline.KindVMI:
		cf.VMIs = []string{cf.OwnerName}
	}
	for _, reg := range []openflow.Field{pipeline.RegSrcVMI, pipeline.RegDstVMI} {
		if m, ok := fl.Match.Get(reg); ok && m.Mask == nil {
			if name := out.Names[pipeline.KindVMI][uint32(toUint(m.Value))]; name != "" && !contains(cf.VMIs, name) {
				cf.VMIs = append(cf.VMIs, name)
			}
		}
	}
	if m, ok := fl.Match.Get(pipeline.RegVN); ok && cf.Network == "" {
		cf.Network = out.Names[pipeline.KindVN][uint32(toUint(m.Value))]
	}
	if cf.Network == "" && len(cf.VMIs) > 0 {
		if v := idx.VMIs[cf.VMIs[0]]; v != nil {
			cf.Network = v.Network
		}
	}
	return cf
}

func toUint(b []byte) uint64 {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
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

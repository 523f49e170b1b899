package agent

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/openflow"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
)

// Status implements control.Backend. It answers from what the agent's loops recorded: the
// agent's lock is held only to copy that, never while anything asks a switch or a database
// (a ToR switch that does not answer, or a reconcile in progress, must not hold up status).
func (a *Agent) Status(ctx context.Context, counters bool) control.Status {
	a.mu.Lock()
	ovs, tors, ha := a.ovs, a.tors, a.ha
	s := control.Status{
		Node:                 a.conf.Hostname,
		GatewayMode:          a.conf.GatewayEnabled(),
		Waiting:              a.waiting,
		Bridge:               a.conf.Bridge,
		InterfacesLimit:      a.conf.MaxInterfaces,
		ConfigLoadedAt:       a.loadedAt,
		ConfigGeneration:     a.cfgGen,
		SyncedGeneration:     a.syncedGen,
		LastConfigError:      a.cfgErr,
		LastConfigErrorAt:    a.cfgErrAt,
		OpenFlowConnected:    a.of != nil,
		LastSync:             a.lastSync,
		LastSyncChanges:      a.syncN,
		LastChange:           a.lastChange,
		LastChangeGeneration: a.lastChangeGen,
		LastChangeMods:       a.lastChangeMods,
		LastSyncSeconds:      a.timings,
		ConfigCheckSeconds:   a.checkSecs,
		LastSyncError:        a.syncErr,
		SyncFailures:         a.syncFailures,
		PurgeFailures:        a.purgeFailures,
	}
	if a.src != nil {
		s.ConfigFile = a.src.String()
	} else {
		s.ConfigFile = "ovsdb:" + strings.Join(a.conf.ConfigDB, ",")
	}
	if s.GatewayMode {
		if a.idx != nil { // nil while waiting for the config DB
			s.InterfacesUsed = a.idx.InterfacesUsed(a.conf.Hostname)
		}
	} else {
		s.GatewayModeReason = fmt.Sprintf("[DEFAULT] gateway_mode = server is not set in %s: logical interfaces of this node are ignored (restart the agent after setting it)", a.conf.Path)
	}
	if a.tors != nil { // the lease rows are the config DB client's cache: no I/O
		s.TorLeases = a.torLeaseStatus()
	}
	if a.view != nil {
		s.Flows, s.Groups = a.view.flows, a.view.groups
		s.Bindings, s.Notices, s.Networks = a.view.bindings, a.view.notices, a.view.networks
		s.BindingsTotal = len(a.view.bindings)
		for _, b := range a.view.bindings {
			if b.Bound {
				s.BindingsBound++
			}
		}
	}
	s.Notices = append(s.Notices, a.bridgeNotices...)
	conn, out := a.of, a.view
	a.mu.Unlock()
	s.OVSDBConnected = ovs != nil && ovs.Connected()
	s.HA = a.haStatus(ha)
	if tors != nil {
		s.TorSwitches = tors.Statuses()
	}
	if a.db != nil {
		sk := a.db.SkippedState()
		s.SkippedStateRowsTotal = sk.Total
		for _, e := range sk.Rows {
			s.SkippedStateRows = append(s.SkippedStateRows, e.Error())
		}
	}
	if counters && conn != nil && out != nil {
		s.Drops = readDrops(ctx, conn, out)
		s.Services = a.servicesStatus(ctx, conn)
	}
	return s
}

// readDrops reads the counters of ovsgw's drop flows only, a block of reasons at a time (the
// switch filters by cookie): a status must not cost a dump of every flow of the bridge. Nil when the
// bridge cannot be read.
func readDrops(ctx context.Context, conn flowSession, out *compiledView) *control.Drops {
	var flows []openflow.FlowCounters
	for _, sel := range pipeline.DropCookies() {
		part, err := conn.DumpFlowsByCookie(ctx, sel[0], sel[1])
		if err != nil {
			return nil
		}
		for _, f := range part {
			flows = append(flows, openflow.FlowCounters{Table: f.Table, Cookie: f.Cookie, Packets: f.Packets, Bytes: f.Bytes})
		}
	}
	return countDrops(flows, out)
}

// countDrops adds up the packet counters of ovsgw's drop flows by reason and by VMI.
func countDrops(flows []openflow.FlowCounters, out *compiledView) *control.Drops {
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
			vmi := out.names[pipeline.KindVMI][id]
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
	conn, out, idx := a.of, a.view, a.idx
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
			if pipeline.OwnedGroup(g) {
				cg.OwnerKind, cg.OwnerName = pipeline.KindVN.String(), out.names[pipeline.KindVN][pipeline.GroupVNI(g.ID)]
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
func annotate(fl openflow.InstalledFlow, out *compiledView, idx *model.Index) control.Flow {
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
	cf.OwnerKind, cf.OwnerName, cf.Drop = kind.String(), out.names[kind][id], pipeline.DropReasons[why]
	switch kind {
	case pipeline.KindVN:
		cf.Network = cf.OwnerName
	case pipeline.KindVMI:
		cf.VMIs = []string{cf.OwnerName}
	}
	for _, reg := range []openflow.Field{pipeline.RegSrcVMI, pipeline.RegDstVMI} {
		if m, ok := fl.Match.Get(reg); ok && m.Mask == nil {
			if name := out.names[pipeline.KindVMI][uint32(toUint(m.Value))]; name != "" && !contains(cf.VMIs, name) {
				cf.VMIs = append(cf.VMIs, name)
			}
		}
	}
	if m, ok := fl.Match.Get(pipeline.RegVN); ok && cf.Network == "" {
		cf.Network = out.names[pipeline.KindVN][uint32(toUint(m.Value))]
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

// torLeaseStatus lists every switch of the config in force with its lease; called with a.mu held.
func (a *Agent) torLeaseStatus() []control.TorLease {
	leases := map[string]configdb.TorLease{}
	for _, l := range a.db.TorLeases() {
		leases[l.Switch] = l
	}
	var out []control.TorLease
	for _, sw := range a.idx.Config.TorSwitches {
		st := control.TorLease{Switch: sw.Name, Managers: sw.Managers()}
		if l, ok := leases[sw.Name]; ok {
			st.Holder, st.Epoch, st.Expires = l.Holder, l.Epoch, &l.Expires
		}
		if until, ok := a.torHeld[sw.Name]; ok {
			st.WriteUntil = &until
		}
		out = append(out, st)
	}
	return out
}

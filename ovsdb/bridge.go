package ovsdb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/ovn-kubernetes/libovsdb/model"
	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/logging"
	"github.com/ovsgw/ovsgw/ovsdb/clientkit"
	"github.com/ovsgw/ovsgw/ovsdb/vswitchd"
)

// Bridge settings ovsgw sets; the names and values are from
// vswitch.ovsschema / ovs-vswitchd.conf.db(5).
const (
	// failModeSecure: without a controller, drop instead of falling back
	// to a learning switch that would bridge the NICs by itself. Set on a
	// bridge ovsgw creates; on a bridge it adopts, only reported when
	// different (BridgeNotices).
	failModeSecure = "secure"
	// failModeDefault is what ovs-vswitchd does with fail_mode unset.
	failModeDefault = "standalone"
	// openFlow13 is the one version ovsgw's flow programming speaks. An
	// adopted bridge that lists protocols without it gets it added; the
	// others stay, and an empty list (every version) stays empty.
	openFlow13 = "OpenFlow13"
	// disableInBandKey/Value stop ovs-vswitchd from installing its hidden
	// in-band control flows, which would bypass ovsgw's pipeline.
	disableInBandKey   = "disable-in-band"
	disableInBandValue = "true"
	// localPortType is the type of a bridge's own port (named like the
	// bridge), as `ovs-vsctl add-br` creates it.
	localPortType = "internal"
)

// BridgeSpec is the integration bridge ovsgw wants.
type BridgeSpec struct {
	Name         string
	DatapathType string   // "system", "netdev", or "" for the OVS default
	Ports        []string // physical NIC names to attach
	Tunnel       *Tunnel  // the overlay's VXLAN port; nil: none
}

// Tunnel is a flow-based VXLAN port: the VNI (key) and the remote address are set per flow.
type Tunnel struct {
	Name    string
	LocalIP string // the node's tunnel address (the VXLAN source)
}

// options are the Interface options of a flow-based VXLAN port.
func (t *Tunnel) options() map[string]string {
	return map[string]string{"remote_ip": "flow", "key": "flow", "local_ip": t.LocalIP}
}

// tunnelType is the Interface type of the overlay port.
const tunnelType = "vxlan"

// EnsureBridge makes the database match spec in one transaction: it creates
// the bridge (with its local internal port, fail_mode=secure and
// protocols=[OpenFlow13]) or adopts an existing one (adding OpenFlow13 to
// the protocols it lists, if any, keeping the others, and leaving its
// fail_mode: BridgeNotices reports one that is not secure), enforces the
// datapath type, other_config:disable-in-band=true and the owner tag, adds
// each missing NIC port and removes ports ovsgw created that spec no longer
// lists. Ports ovsgw did not create are never touched. When nothing differs
// it sends nothing. It returns once the cache shows the result, so a
// following call or Interfaces sees it.
func (c *Client) EnsureBridge(ctx context.Context, spec BridgeSpec) error {
	what := fmt.Sprintf("ensure bridge %q", spec.Name)
	if spec.Name == "" {
		return fmt.Errorf("%s: empty bridge name", what)
	}
	c.ensureMu.Lock()
	defer c.ensureMu.Unlock()
	plan := func() ([]libovsdb.Operation, error) {
		s, err := c.snapshot(ctx)
		if err != nil {
			return nil, err
		}
		return c.bridgeOps(spec, s)
	}
	ops, err := plan()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if len(ops) == 0 {
		log.WithField(logging.Bridge, spec.Name).Debug("bridge up to date")
		return nil
	}
	c.transactions.Add(1)
	if err := clientkit.Transact(ctx, log, c.ovs, transactTimeout, what, ops); err != nil {
		return err
	}
	log.WithFields(logrus.Fields{logging.Bridge: spec.Name, "ports": spec.Ports}).Info("bridge configured")
	return clientkit.WaitCache(ctx, cacheSyncTimeout, what, c.sig.Updated, func() (bool, error) {
		ops, err := plan()
		return len(ops) == 0, err
	})
}

// bridgeOps returns the operations that make s match spec, none when it
// already does.
func (c *Client) bridgeOps(spec BridgeSpec, s *snapshot) ([]libovsdb.Operation, error) {
	if s.root == nil {
		return nil, errors.New("no Open_vSwitch row: database not initialised (ovs-vsctl init)")
	}
	want := []string{spec.Name} // the local port first, as ovs-vsctl does
	for _, p := range spec.Ports {
		if !slices.Contains(want, p) {
			want = append(want, p)
		}
	}
	if spec.Tunnel != nil && !slices.Contains(want, spec.Tunnel.Name) {
		want = append(want, spec.Tunnel.Name)
	}
	br := s.bridges[spec.Name]
	onBridge := map[string]*vswitchd.Port{} // name -> port, this bridge only
	if br != nil {
		for _, u := range br.Ports {
			if p := s.ports[u]; p != nil {
				onBridge[p.Name] = p
			}
		}
	}

	var ops []libovsdb.Operation
	var added []string // named UUIDs of new ports
	for i, name := range want {
		if onBridge[name] != nil {
			continue
		}
		if u, ok := s.portUUID[name]; ok {
			return nil, fmt.Errorf("port %q is already on bridge %q", name, s.portBr[u])
		}
		typ, opts := "", map[string]string(nil)
		switch {
		case name == spec.Name:
			typ = localPortType
		case spec.Tunnel != nil && name == spec.Tunnel.Name:
			typ, opts = tunnelType, spec.Tunnel.options()
		}
		portOps, named, err := c.newPortOps(name, typ, opts, i)
		if err != nil {
			return nil, err
		}
		ops = append(ops, portOps...)
		added = append(added, named)
	}

	if br == nil {
		return c.newBridgeOps(spec, s.root, added, ops)
	}
	upd, err := c.bridgeUpdateOps(spec, br)
	if err != nil {
		return nil, err
	}
	ops = append(ops, upd...)
	if spec.Tunnel != nil && onBridge[spec.Tunnel.Name] != nil {
		tun, err := c.tunnelUpdateOps(spec.Tunnel, onBridge[spec.Tunnel.Name], s)
		if err != nil {
			return nil, err
		}
		ops = append(ops, tun...)
	}

	var removed []string
	var deletes []libovsdb.Operation
	for _, name := range slices.Sorted(maps.Keys(onBridge)) { // sorted: stable transactions
		p := onBridge[name]
		if !owned(p.ExternalIDs) || slices.Contains(want, name) {
			continue
		}
		removed = append(removed, p.UUID)
		del, err := c.deletePortOps(p, s)
		if err != nil {
			return nil, err
		}
		deletes = append(deletes, del...)
	}
	if len(added) > 0 || len(removed) > 0 {
		m := &vswitchd.Bridge{UUID: br.UUID}
		var muts []model.Mutation
		if len(added) > 0 {
			muts = append(muts, model.Mutation{Field: &m.Ports, Mutator: libovsdb.MutateOperationInsert, Value: added})
		}
		if len(removed) > 0 {
			muts = append(muts, model.Mutation{Field: &m.Ports, Mutator: libovsdb.MutateOperationDelete, Value: removed})
		}
		mut, err := c.ovs.Where(m).Mutate(m, muts...)
		if err != nil {
			return nil, fmt.Errorf("build ports mutation of bridge %q: %w", spec.Name, err)
		}
		ops = append(ops, mut...)
	}
	// Deletes go after the bridge stops referring to the rows.
	return append(ops, deletes...), nil
}

// newPortOps inserts an owned Interface and Port named name; i makes the
// transaction-local names unique. It returns the Port's named UUID.
func (c *Client) newPortOps(name, typ string, options map[string]string, i int) ([]libovsdb.Operation, string, error) {
	iface := &vswitchd.Interface{
		UUID:        fmt.Sprintf("ovsgw_iface_%d", i),
		Name:        name,
		Type:        typ,
		Options:     options,
		ExternalIDs: map[string]string{OwnerKey: OwnerValue},
	}
	port := &vswitchd.Port{
		UUID:        fmt.Sprintf("ovsgw_port_%d", i),
		Name:        name,
		Interfaces:  []string{iface.UUID},
		ExternalIDs: map[string]string{OwnerKey: OwnerValue},
	}
	ops, err := c.ovs.Create(iface)
	if err != nil {
		return nil, "", fmt.Errorf("build insert of interface %q: %w", name, err)
	}
	pops, err := c.ovs.Create(port)
	if err != nil {
		return nil, "", fmt.Errorf("build insert of port %q: %w", name, err)
	}
	return append(ops, pops...), port.UUID, nil
}

// newBridgeOps inserts the bridge with its ports and links it from the
// root row; a Bridge no root row refers to would be garbage-collected.
func (c *Client) newBridgeOps(spec BridgeSpec, root *vswitchd.OpenvSwitch, ports []string, ops []libovsdb.Operation) ([]libovsdb.Operation, error) {
	fail := failModeSecure
	br := &vswitchd.Bridge{
		UUID:         "ovsgw_bridge",
		Name:         spec.Name,
		Ports:        ports,
		FailMode:     &fail,
		Protocols:    []string{openFlow13},
		DatapathType: spec.DatapathType,
		OtherConfig:  map[string]string{disableInBandKey: disableInBandValue},
		ExternalIDs:  map[string]string{OwnerKey: OwnerValue},
	}
	ins, err := c.ovs.Create(br)
	if err != nil {
		return nil, fmt.Errorf("build insert of bridge %q: %w", spec.Name, err)
	}
	r := &vswitchd.OpenvSwitch{UUID: root.UUID}
	mut, err := c.ovs.Where(r).Mutate(r, model.Mutation{
		Field: &r.Bridges, Mutator: libovsdb.MutateOperationInsert, Value: []string{br.UUID},
	})
	if err != nil {
		return nil, fmt.Errorf("build link of bridge %q from Open_vSwitch: %w", spec.Name, err)
	}
	ops = append(ops, ins...)
	return append(ops, mut...), nil
}

// bridgeUpdateOps corrects the settings of an existing bridge. Map keys are
// changed with delete+insert mutations so that other keys, which may belong
// to someone else, are left alone; OpenFlow13 is inserted into the
// protocols set likewise. fail_mode is not touched: the bridge's owner chose
// it, and changing it makes ovs-vswitchd delete every flow of the bridge,
// others' too.
func (c *Client) bridgeUpdateOps(spec BridgeSpec, br *vswitchd.Bridge) ([]libovsdb.Operation, error) {
	m := &vswitchd.Bridge{UUID: br.UUID}
	var fields []any
	if br.DatapathType != spec.DatapathType {
		m.DatapathType = spec.DatapathType
		fields = append(fields, &m.DatapathType)
	}
	var ops []libovsdb.Operation
	if len(fields) > 0 {
		upd, err := c.ovs.Where(m).Update(m, fields...)
		if err != nil {
			return nil, fmt.Errorf("build update of bridge %q: %w", spec.Name, err)
		}
		ops = append(ops, upd...)
	}
	var muts []model.Mutation
	setKey := func(field *map[string]string, have map[string]string, key, value string) {
		if v, ok := have[key]; ok && v == value {
			return
		}
		muts = append(muts,
			model.Mutation{Field: field, Mutator: libovsdb.MutateOperationDelete, Value: []string{key}},
			model.Mutation{Field: field, Mutator: libovsdb.MutateOperationInsert, Value: map[string]string{key: value}})
	}
	setKey(&m.OtherConfig, br.OtherConfig, disableInBandKey, disableInBandValue)
	setKey(&m.ExternalIDs, br.ExternalIDs, OwnerKey, OwnerValue)
	if len(br.Protocols) > 0 && !slices.Contains(br.Protocols, openFlow13) {
		muts = append(muts, model.Mutation{Field: &m.Protocols, Mutator: libovsdb.MutateOperationInsert, Value: []string{openFlow13}})
		log.WithFields(logrus.Fields{logging.Bridge: spec.Name, "protocols": br.Protocols}).Infof("adding %s to the bridge's protocols", openFlow13)
	}
	if len(muts) > 0 {
		mut, err := c.ovs.Where(m).Mutate(m, muts...)
		if err != nil {
			return nil, fmt.Errorf("build config mutation of bridge %q: %w", spec.Name, err)
		}
		ops = append(ops, mut...)
	}
	return ops, nil
}

// BridgeNotices reads from the cache what an operator must know about the
// settings of bridge that ovsgw found and left as they were (nil when the
// bridge does not exist or all is well): a fail_mode other than secure.
func (c *Client) BridgeNotices(bridge string) []string {
	var bridges []vswitchd.Bridge
	if err := c.ovs.List(endedContext(), &bridges); err != nil {
		return nil
	}
	for i := range bridges {
		if bridges[i].Name == bridge {
			return bridgeNotices(&bridges[i])
		}
	}
	return nil
}

// ConfigSeq reads from the cache the configuration sequence numbers of the
// Open_vSwitch row: next (bumped by each database change a client wants
// ovs-vswitchd to apply, as ovs-vsctl does) and cur (what ovs-vswitchd has
// applied). A change made at next is in effect once cur reaches it.
func (c *Client) ConfigSeq() (next, cur int) {
	var roots []vswitchd.OpenvSwitch
	if err := c.ovs.List(endedContext(), &roots); err != nil || len(roots) == 0 {
		return 0, 0
	}
	return roots[0].NextCfg, roots[0].CurCfg
}

// endedContext makes libovsdb's List read the cache without waiting: while
// the client reconnects it serves the last complete state.
func endedContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func bridgeNotices(br *vswitchd.Bridge) []string {
	mode := failModeDefault + " (unset)"
	if br.FailMode != nil {
		mode = *br.FailMode
	}
	if mode == failModeSecure {
		return nil
	}
	return []string{fmt.Sprintf("bridge %q: fail_mode is %s, not %s: ovs-vswitchd keeps a NORMAL flow of its own "+
		"(a learning switch beside ovsgw's pipeline, which ovsgw leaves alone as it does every flow not its own); "+
		"ovsgw does not change the fail mode of a bridge it did not create (`ovs-vsctl set-fail-mode %s %s` does, and makes "+
		"ovs-vswitchd delete the bridge's flows once; ovsgw then puts its own back)",
		br.Name, mode, failModeSecure, br.Name, failModeSecure)}
}

// deletePortOps deletes an owned port and its owned interfaces explicitly
// rather than relying on garbage collection, so the intent is visible in
// the transaction.
func (c *Client) deletePortOps(p *vswitchd.Port, s *snapshot) ([]libovsdb.Operation, error) {
	ops, err := c.ovs.Where(&vswitchd.Port{UUID: p.UUID}).Delete()
	if err != nil {
		return nil, fmt.Errorf("build delete of port %q: %w", p.Name, err)
	}
	for _, u := range p.Interfaces {
		if i := s.ifaces[u]; i != nil && owned(i.ExternalIDs) {
			del, err := c.ovs.Where(&vswitchd.Interface{UUID: u}).Delete()
			if err != nil {
				return nil, fmt.Errorf("build delete of interface %q: %w", i.Name, err)
			}
			ops = append(ops, del...)
		}
	}
	return ops, nil
}

// tunnelUpdateOps corrects the type and options of the existing tunnel port's interface (say,
// after the node's tunnel address changed). A port of that name ovsgw did not create is an
// error: it is not ovsgw's to change.
func (c *Client) tunnelUpdateOps(t *Tunnel, p *vswitchd.Port, s *snapshot) ([]libovsdb.Operation, error) {
	if !owned(p.ExternalIDs) {
		return nil, fmt.Errorf("port %q exists but was not created by ovsgw; it cannot serve as the tunnel port", t.Name)
	}
	for _, u := range p.Interfaces {
		iface := s.ifaces[u]
		if iface == nil || (iface.Type == tunnelType && maps.Equal(iface.Options, t.options())) {
			continue
		}
		upd := &vswitchd.Interface{UUID: iface.UUID, Type: tunnelType, Options: t.options()}
		ops, err := c.ovs.Where(upd).Update(upd, &upd.Type, &upd.Options)
		if err != nil {
			return nil, fmt.Errorf("build update of tunnel interface %q: %w", t.Name, err)
		}
		return ops, nil
	}
	return nil, nil
}

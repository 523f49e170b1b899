package configdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovsgw/ovsgw/ovsdb/clientkit"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// Rows a program other than `ovsgw db apply` generates and keeps (a vCenter
// sync): logical interfaces and VMIs marked external_ids:owner (OwnerKey),
// which ApplyRows leaves alone, and that program's status row
// (Vcenter_Sync). The writer reads the config tables with OwnedRead and
// writes only the difference to its own rows with WriteOwned.

// ErrOwnedConflict is returned by WriteOwned when another writer changed
// the config (its generation) after the read the write was planned from:
// a VLAN, a name or an address the plan took may be taken now. Nothing was
// written: read again and plan again.
var ErrOwnedConflict = errors.New("the config changed since it was read; nothing was written")

// OwnedView is one consistent read of what a generating writer plans
// against: the config tables, the nodes' interface budgets, and the
// status rows of the syncs. Read-only: the rows are the cache's.
type OwnedView struct {
	Networks           []gatewaydb.VirtualNetwork
	PhysicalInterfaces []gatewaydb.PhysicalInterface
	LogicalInterfaces  []gatewaydb.LogicalInterface
	VMIs               []gatewaydb.VirtualMachineInterface
	Nodes              []gatewaydb.Node
	Syncs              []gatewaydb.VcenterSync
	// Generation is the config generation of the read (0: never written).
	Generation int
	root       *gatewaydb.OVSGW
}

// OwnedRead reads the tables of an OwnedView consistently from the cache.
func (c *Client) OwnedRead() (*OwnedView, error) {
	r, err := c.conn().read([]string{gatewaydb.OVSGWTable, gatewaydb.VirtualNetworkTable, gatewaydb.PhysicalInterfaceTable,
		gatewaydb.LogicalInterfaceTable, gatewaydb.VirtualMachineInterfaceTable, gatewaydb.NodeTable,
		gatewaydb.VcenterSyncTable})
	if err != nil {
		return nil, err
	}
	v := &OwnedView{
		Networks:           values[gatewaydb.VirtualNetwork](r[gatewaydb.VirtualNetworkTable]),
		PhysicalInterfaces: values[gatewaydb.PhysicalInterface](r[gatewaydb.PhysicalInterfaceTable]),
		LogicalInterfaces:  values[gatewaydb.LogicalInterface](r[gatewaydb.LogicalInterfaceTable]),
		VMIs:               values[gatewaydb.VirtualMachineInterface](r[gatewaydb.VirtualMachineInterfaceTable]),
		Nodes:              values[gatewaydb.Node](r[gatewaydb.NodeTable]),
		Syncs:              values[gatewaydb.VcenterSync](r[gatewaydb.VcenterSyncTable]),
	}
	if roots := values[gatewaydb.OVSGW](r[gatewaydb.OVSGWTable]); len(roots) > 0 { // at most one
		v.root, v.Generation = &roots[0], roots[0].Generation
	}
	return v, nil
}

// OwnedWrite is what WriteOwned writes: rows to insert (UUID empty), to
// update whole (UUID of the row they replace) and to delete (by UUID), and
// the writer's status row, upserted by name.
type OwnedWrite struct {
	InsertLIs, UpdateLIs   []gatewaydb.LogicalInterface
	DeleteLIs              []string
	InsertVMIs, UpdateVMIs []gatewaydb.VirtualMachineInterface
	DeleteVMIs             []string
	Status                 gatewaydb.VcenterSync
}

// Changes reports whether w touches a config table.
func (w *OwnedWrite) Changes() bool {
	return len(w.InsertLIs)+len(w.UpdateLIs)+len(w.DeleteLIs)+len(w.InsertVMIs)+len(w.UpdateVMIs)+len(w.DeleteVMIs) > 0
}

// WriteOwned writes w, planned from the read from, in one transaction. A
// config change holds only if the config generation is still from's (an
// OVSDB wait, as ApplyRows does; else ErrOwnedConflict) and bumps it: every
// VLAN, name and address the plan took was free in from, so it still is,
// and a concurrent `ovsgw db apply` (or another sync) diffed against the
// config before asks to be applied again rather than undo it unseen. One
// wait for the whole write: a check per row would cost the server a scan of
// the table per row. A status-only write needs no guard. The status row's
// updated column is set to now (milliseconds), and WriteOwned returns once
// the cache shows it, so the next OwnedRead sees what it wrote.
func (c *Client) WriteOwned(ctx context.Context, from *OwnedView, w *OwnedWrite) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	conn := c.conn()
	var ops []libovsdb.Operation
	add := func(o []libovsdb.Operation, err error) error {
		ops = append(ops, o...)
		return err
	}
	var err error
	if w.Changes() {
		if from == nil {
			return errors.New("write config rows: no read to guard the write with")
		}
		guard, gerr := c.generationOps(from.root)
		if gerr != nil {
			return gerr
		}
		ops = append(ops, guard...)
	}
	// Deletes first: a VLAN or name released here may be taken again in the same transaction.
	for _, uuid := range w.DeleteLIs {
		err = errors.Join(err, add(conn.Where(&gatewaydb.LogicalInterface{UUID: uuid}).Delete()))
	}
	for _, uuid := range w.DeleteVMIs {
		err = errors.Join(err, add(conn.Where(&gatewaydb.VirtualMachineInterface{UUID: uuid}).Delete()))
	}
	for i := range w.UpdateLIs {
		err = errors.Join(err, add(conn.Where(&w.UpdateLIs[i]).Update(&w.UpdateLIs[i])))
	}
	for i := range w.InsertLIs {
		err = errors.Join(err, add(conn.Create(&w.InsertLIs[i])))
	}
	for i := range w.UpdateVMIs {
		err = errors.Join(err, add(conn.Where(&w.UpdateVMIs[i]).Update(&w.UpdateVMIs[i])))
	}
	for i := range w.InsertVMIs {
		err = errors.Join(err, add(conn.Create(&w.InsertVMIs[i])))
	}
	status := w.Status
	status.Updated = int(time.Now().UnixMilli())
	if cur, rerr := c.syncStatus(status.Name); rerr != nil {
		return rerr
	} else if cur != nil {
		if status.Updated <= cur.Updated {
			status.Updated = cur.Updated + 1 // the cache wait below needs a new value
		}
		status.UUID = cur.UUID
		err = errors.Join(err, add(conn.Where(&status).Update(&status)))
	} else {
		status.UUID = ""
		err = errors.Join(err, add(conn.Create(&status)))
	}
	if err != nil {
		return fmt.Errorf("build the write of %s: %w", status.Name, err)
	}
	what := "write the rows of " + status.Name
	err = c.transact(ctx, what, ops)
	var timedOut *libovsdb.TimedOut
	if errors.As(err, &timedOut) && timedOut.Operation() != nil && timedOut.Operation().Table == gatewaydb.OVSGWTable {
		return fmt.Errorf("%w (it had generation %d)", ErrOwnedConflict, from.Generation)
	}
	if err != nil && w.Changes() && from.root == nil && strings.Contains(err.Error(), "constraint violation") {
		return fmt.Errorf("%w (another writer created the root row)", ErrOwnedConflict)
	}
	if err != nil {
		return err
	}
	if !c.monitor {
		return nil
	}
	return clientkit.WaitCache(ctx, cacheSyncTimeout, what, c.sig.Updated, func() (bool, error) {
		cur, err := c.syncStatus(status.Name)
		return cur != nil && cur.Updated >= status.Updated, err
	})
}

// syncStatus is the cache's status row of the sync name, nil without one.
func (c *Client) syncStatus(name string) (*gatewaydb.VcenterSync, error) {
	r, err := c.conn().read([]string{gatewaydb.VcenterSyncTable})
	if err != nil {
		return nil, err
	}
	for _, row := range r[gatewaydb.VcenterSyncTable] {
		if s := row.(*gatewaydb.VcenterSync); s.Name == name {
			return s, nil
		}
	}
	return nil, nil
}

// VcenterSyncs lists the status rows of the vCenter syncs, for db show.
func (c *Client) VcenterSyncs() ([]gatewaydb.VcenterSync, error) {
	r, err := c.conn().read([]string{gatewaydb.VcenterSyncTable})
	if err != nil {
		return nil, err
	}
	return values[gatewaydb.VcenterSync](r[gatewaydb.VcenterSyncTable]), nil
}

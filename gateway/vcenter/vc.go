package vcenter

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// dialTimeout bounds a login: the TCP connect, the TLS handshake and two
// SOAP calls to a vCenter that answers; one that does not is reported
// rather than waited for (a vCenter under load answers a login within
// seconds).
const dialTimeout = 30 * time.Second

// The properties the sync watches: what a VM NIC's rows are made of, and
// what maps port groups to VNs.
var (
	vmProps = []string{"name", "config.instanceUuid", "config.hardware.device", "guest.net", "runtime.host"}
	pgProps = []string{"name", "key", "config.distributedVirtualSwitch"}
)

// Conn is a logged-in session with vCenter and the sync's DVS.
type Conn struct {
	c   *vim25.Client
	url string
	dvs types.ManagedObjectReference
}

// Dial logs in to vCenter as cfg says and finds the DVS. Errors say which step failed: the
// connection, the certificate, the login, the DVS.
func Dial(ctx context.Context, cfg *Config) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	where := cfg.URL.Redacted()
	sc := soap.NewClient(cfg.URL, cfg.Insecure)
	if cfg.CACert != "" {
		if err := sc.SetRootCAs(cfg.CACert); err != nil {
			return nil, fmt.Errorf("vCenter %s: ca_cert %s: %w", where, cfg.CACert, err)
		}
	}
	if cfg.Thumbprint != "" {
		sc.SetThumbprint(cfg.URL.Host, cfg.Thumbprint)
	}
	c, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("vCenter %s: %s: %w", where, connectProblem(err, cfg), err)
	}
	if err := session.NewManager(c).Login(ctx, url.UserPassword(cfg.Username, cfg.Password)); err != nil {
		return nil, fmt.Errorf("vCenter %s: login as %s refused: %w", where, cfg.Username, err)
	}
	conn := &Conn{c: c, url: where}
	if err := conn.findDVS(ctx, cfg.DVS); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return conn, nil
}

// connectProblem names what failed before the login.
func connectProblem(err error, cfg *Config) string {
	switch {
	case soap.IsCertificateUntrusted(err) && cfg.CACert != "":
		return "its certificate is not signed by the CA in " + cfg.CACert
	case soap.IsCertificateUntrusted(err):
		return "its certificate does not verify (set ca_cert, or pin it with thumbprint)"
	case strings.Contains(err.Error(), "thumbprint does not match"):
		return "its certificate is not the pinned one (thumbprint " + cfg.Thumbprint + ")"
	}
	return "cannot reach it"
}

// Close logs out.
func (c *Conn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	return session.NewManager(c.c).Logout(ctx)
}

func (c *Conn) findDVS(ctx context.Context, name string) error {
	m := view.NewManager(c.c)
	v, err := m.CreateContainerView(ctx, c.c.ServiceContent.RootFolder, []string{"DistributedVirtualSwitch"}, true)
	if err != nil {
		return fmt.Errorf("vCenter %s: list the distributed switches: %w", c.url, err)
	}
	defer func() { _ = v.Destroy(context.Background()) }()
	var list []mo.DistributedVirtualSwitch
	if err := v.Retrieve(ctx, []string{"DistributedVirtualSwitch"}, []string{"name"}, &list); err != nil {
		return fmt.Errorf("vCenter %s: list the distributed switches: %w", c.url, err)
	}
	var names []string
	for _, s := range list {
		if s.Name == name {
			c.dvs = s.Reference()
			return nil
		}
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return fmt.Errorf("vCenter %s: dvs %s: no such distributed switch (it has: %s)", c.url, name, strings.Join(names, ", "))
}

// inventory is the sync's copy of what it watches, kept up to date from the
// property collector's updates.
type inventory struct {
	dvs types.ManagedObjectReference
	vms map[types.ManagedObjectReference]*vmState
	pgs map[types.ManagedObjectReference]*pgState
}

type vmState struct {
	name, uuid string
	host       string
	devices    []types.BaseVirtualDevice
	guest      []types.GuestNicInfo
}

type pgState struct {
	name, key string
	dvs       types.ManagedObjectReference
}

// apply folds one update batch into the copy.
func (inv *inventory) apply(updates []types.ObjectUpdate) {
	for _, u := range updates {
		switch u.Obj.Type {
		case "VirtualMachine":
			if u.Kind == types.ObjectUpdateKindLeave {
				delete(inv.vms, u.Obj)
				continue
			}
			vm := inv.vms[u.Obj]
			if vm == nil {
				vm = &vmState{}
				inv.vms[u.Obj] = vm
			}
			for _, ch := range u.ChangeSet {
				vm.set(ch)
			}
		case "DistributedVirtualPortgroup":
			if u.Kind == types.ObjectUpdateKindLeave {
				delete(inv.pgs, u.Obj)
				continue
			}
			pg := inv.pgs[u.Obj]
			if pg == nil {
				pg = &pgState{}
				inv.pgs[u.Obj] = pg
			}
			for _, ch := range u.ChangeSet {
				pg.set(ch)
			}
		}
	}
}

func (vm *vmState) set(ch types.PropertyChange) {
	gone := ch.Op == types.PropertyChangeOpRemove
	switch ch.Name {
	case "name":
		vm.name, _ = ch.Val.(string)
	case "config.instanceUuid":
		vm.uuid, _ = ch.Val.(string)
	case "runtime.host":
		if ref, ok := ch.Val.(types.ManagedObjectReference); ok && !gone {
			vm.host = ref.Value
		}
	case "config.hardware.device":
		vm.devices = nil
		if a, ok := ch.Val.(types.ArrayOfVirtualDevice); ok && !gone {
			vm.devices = a.VirtualDevice
		}
	case "guest.net":
		vm.guest = nil
		if a, ok := ch.Val.(types.ArrayOfGuestNicInfo); ok && !gone {
			vm.guest = a.GuestNicInfo
		}
	}
}

func (pg *pgState) set(ch types.PropertyChange) {
	switch ch.Name {
	case "name":
		pg.name, _ = ch.Val.(string)
	case "key":
		pg.key, _ = ch.Val.(string)
	case "config.distributedVirtualSwitch":
		pg.dvs, _ = ch.Val.(types.ManagedObjectReference)
	}
}

// snapshot is the Inventory Reconcile takes: the DVS's port groups, and the
// VMs with at least one NIC on it.
func (inv *inventory) snapshot() Inventory {
	out := Inventory{PortGroups: map[string]string{}}
	for _, pg := range inv.pgs {
		if pg.dvs == inv.dvs && pg.key != "" {
			out.PortGroups[pg.key] = pg.name
		}
	}
	for _, vm := range inv.vms {
		if vm.uuid == "" {
			continue // a template being made, or a VM whose config is not readable yet
		}
		v := VM{UUID: vm.uuid, Name: vm.name, Host: vm.host}
		for _, d := range vm.devices {
			card, ok := d.(types.BaseVirtualEthernetCard)
			if !ok {
				continue
			}
			e := card.GetVirtualEthernetCard()
			b, ok := e.Backing.(*types.VirtualEthernetCardDistributedVirtualPortBackingInfo)
			if !ok {
				continue
			}
			if _, onDVS := out.PortGroups[b.Port.PortgroupKey]; !onDVS {
				continue
			}
			nic := NIC{Key: e.Key, MAC: e.MacAddress, PortgroupKey: b.Port.PortgroupKey, PortKey: b.Port.PortKey}
			for _, g := range vm.guest {
				if g.DeviceConfigId == e.Key {
					for _, s := range g.IpAddress {
						if a, err := netip.ParseAddr(s); err == nil {
							nic.IPs = append(nic.IPs, a)
						}
					}
				}
			}
			v.NICs = append(v.NICs, nic)
		}
		if len(v.NICs) > 0 {
			out.VMs = append(out.VMs, v)
		}
	}
	slices.SortFunc(out.VMs, func(a, b VM) int { return strings.Compare(a.UUID, b.UUID) })
	return out
}

// maxWait bounds one WaitForUpdatesEx call (vCenter answers an empty result
// when it passes): a vCenter that stopped answering, or a connection a
// firewall dropped silently, is found within it, and the call never outlives
// the session by more. A minute costs one empty round trip a minute.
const maxWait = 60 * time.Second

// Watch reads the inventory and calls onChange with it, then again after
// every batch of changes vCenter reports (property collector,
// WaitForUpdatesEx over a container view of the VMs and port groups: vCenter
// sends what changed, the sync never re-reads the inventory). A batch that
// vCenter truncated is completed before onChange. It returns when ctx ends or
// the session fails; onChange's error ends it too. The view, the collector
// and its filter are the session's: logging out frees them.
func (c *Conn) Watch(ctx context.Context, onChange func(Inventory) error) error {
	return c.watch(ctx, maxWait, onChange)
}

func (c *Conn) watch(ctx context.Context, wait time.Duration, onChange func(Inventory) error) error {
	m := view.NewManager(c.c)
	v, err := m.CreateContainerView(ctx, c.c.ServiceContent.RootFolder, []string{"VirtualMachine", "DistributedVirtualPortgroup"}, true)
	if err != nil {
		return fmt.Errorf("vCenter %s: create the inventory view: %w", c.url, err)
	}
	pc, err := property.DefaultCollector(c.c).Create(ctx)
	if err != nil {
		return fmt.Errorf("vCenter %s: create a property collector: %w", c.url, err)
	}
	spec := types.CreateFilter{PartialUpdates: false, Spec: types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{
			Obj:       v.Reference(),
			Skip:      types.NewBool(true),
			SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "ContainerView", Path: "view"}},
		}},
		PropSet: []types.PropertySpec{
			{Type: "VirtualMachine", PathSet: vmProps},
			{Type: "DistributedVirtualPortgroup", PathSet: pgProps},
		},
	}}
	if _, err := pc.CreateFilter(ctx, spec); err != nil {
		return fmt.Errorf("vCenter %s: create the inventory filter: %w", c.url, err)
	}
	inv := &inventory{dvs: c.dvs, vms: map[types.ManagedObjectReference]*vmState{}, pgs: map[types.ManagedObjectReference]*pgState{}}
	secs := int32(wait / time.Second)
	req := types.WaitForUpdatesEx{This: pc.Reference(), Options: &types.WaitOptions{MaxWaitSeconds: &secs}}
	for {
		// vCenter answers within wait; a call that outlives it by dialTimeout found a vCenter
		// that stopped answering.
		callCtx, cancel := context.WithTimeout(ctx, wait+dialTimeout)
		res, err := methods.WaitForUpdatesEx(callCtx, c.c, &req)
		cancel()
		if ctx.Err() != nil {
			cctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
			_ = pc.CancelWaitForUpdates(cctx) // vCenter would otherwise hold the call until maxWait
			cancel()
			return ctx.Err()
		}
		if err != nil {
			return fmt.Errorf("vCenter %s: watching the inventory: %w", c.url, err)
		}
		set := res.Returnval
		if set == nil {
			continue // maxWait passed without a change: vCenter is there
		}
		req.Version = set.Version
		for _, fs := range set.FilterSet {
			inv.apply(fs.ObjectSet)
		}
		if set.Truncated != nil && *set.Truncated {
			continue // the rest of the batch follows at once
		}
		if err := onChange(inv.snapshot()); err != nil {
			return err
		}
	}
}

// SetPortVLANs sets each DVS port's VLAN override to its VLAN where it
// differs, in one ReconfigureDVPort_Task. It reads the ports first, so a
// port already right is not reconfigured (a restart re-sets nothing).
func (c *Conn) SetPortVLANs(ctx context.Context, want map[string]int) (int, error) {
	if len(want) == 0 {
		return 0, nil
	}
	dvs := object.NewDistributedVirtualSwitch(c.c, c.dvs)
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	ports, err := dvs.FetchDVPorts(ctx, &types.DistributedVirtualSwitchPortCriteria{PortKey: keys})
	if err != nil {
		return 0, fmt.Errorf("vCenter %s: read the DVS ports: %w", c.url, err)
	}
	have := map[string]int{}
	for _, p := range ports {
		have[p.Key] = PortVLAN(p)
	}
	var specs []types.DVPortConfigSpec
	for _, k := range keys {
		if v, ok := have[k]; ok && v == want[k] {
			continue
		}
		specs = append(specs, types.DVPortConfigSpec{Operation: "edit", Key: k,
			Setting: &types.VMwareDVSPortSetting{Vlan: &types.VmwareDistributedVirtualSwitchVlanIdSpec{VlanId: int32(want[k])}}})
	}
	if len(specs) == 0 {
		return 0, nil
	}
	task, err := dvs.ReconfigureDVPort(ctx, specs)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		return 0, fmt.Errorf("vCenter %s: set the VLANs of %d DVS ports: %w", c.url, len(specs), err)
	}
	return len(specs), nil
}

// PortVLAN is a DVS port's VLAN id (0: none, or a trunk or private VLAN).
func PortVLAN(p types.DistributedVirtualPort) int {
	s, ok := p.Config.Setting.(*types.VMwareDVSPortSetting)
	if !ok || s == nil {
		return 0
	}
	if v, ok := s.Vlan.(*types.VmwareDistributedVirtualSwitchVlanIdSpec); ok && v != nil {
		return int(v.VlanId)
	}
	return 0
}

// Package vcentertest runs a vCenter for tests: govmomi's simulator (VPX
// model: one datacenter DC0, a cluster of three hosts, the distributed
// switch DVS0) with the per-port VLAN override the simulator lacks
// (ReconfigureDVPort_Task, added in test code), reached through a TCP proxy
// a test can cut to stand for vCenter going down. For the tests of package
// vcenter and the end-to-end tests.
package vcentertest

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// A vCenter for the tests: govmomi's simulator (VPX model: one datacenter,
// a cluster of three hosts, the DVS DVS0), reached through a TCP proxy
// the test can cut to stand for vCenter going down.

const (
	User     = "administrator@vsphere.local"
	Password = "s3cret"
	DVS      = "DVS0"
)

// Ports is the per-port VLAN override the simulator lacks: the test's
// DVS answers ReconfigureDVPort_Task and FetchDVPorts from it.
type Ports struct {
	mu    sync.Mutex
	vlans map[string]int
	calls int // ReconfigureDVPort_Task calls
}

func (p *Ports) Snapshot() (map[string]int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, v := range p.vlans {
		out[k] = v
	}
	return out, p.calls
}

// testDVS is the simulator's DVS with ReconfigureDVPort_Task: the simulator
// dispatches a SOAP method by reflection on the object its registry's
// Handler returns, so the test hands it this one for the two methods.
type testDVS struct {
	*simulator.DistributedVirtualSwitch
	ports *Ports
}

func (d *testDVS) ReconfigureDVPortTask(ctx *simulator.Context, req *types.ReconfigureDVPort_Task) soap.HasFault {
	task := simulator.CreateTask(d.DistributedVirtualSwitch, "reconfigureDVPort", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		d.ports.mu.Lock()
		defer d.ports.mu.Unlock()
		d.ports.calls++
		for _, spec := range req.Port {
			s, ok := spec.Setting.(*types.VMwareDVSPortSetting)
			if !ok {
				return nil, &types.InvalidArgument{InvalidProperty: "setting"}
			}
			v, ok := s.Vlan.(*types.VmwareDistributedVirtualSwitchVlanIdSpec)
			if !ok {
				return nil, &types.InvalidArgument{InvalidProperty: "setting.vlan"}
			}
			d.ports.vlans[spec.Key] = int(v.VlanId)
		}
		return nil, nil
	})
	return &methods.ReconfigureDVPort_TaskBody{Res: &types.ReconfigureDVPort_TaskResponse{Returnval: task.Run(ctx)}}
}

func (d *testDVS) FetchDVPorts(ctx *simulator.Context, req *types.FetchDVPorts) soap.HasFault {
	d.ports.mu.Lock()
	defer d.ports.mu.Unlock()
	var out []types.DistributedVirtualPort
	if req.Criteria != nil {
		for _, k := range req.Criteria.PortKey {
			out = append(out, types.DistributedVirtualPort{DvsUuid: d.Uuid, Key: k, Config: types.DVPortConfigInfo{
				Setting: &types.VMwareDVSPortSetting{Vlan: &types.VmwareDistributedVirtualSwitchVlanIdSpec{VlanId: int32(d.ports.vlans[k])}}}})
		}
	}
	return &methods.FetchDVPortsBody{Res: &types.FetchDVPortsResponse{Returnval: out}}
}

// Sim is a running simulator with the test's own session to it.
type Sim struct {
	M      *simulator.Model
	Srv    *simulator.Server
	Proxy  *CutProxy
	C      *vim25.Client
	Ports  *Ports
	CAFile string
	dvs    *object.DistributedVirtualSwitch
	dvsID  string
	pgKeys map[string]string // port group name → key
	pool   *object.ResourcePool
	Hosts  []*object.HostSystem
	folder *object.Folder
	// nextPort numbers the DVS ports the test connects NICs to.
	nextPort atomic.Int64
}

// PortsSet is how many DVS ports have a VLAN.
func (v *Sim) PortsSet() int {
	p, _ := v.Ports.Snapshot()
	return len(p)
}

// NewSim starts a simulator with the port groups on DVS0; everything stops when the test ends.
func NewSim(t testing.TB, portGroups ...string) *Sim {
	t.Helper()
	m := simulator.VPX()
	m.Machine = 0
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	m.Service.Listen = &url.URL{User: url.UserPassword(User, Password)}
	m.Service.TLS = new(tls.Config)
	srv := m.Service.NewServer()
	var v *Sim
	t.Cleanup(func() {
		// A WaitForUpdatesEx whose client vanished (the proxy cut it) blocks in the simulator
		// until an update comes, and Close waits for it: a change wakes it.
		if v != nil && v.C != nil {
			v.CreateVM(t, "wake-up")
		}
		srv.Close()
		m.Remove()
	})
	ports := &Ports{vlans: map[string]int{}}
	m.Map().Handler = func(ctx *simulator.Context, method *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		if method.Name != "ReconfigureDVPort_Task" && method.Name != "FetchDVPorts" {
			return nil, nil
		}
		if d, ok := ctx.Map.Get(method.This).(*simulator.DistributedVirtualSwitch); ok {
			// The session's registry comes after this handler: the wrapper goes there too.
			w := &testDVS{DistributedVirtualSwitch: d, ports: ports}
			if ctx.Session != nil {
				ctx.Session.Put(w)
			}
			return w, nil
		}
		return nil, nil
	}
	caFile := filepath.Join(t.TempDir(), "vcenter-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	v = &Sim{M: m, Srv: srv, Ports: ports, CAFile: caFile, pgKeys: map[string]string{}}
	v.Proxy = NewCutProxy(t, srv.URL.Host)
	ctx := context.Background()
	u := *srv.URL
	u.User = nil
	sc := soap.NewClient(&u, false)
	if err := sc.SetRootCAs(caFile); err != nil {
		t.Fatal(err)
	}
	c, err := vim25.NewClient(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := session.NewManager(c).Login(ctx, url.UserPassword(User, Password)); err != nil {
		t.Fatal(err)
	}
	v.C = c
	f := find.NewFinder(c)
	dc, err := f.Datacenter(ctx, "DC0")
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	net, err := f.Network(ctx, DVS)
	if err != nil {
		t.Fatal(err)
	}
	v.dvs = net.(*object.DistributedVirtualSwitch)
	var dvs mo.DistributedVirtualSwitch
	if err := v.dvs.Properties(ctx, v.dvs.Reference(), []string{"uuid"}, &dvs); err != nil {
		t.Fatal(err)
	}
	v.dvsID = dvs.Uuid
	var specs []types.DVPortgroupConfigSpec
	for _, pg := range portGroups {
		specs = append(specs, types.DVPortgroupConfigSpec{Name: pg, Type: string(types.DistributedVirtualPortgroupPortgroupTypeEarlyBinding), NumPorts: 8})
	}
	task, err := v.dvs.AddPortgroup(ctx, specs)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, pg := range portGroups {
		n, err := f.Network(ctx, pg)
		if err != nil {
			t.Fatal(err)
		}
		var p mo.DistributedVirtualPortgroup
		if err := n.(*object.DistributedVirtualPortgroup).Properties(ctx, n.Reference(), []string{"key"}, &p); err != nil {
			t.Fatal(err)
		}
		v.pgKeys[pg] = p.Key
	}
	if v.pool, err = f.ResourcePool(ctx, "/DC0/host/DC0_C0/Resources"); err != nil {
		t.Fatal(err)
	}
	if v.Hosts, err = f.HostSystemList(ctx, "/DC0/host/DC0_C0/*"); err != nil {
		t.Fatal(err)
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v.folder = folders.VmFolder
	return v
}

// URL is the URL the sync uses: through the proxy.
func (v *Sim) URL() *url.URL {
	return &url.URL{Scheme: "https", Host: v.Proxy.addr, Path: "/sdk"}
}

// NICOn is a new NIC on port group pg, connected to a fresh DVS port (vCenter assigns the
// port key when it connects a NIC; the simulator does not, so the test does).
func (v *Sim) NICOn(pg, mac string) *types.VirtualVmxnet3 {
	n := v.nextPort.Add(1)
	return &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
		VirtualDevice: types.VirtualDevice{Key: -1 - int32(n), Backing: &types.VirtualEthernetCardDistributedVirtualPortBackingInfo{
			Port: types.DistributedVirtualSwitchPortConnection{SwitchUuid: v.dvsID, PortgroupKey: v.pgKeys[pg], PortKey: fmt.Sprintf("port-%d", n)}}},
		AddressType: string(types.VirtualEthernetCardMacTypeManual), MacAddress: mac}}}
}

// CreateVM makes a VM with NICs on the port groups (one MAC each), on the first host.
func (v *Sim) CreateVM(t testing.TB, name string, nics ...[2]string) *object.VirtualMachine {
	t.Helper()
	ctx := context.Background()
	spec := types.VirtualMachineConfigSpec{Name: name, GuestId: "otherGuest64", Files: &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"}}
	for _, n := range nics {
		spec.DeviceChange = append(spec.DeviceChange, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: v.NICOn(n[0], n[1])})
	}
	task, err := v.folder.CreateVM(ctx, spec, v.pool, v.Hosts[0])
	if err != nil {
		t.Fatal(err)
	}
	info, err := task.WaitForResult(ctx)
	if err != nil {
		t.Fatalf("create VM %s: %v", name, err)
	}
	return object.NewVirtualMachine(v.C, info.Result.(types.ManagedObjectReference))
}

func (v *Sim) DestroyVM(t testing.TB, vm *object.VirtualMachine) {
	t.Helper()
	task, err := vm.Destroy(context.Background())
	if err == nil {
		err = task.Wait(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
}

// Replug moves the VM's NIC of MAC mac to port group pg, on a new port.
func (v *Sim) Replug(t testing.TB, vm *object.VirtualMachine, mac, pg string) {
	t.Helper()
	ctx := context.Background()
	devs, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if card, ok := d.(types.BaseVirtualEthernetCard); ok && card.GetVirtualEthernetCard().MacAddress == mac {
			card.GetVirtualEthernetCard().Backing = &types.VirtualEthernetCardDistributedVirtualPortBackingInfo{
				Port: types.DistributedVirtualSwitchPortConnection{SwitchUuid: v.dvsID, PortgroupKey: v.pgKeys[pg], PortKey: fmt.Sprintf("port-%d", v.nextPort.Add(1))}}
			if err := vm.EditDevice(ctx, d); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no NIC %s", mac)
}

func (v *Sim) AddNIC(t testing.TB, vm *object.VirtualMachine, pg, mac string) {
	t.Helper()
	if err := vm.AddDevice(context.Background(), v.NICOn(pg, mac)); err != nil {
		t.Fatal(err)
	}
}

// RemoveNIC removes the VM's NIC of MAC mac.
func (v *Sim) RemoveNIC(t testing.TB, vm *object.VirtualMachine, mac string) {
	t.Helper()
	ctx := context.Background()
	devs, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if card, ok := d.(types.BaseVirtualEthernetCard); ok && card.GetVirtualEthernetCard().MacAddress == mac {
			if err := vm.RemoveDevice(ctx, false, d); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no NIC %s", mac)
}

// Migrate moves the VM to host i (a vMotion).
func (v *Sim) Migrate(t testing.TB, vm *object.VirtualMachine, i int) {
	t.Helper()
	ref := v.Hosts[i].Reference()
	task, err := vm.Relocate(context.Background(), types.VirtualMachineRelocateSpec{Host: &ref}, types.VirtualMachineMovePriorityDefaultPriority)
	if err == nil {
		err = task.Wait(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	var got mo.VirtualMachine
	if err := vm.Properties(context.Background(), vm.Reference(), []string{"runtime.host"}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Runtime.Host == nil || *got.Runtime.Host != ref {
		t.Fatalf("VM on %v after the vMotion, want %v", got.Runtime.Host, ref)
	}
}

// NIC is a NIC of the simulator's inventory, as the test expects it mapped.
type NIC struct {
	Name, Network, MAC, Port string
}

// MappedNICs lists the NICs of every VM on a port group of pgToVN, read from the simulator.
func (v *Sim) MappedNICs(t testing.TB, prefix string, pgToVN map[string]string) map[string]NIC {
	t.Helper()
	ctx := context.Background()
	f := find.NewFinder(v.C)
	vms, err := f.VirtualMachineList(ctx, "/DC0/vm/*")
	if err != nil {
		if _, ok := err.(*find.NotFoundError); ok {
			return map[string]NIC{}
		}
		t.Fatal(err)
	}
	byKey := map[string]string{}
	for pg, key := range v.pgKeys {
		byKey[key] = pg
	}
	out := map[string]NIC{}
	for _, vm := range vms {
		var m mo.VirtualMachine
		if err := vm.Properties(ctx, vm.Reference(), []string{"config.instanceUuid", "config.hardware.device"}, &m); err != nil {
			t.Fatal(err)
		}
		for _, d := range m.Config.Hardware.Device {
			card, ok := d.(types.BaseVirtualEthernetCard)
			if !ok {
				continue
			}
			e := card.GetVirtualEthernetCard()
			b, ok := e.Backing.(*types.VirtualEthernetCardDistributedVirtualPortBackingInfo)
			if !ok {
				continue
			}
			vn, ok := pgToVN[byKey[b.Port.PortgroupKey]]
			if !ok {
				continue
			}
			name := fmt.Sprintf("%s%s-%d", prefix, m.Config.InstanceUuid, e.Key)
			out[name] = NIC{Name: name, Network: vn, MAC: e.MacAddress, Port: b.Port.PortKey}
		}
	}
	return out
}

// CutProxy forwards TCP to the simulator until cut: then it closes every
// connection and refuses new ones (vCenter down) until restored.
type CutProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

// NewCutProxy forwards a loopback port to target until the test ends.
func NewCutProxy(t testing.TB, target string) *CutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &CutProxy{addr: ln.Addr().String(), target: target, conns: map[net.Conn]bool{}}
	p.serve(ln)
	t.Cleanup(p.Cut)
	return p
}

func (p *CutProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *CutProxy) pipe(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil {
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(s, c); s.Close(); c.Close() }()
	go func() { _, _ = io.Copy(c, s); s.Close(); c.Close() }()
}

// Cut closes the listener and every connection.
func (p *CutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// Restore listens again on the same address.
func (p *CutProxy) Restore(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was just closed; it is free again at once on loopback, or within ms
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	p.serve(ln)
}

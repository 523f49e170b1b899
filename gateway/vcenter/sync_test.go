package vcenter

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/configstore"
	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/vcenter/vcentertest"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
	"github.com/vmware/govmomi/vim25/soap"
)

const schemaFile = "../../schemas/gateway.ovsschema"

// settle bounds the wait for the sync to bring the config DB and the DVS
// ports in step after a change in vCenter (one WaitForUpdatesEx round, one
// transaction, one ReconfigureDVPort_Task; a re-login after an outage waits
// out the sync's backoff, at most a few seconds here).
const settle = 30 * time.Second

// testPollWait bounds each WaitForUpdatesEx of the tests' syncs: a call the proxy cut stays
// pending in the simulator until then, and the simulator's Close waits for it.
const testPollWait = 2 * time.Second

var testPGs = map[string]string{"ovsgw-blue": "blue", "ovsgw-red": "red"}

// testDB is a real ovsdb-server with the hand-written part of the config:
// two VNs, two gateways (gw1/eth1, gw2/eth1), and a bare-metal server on
// gw1/eth1 VLAN 100, inside the sync's VLAN range.
func testDB(t testing.TB) (*configdb.Client, *configstore.Store) {
	t.Helper()
	return testDBBlue(t, "10.1.0.0/24")
}

// testDBBlue is testDB with blue's subnet.
func testDBBlue(t testing.TB, blue string) (*configdb.Client, *configstore.Store) {
	t.Helper()
	srv := configdbtest.NewStandalone(t, schemaFile)
	ctx, cancel := context.WithTimeout(context.Background(), configdbtest.ServerReady)
	defer cancel()
	c, err := configdb.Connect(ctx, []string{srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	store := configstore.New(c)
	vlan, untagged := 100, 0
	cfg := &model.Config{
		VirtualNetworks: []model.VirtualNetwork{
			{Name: "blue", VNI: 5001, Subnets: model.SubnetsOf(blue)},
			{Name: "red", VNI: 5002, Subnets: model.SubnetsOf("10.2.0.0/24")},
			{Name: "ha", VNI: 5999, FloodBPDU: true},
		},
		PhysicalRouters: []model.PhysicalRouter{
			{Name: "gw1", PhysicalInterfaces: []model.PhysicalInterface{{Name: "eth1", LogicalInterfaces: []model.LogicalInterface{
				{Name: "eth1-100", VLAN: &vlan, VMI: "bms1"}, {Name: "eth1-bpdu", VLAN: &untagged, VMI: "ha-bpdu"}}}}},
			{Name: "gw2", PhysicalInterfaces: []model.PhysicalInterface{{Name: "eth1", LogicalInterfaces: []model.LogicalInterface{
				{Name: "eth1-bpdu", VLAN: &untagged, VMI: "ha-bpdu"}}}}},
		},
		VirtualMachineInterfaces: []model.VirtualMachineInterface{
			{Name: "bms1", Network: "blue", MAC: "02:00:00:00:01:0a", InstanceIPs: []model.InstanceIP{{Address: "10.1.0.10"}}},
			{Name: "ha-bpdu", Network: "ha", MAC: "02:00:00:00:ff:01"},
		},
	}
	if _, err := store.Apply(ctx, cfg, false); err != nil {
		t.Fatal(err)
	}
	return c, store
}

func testConfig(v *vcentertest.Sim) *Config {
	return &Config{Name: "vc1", URL: v.URL(), Username: vcentertest.User, Password: vcentertest.Password, CACert: v.CAFile, DVS: vcentertest.DVS,
		Uplinks: []Uplink{{"gw1", "eth1"}, {"gw2", "eth1"}}, VLANMin: 100, VLANMax: 199,
		Networks: map[string]string{"ovsgw-blue": "blue"}, NetworkPrefix: "ovsgw-", MaxInterfaces: model.DefaultMaxInterfaces}
}

// runSync runs a sync until the test ends.
func runSync(t *testing.T, cfg *Config, db *configdb.Client) *Sync {
	s := New(cfg, db)
	s.pollWait = testPollWait
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// inStep checks, once, that the config DB holds exactly the rows of the
// simulator's mapped NICs (and the hand-written ones, untouched), that the
// whole config validates as the agents validate it, and that each NIC's DVS
// port carries its VLAN. It returns each generated VMI's VLAN and address.
func inStep(t *testing.T, v *vcentertest.Sim, db *configdb.Client, store *configstore.Store) (map[string]string, error) {
	want := v.MappedNICs(t, "vc1-", testPGs)
	view, err := db.OwnedRead()
	if err != nil {
		return nil, err
	}
	st := StateOf(view)
	got := map[string]string{}
	ips := map[string]bool{}
	for _, vmi := range st.VMIs {
		if vmi.Owner == "" {
			if vmi.Name == "bms1" && (vmi.MAC != "02:00:00:00:01:0a" || !slices.Equal(vmi.IPs, []string{"10.1.0.10"})) {
				return nil, fmt.Errorf("hand-written VMI changed: %+v", vmi)
			}
			continue
		}
		w, ok := want[vmi.Name]
		if !ok || vmi.Owner != "vcenter:vc1" || vmi.Network != w.Network || vmi.MAC != w.MAC || len(vmi.IPs) != 1 {
			return nil, fmt.Errorf("VMI %+v, want %+v", vmi, w)
		}
		a := netip.MustParseAddr(vmi.IPs[0])
		if p, _ := model.SubnetsOf(map[string]string{"blue": "10.1.0.0/24", "red": "10.2.0.0/24"}[w.Network])[0].Prefix(); !p.Contains(a) || ips[w.Network+a.String()] || a.String() == "10.1.0.10" {
			return nil, fmt.Errorf("VMI %s address %s outside its subnet or not unique", vmi.Name, a)
		}
		ips[w.Network+a.String()] = true
		got[vmi.Name] = vmi.IPs[0]
	}
	if len(got) != len(want) {
		return nil, fmt.Errorf("%d generated VMIs, want %d (%v)", len(got), len(want), slices.Sorted(maps.Keys(want)))
	}
	vlans := map[string]int{}
	used := map[string]string{}
	n := 0
	for _, li := range st.LIs {
		if li.Owner == "" {
			if (li.Name != "eth1-100" || li.VLAN != 100 || li.VMI != "bms1") && (li.Name != "eth1-bpdu" || li.VLAN != 0) {
				return nil, fmt.Errorf("hand-written logical interface changed: %+v", li)
			}
			continue
		}
		n++
		if _, ok := want[li.Name]; !ok || li.VMI != li.Name || li.Interface != "eth1" || li.VLAN < 101 || li.VLAN > 199 {
			return nil, fmt.Errorf("logical interface %+v", li)
		}
		if v, ok := vlans[li.Name]; ok && v != li.VLAN {
			return nil, fmt.Errorf("%s has VLAN %d on one gateway, %d on the other", li.Name, v, li.VLAN)
		}
		vlans[li.Name] = li.VLAN
		if other, dup := used[li.Router+fmt.Sprint(li.VLAN)]; dup {
			return nil, fmt.Errorf("VLAN %d on %s given to %s and %s", li.VLAN, li.Router, other, li.Name)
		}
		used[li.Router+fmt.Sprint(li.VLAN)] = li.Name
	}
	if n != 2*len(want) {
		return nil, fmt.Errorf("%d generated logical interfaces, want %d", n, 2*len(want))
	}
	ports, _ := v.Ports.Snapshot()
	for name, w := range want {
		if ports[w.Port] != vlans[name] {
			return nil, fmt.Errorf("DVS port %s of %s has VLAN %d, want %d", w.Port, name, ports[w.Port], vlans[name])
		}
		got[name] = fmt.Sprintf("vlan=%d ip=%s", vlans[name], got[name])
	}
	cfg, err := store.Config()
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("the config with the generated rows does not validate: %w", err)
	}
	return got, nil
}

// waitInStep waits until inStep holds.
func waitInStep(t *testing.T, v *vcentertest.Sim, db *configdb.Client, store *configstore.Store, what string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		got, err := inStep(t, v, db, store)
		if err == nil {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not in step after %v: %v", what, settle, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kept fails when a NIC of before changed its VLAN or address in after.
func kept(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for name, b := range before {
		if a, ok := after[name]; ok && a != b {
			t.Errorf("%s: %s changed from %s to %s", what, name, b, a)
		}
	}
}

func TestSyncFollowsVCenter(t *testing.T) {
	v := vcentertest.NewSim(t, "ovsgw-blue", "ovsgw-red", "unmapped")
	db, store := testDB(t)
	web := v.CreateVM(t, "web", [2]string{"ovsgw-blue", "00:50:56:00:00:01"}, [2]string{"unmapped", "00:50:56:00:00:02"})
	app := v.CreateVM(t, "app", [2]string{"ovsgw-red", "00:50:56:00:00:03"})
	s := runSync(t, testConfig(v), db)
	state := waitInStep(t, v, db, store, "cold sync")
	if len(state) != 2 {
		t.Fatalf("cold sync mapped %v, want web's blue NIC and app's", state)
	}

	dbVM := v.CreateVM(t, "db", [2]string{"ovsgw-blue", "00:50:56:00:00:04"})
	next := waitInStep(t, v, db, store, "VM created")
	kept(t, "VM created", state, next)
	state = next

	v.Replug(t, app, "00:50:56:00:00:03", "ovsgw-blue")
	next = waitInStep(t, v, db, store, "NIC re-plugged to another port group")
	for name, s := range state {
		if strings.Contains(s, "10.2.") { // app's NIC: now in blue, same VLAN
			if got := next[name]; !strings.HasPrefix(got, strings.Fields(s)[0]+" ip=10.1.") {
				t.Errorf("re-plugged NIC %s: %s, want its VLAN kept and a blue address", name, got)
			}
			delete(state, name)
		}
	}
	kept(t, "re-plug", state, next)
	state = next

	v.AddNIC(t, web, "ovsgw-red", "00:50:56:00:00:05")
	next = waitInStep(t, v, db, store, "NIC added")
	if len(next) != len(state)+1 {
		t.Errorf("NIC added: %d NICs mapped, want %d", len(next), len(state)+1)
	}
	kept(t, "NIC added", state, next)
	state = next

	// ... and removed again: its rows go, the others stay.
	before := state
	v.RemoveNIC(t, web, "00:50:56:00:00:05")
	next = waitInStep(t, v, db, store, "NIC removed")
	if len(next) != len(state)-1 {
		t.Errorf("NIC removed: %d NICs mapped, want %d", len(next), len(state)-1)
	}
	kept(t, "NIC removed", state, next)
	v.AddNIC(t, web, "ovsgw-red", "00:50:56:00:00:05")
	state = waitInStep(t, v, db, store, "NIC added again")
	if len(state) != len(before) {
		t.Errorf("NIC added again: %d NICs mapped, want %d", len(state), len(before))
	}

	gen, _ := db.Generation()
	_, calls := v.Ports.Snapshot()
	v.Migrate(t, web, 2)
	time.Sleep(time.Second) // let the sync see the vMotion: it must write nothing
	next = waitInStep(t, v, db, store, "vMotion")
	kept(t, "vMotion", state, next)
	if g, _ := db.Generation(); g != gen {
		t.Errorf("vMotion changed the config DB: generation %d → %d", gen, g)
	}
	if _, c := v.Ports.Snapshot(); c != calls {
		t.Errorf("vMotion reconfigured DVS ports (%d calls, were %d)", c, calls)
	}

	v.DestroyVM(t, dbVM)
	next = waitInStep(t, v, db, store, "VM deleted")
	if len(next) != len(state)-1 {
		t.Errorf("VM deleted: %d NICs mapped, want %d", len(next), len(state)-1)
	}
	kept(t, "VM deleted", state, next)
	state = next

	// vCenter goes down: the config DB keeps every row; the status says so.
	v.Proxy.Cut()
	waitStatus(t, db, "vCenter down", func(connected bool, lastError string) bool { return !connected && lastError != "" })
	if got, err := inStep(t, v, db, store); err != nil {
		t.Fatalf("vCenter down: %v", err)
	} else {
		kept(t, "vCenter down", state, got)
	}
	// Meanwhile, in vCenter: a VM deleted, one created.
	v.DestroyVM(t, app)
	v.CreateVM(t, "cache", [2]string{"ovsgw-red", "00:50:56:00:00:06"})
	v.Proxy.Restore(t)
	next = waitInStep(t, v, db, store, "vCenter back")
	kept(t, "vCenter back", state, next)
	if len(next) != len(state) {
		t.Errorf("vCenter back: %d NICs mapped, want %d", len(next), len(state))
	}
	waitStatus(t, db, "vCenter back", func(connected bool, _ string) bool { return connected })
	st := s.Status()
	if st.VmsSeen != 2 || st.NicsMapped != 3 || st.VLANsUsed != 4 || st.VLANsFree != 96 {
		t.Errorf("status %+v: want 2 VMs seen, 3 NICs mapped, 4 VLANs used (one by hand), 96 free", st)
	}
	// db show lists the sync.
	view, err := store.View()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := view.Write(&out, time.Now(), configdb.StaleAfter); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 7 && f[0] == "vc1" {
			found = slices.Equal(f[1:7], []string{v.URL().String(), "yes", "2", "3", "4", "96"})
		}
	}
	if !strings.Contains(out.String(), "VCENTER SYNC") || !found {
		t.Errorf("db show:\n%s", out.String())
	}
}

// waitStatus waits until the sync's status row satisfies ok.
func waitStatus(t *testing.T, db *configdb.Client, what string, ok func(connected bool, lastError string) bool) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		rows, err := db.VcenterSyncs()
		if err == nil && len(rows) == 1 && ok(rows[0].Connected, rows[0].LastError) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status rows %+v (%v)", what, rows, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Two syncs of two vCenters onto the same gateway interfaces never hand out one VLAN twice.
func TestTwoSyncsShareTheVLANRange(t *testing.T) {
	v1 := vcentertest.NewSim(t, "ovsgw-blue")
	v2 := vcentertest.NewSim(t, "ovsgw-red")
	db, store := testDB(t)
	for i := range 5 {
		v1.CreateVM(t, fmt.Sprintf("a%d", i), [2]string{"ovsgw-blue", fmt.Sprintf("00:50:56:00:01:%02x", i)})
		v2.CreateVM(t, fmt.Sprintf("b%d", i), [2]string{"ovsgw-red", fmt.Sprintf("00:50:56:00:02:%02x", i)})
	}
	c1, c2 := testConfig(v1), testConfig(v2)
	c2.Name = "vc2"
	runSync(t, c1, db)
	runSync(t, c2, db)
	deadline := time.Now().Add(settle)
	for {
		view, err := db.OwnedRead()
		if err != nil {
			t.Fatal(err)
		}
		owners := map[string]int{}
		vlans := map[string][]string{}
		for _, li := range view.LogicalInterfaces {
			owners[li.ExternalIDs[configdb.OwnerKey]]++
			k := fmt.Sprintf("%s/%s/%d", li.Router, li.PhysicalInterface, li.VLAN)
			vlans[k] = append(vlans[k], li.Name)
		}
		dup := ""
		for k, names := range vlans {
			if len(names) > 1 {
				dup = fmt.Sprintf("%s: %v", k, names)
			}
		}
		if dup != "" {
			t.Fatalf("VLAN given twice: %s", dup)
		}
		if owners["vcenter:vc1"] == 10 && owners["vcenter:vc2"] == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("owners %v", owners)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cfg, err := store.Config()
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	syncs, _ := db.VcenterSyncs()
	var names []string
	for _, s := range syncs {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	if !slices.Equal(names, []string{"vc1", "vc2"}) {
		t.Errorf("status rows %v", names)
	}
}

// A config write between the read and the write planned from it (here, a hand-written
// logical interface taking VLAN 150): the write is refused whole, nothing written; planned
// again from a new read, it goes through.
func TestWriteOwnedRefusesAfterAConcurrentWrite(t *testing.T) {
	db, store := testDB(t)
	ctx := context.Background()
	read, err := db.OwnedRead()
	if err != nil {
		t.Fatal(err)
	}
	owner := map[string]string{configdb.OwnerKey: "vcenter:vc1"}
	w := &configdb.OwnedWrite{Status: gatewaydb.VcenterSync{Name: "vc1"},
		InsertVMIs: []gatewaydb.VirtualMachineInterface{{Name: "vc1-x-1", Network: "blue", MAC: "00:50:56:00:00:99", ExternalIDs: owner}},
		InsertLIs: []gatewaydb.LogicalInterface{
			{Router: "gw1", PhysicalInterface: "eth1", Name: "vc1-x-1", VLAN: 150, Vmi: "vc1-x-1", Type: "l2", ExternalIDs: owner},
			{Router: "gw2", PhysicalInterface: "eth1", Name: "vc1-x-1", VLAN: 150, Vmi: "vc1-x-1", Type: "l2", ExternalIDs: owner},
		}}
	cfg, err := store.Config()
	if err != nil {
		t.Fatal(err)
	}
	vlan := 150
	pi := &cfg.PhysicalRouters[0].PhysicalInterfaces[0]
	pi.LogicalInterfaces = append(pi.LogicalInterfaces, model.LogicalInterface{Name: "eth1-150", VLAN: &vlan, VMI: "bms2"})
	cfg.VirtualMachineInterfaces = append(cfg.VirtualMachineInterfaces, model.VirtualMachineInterface{Name: "bms2", Network: "blue", MAC: "02:00:00:00:01:0b"})
	if _, err := store.Apply(ctx, cfg, false); err != nil {
		t.Fatal(err)
	}
	gen, _ := db.Generation()
	if err := db.WriteOwned(ctx, read, w); !errors.Is(err, configdb.ErrOwnedConflict) {
		t.Fatalf("write planned before db apply took VLAN 150: %v, want ErrOwnedConflict", err)
	}
	view, err := db.OwnedRead()
	if err != nil {
		t.Fatal(err)
	}
	if len(view.VMIs) != 3 || len(view.LogicalInterfaces) != 4 || len(view.Syncs) != 0 {
		t.Errorf("something was written: %d VMIs, %d LIs, %d status rows", len(view.VMIs), len(view.LogicalInterfaces), len(view.Syncs))
	}
	if g, _ := db.Generation(); g != gen {
		t.Errorf("generation %d → %d", gen, g)
	}
	w.InsertLIs[0].VLAN, w.InsertLIs[1].VLAN = 151, 151 // planned again from the new read
	if err := db.WriteOwned(ctx, view, w); err != nil {
		t.Fatal(err)
	}
	if g, _ := db.Generation(); g != gen+1 {
		t.Errorf("generation %d → %d, want one more", gen, g)
	}
}

// `ovsgw db apply` leaves the sync's rows alone, and refuses a config naming one of them.
func TestDBApplyLeavesSyncRowsAlone(t *testing.T) {
	v := vcentertest.NewSim(t, "ovsgw-blue")
	db, store := testDB(t)
	v.CreateVM(t, "web", [2]string{"ovsgw-blue", "00:50:56:00:00:01"})
	runSync(t, testConfig(v), db)
	before := waitInStep(t, v, db, store, "cold sync")
	ctx := context.Background()
	cfg, err := store.Config()
	if err != nil {
		t.Fatal(err)
	}
	// The config as the operator keeps it: without the generated rows, plus a new VMI.
	var own []model.VirtualMachineInterface
	for _, x := range cfg.VirtualMachineInterfaces {
		if !strings.HasPrefix(x.Name, "vc1-") {
			own = append(own, x)
		}
	}
	cfg.VirtualMachineInterfaces = append(own, model.VirtualMachineInterface{Name: "local1", Network: "red", MAC: "02:00:00:00:02:01"})
	for i := range cfg.PhysicalRouters {
		for j := range cfg.PhysicalRouters[i].PhysicalInterfaces {
			pi := &cfg.PhysicalRouters[i].PhysicalInterfaces[j]
			pi.LogicalInterfaces = slices.DeleteFunc(pi.LogicalInterfaces, func(l model.LogicalInterface) bool { return strings.HasPrefix(l.Name, "vc1-") })
		}
	}
	sum, err := store.Apply(ctx, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Removed) != 0 || len(sum.Added) != 1 {
		t.Errorf("db apply: %s", sum)
	}
	after := waitInStep(t, v, db, store, "after db apply")
	kept(t, "db apply", before, after)
	name := slices.Collect(maps.Keys(before))[0]
	cfg.VirtualMachineInterfaces = append(cfg.VirtualMachineInterfaces, model.VirtualMachineInterface{Name: name, Network: "red", MAC: "02:00:00:00:02:02"})
	if _, err := store.Apply(ctx, cfg, false); err == nil || !strings.Contains(err.Error(), "generated by vcenter:vc1") {
		t.Errorf("db apply of a VMI named as a generated one: %v", err)
	}
}

// Bad credentials, an unreachable vCenter and a certificate that does not verify: a clear
// error, and nothing written but the status row saying so.
func TestSyncRefusedLogins(t *testing.T) {
	v := vcentertest.NewSim(t, "ovsgw-blue")
	v.CreateVM(t, "web", [2]string{"ovsgw-blue", "00:50:56:00:00:01"})
	otherCA := filepath.Join(t.TempDir(), "other-ca.pem")
	writeSelfSigned(t, otherCA)
	unreachable := v.URL()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable.Host = ln.Addr().String()
	ln.Close() // a port nobody listens on
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"bad credentials", func(c *Config) { c.Password = "wrong" }, "login as " + vcentertest.User + " refused"},
		{"unreachable", func(c *Config) { c.URL = unreachable }, "cannot reach it"},
		{"certificate of another CA", func(c *Config) { c.CACert = otherCA }, "its certificate is not signed by the CA in " + otherCA},
		{"no CA", func(c *Config) { c.CACert = "" }, "its certificate does not verify (set ca_cert, or pin it with thumbprint)"},
		{"wrong thumbprint", func(c *Config) {
			c.CACert, c.Thumbprint = "", strings.TrimSuffix(strings.Repeat("AB:", 32), ":")
		}, "its certificate is not the pinned one"},
		{"no such DVS", func(c *Config) { c.DVS = "nope" }, "dvs nope: no such distributed switch (it has: DVS0)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, store := testDB(t)
			cfg := testConfig(v)
			tc.edit(cfg)
			if _, err := Dial(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Dial: %v, want %q", err, tc.want)
			}
			before, err := store.Config()
			if err != nil {
				t.Fatal(err)
			}
			runSync(t, cfg, db)
			waitStatus(t, db, tc.name, func(connected bool, lastError string) bool {
				return !connected && strings.Contains(lastError, tc.want)
			})
			after, err := store.Config()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(before, after) {
				t.Errorf("the config changed")
			}
		})
	}
	// The thumbprint of the right certificate verifies it.
	cfg := testConfig(v)
	cfg.CACert, cfg.Thumbprint = "", soap.ThumbprintSHA256(v.Srv.Certificate())
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pinned thumbprint: %v", err)
	}
	_ = c.Close()
}

// writeSelfSigned writes a CA certificate that signed nothing the simulator serves.
func writeSelfSigned(t *testing.T, path string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other CA"}, IsCA: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Rows that would make the whole config invalid (here: two uplinks, an HA group, whose
// gateways lack their VLAN 0 BPDU logical interfaces) are not written: the agents would refuse
// the whole config. The status says why; once the operator completes the group, the sync writes.
func TestSyncWritesNothingThatWouldInvalidateTheConfig(t *testing.T) {
	v := vcentertest.NewSim(t, "ovsgw-blue")
	db, store := testDB(t)
	ctx := context.Background()
	full, err := store.Config()
	if err != nil {
		t.Fatal(err)
	}
	half, err := store.Config()
	if err != nil {
		t.Fatal(err)
	}
	for i := range half.PhysicalRouters {
		pi := &half.PhysicalRouters[i].PhysicalInterfaces[0]
		pi.LogicalInterfaces = slices.DeleteFunc(pi.LogicalInterfaces, func(l model.LogicalInterface) bool { return l.Name == "eth1-bpdu" })
	}
	half.VirtualMachineInterfaces = slices.DeleteFunc(half.VirtualMachineInterfaces, func(v model.VirtualMachineInterface) bool { return v.Name == "ha-bpdu" })
	if _, err := store.Apply(ctx, half, false); err != nil {
		t.Fatal(err)
	}
	v.CreateVM(t, "web", [2]string{"ovsgw-blue", "00:50:56:00:00:01"})
	runSync(t, testConfig(v), db)
	waitStatus(t, db, "HA group incomplete", func(connected bool, lastError string) bool {
		return strings.Contains(lastError, "would make the config invalid") && strings.Contains(lastError, "no VLAN 0 logical interface")
	})
	view, err := db.OwnedRead()
	if err != nil {
		t.Fatal(err)
	}
	for _, vmi := range view.VMIs {
		if vmi.ExternalIDs[configdb.OwnerKey] != "" {
			t.Fatalf("a row was written: %+v", vmi)
		}
	}
	if _, err := store.Apply(ctx, full, false); err != nil {
		t.Fatal(err)
	}
	if got := waitInStep(t, v, db, store, "HA group completed"); len(got) != 1 {
		t.Errorf("mapped %v", got)
	}
}

package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/agentconf"
	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/openflow"
	"github.com/ovsgw/ovsgw/ovsdb"
)

// fakeBridgeDB is a node's Open_vSwitch database with a fixed set of interfaces, and notices
// about the bridge's settings.
type fakeBridgeDB struct {
	ifaces          []ovsdb.Interface
	notices         []string
	nextCfg, curCfg int // ovs-vswitchd has applied the database up to curCfg
}

func (f *fakeBridgeDB) Connected() bool                                      { return true }
func (f *fakeBridgeDB) EnsureBridge(context.Context, ovsdb.BridgeSpec) error { return nil }
func (f *fakeBridgeDB) BridgeNotices(string) []string                        { return f.notices }
func (f *fakeBridgeDB) ConfigSeq() (next, cur int)                           { return f.nextCfg, f.curCfg }
func (f *fakeBridgeDB) Interfaces(string) []ovsdb.Interface                  { return f.ifaces }

// fakeSwitch is an OpenFlow switch: it keeps flows by key and groups by id, applies what it is
// sent, and counts what it was asked.
type fakeSwitch struct {
	flows    map[openflow.Key]openflow.Flow
	groups   map[uint32]openflow.Group
	applies  [][]openflow.Change
	dumps    int    // full dumps (DumpFlows) it was asked for
	packets  uint64 // every flow's packet counter, as read back
	failNext error  // the next Apply fails with it, changing nothing (a rolled-back bundle)
}

func newFakeSwitch() *fakeSwitch {
	return &fakeSwitch{flows: map[openflow.Key]openflow.Flow{}, groups: map[uint32]openflow.Group{}}
}

func (f *fakeSwitch) DumpFlows(context.Context, *uint8) ([]openflow.InstalledFlow, error) {
	f.dumps++
	var out []openflow.InstalledFlow
	for _, fl := range f.flows {
		out = append(out, openflow.InstalledFlow{Flow: fl, Packets: f.packets})
	}
	return out, nil
}

func (f *fakeSwitch) DumpFlowsByCookie(_ context.Context, cookie, mask uint64) ([]openflow.InstalledFlow, error) {
	var out []openflow.InstalledFlow
	for _, fl := range f.flows {
		if fl.Cookie&mask == cookie&mask {
			out = append(out, openflow.InstalledFlow{Flow: fl, Packets: f.packets})
		}
	}
	return out, nil
}

func (f *fakeSwitch) DumpFlowsToGroup(_ context.Context, id uint32) ([]openflow.InstalledFlow, error) {
	var out []openflow.InstalledFlow
	for _, fl := range f.flows {
		for _, a := range fl.Actions {
			if g, ok := a.(openflow.GroupAction); ok && g.ID == id {
				out = append(out, openflow.InstalledFlow{Flow: fl})
				break
			}
		}
	}
	return out, nil
}

func (f *fakeSwitch) DumpGroups(context.Context) ([]openflow.Group, error) {
	var out []openflow.Group
	for _, g := range f.groups {
		out = append(out, g)
	}
	return out, nil
}

func (f *fakeSwitch) Apply(_ context.Context, changes []openflow.Change) error {
	if err := f.failNext; err != nil {
		f.failNext = nil
		return err
	}
	f.applies = append(f.applies, changes)
	for _, c := range changes {
		switch c := c.(type) {
		case openflow.FlowMod:
			if c.Command == openflow.FlowDeleteStrict {
				delete(f.flows, c.Flow.Key())
			} else {
				f.flows[c.Flow.Key()] = c.Flow
			}
		case openflow.GroupMod:
			if c.Command == openflow.GroupDelete {
				delete(f.groups, c.Group.ID)
				// As OVS does: deleting a group deletes the flows that use it.
				for k, fl := range f.flows {
					for _, a := range fl.Actions {
						if g, ok := a.(openflow.GroupAction); ok && g.ID == c.Group.ID {
							delete(f.flows, k)
						}
					}
				}
			} else {
				f.groups[c.Group.ID] = c.Group
			}
		}
	}
	return nil
}

func (f *fakeSwitch) Close() error { return nil }

const syncTestConfig = `
virtualNetworks:
  - {name: blue, vni: 5001, subnets: [10.1.0.0/24]}
physicalRouters:
  - name: gw1
    physicalInterfaces:
      - name: eth1
        logicalInterfaces:
          - {name: li-100, vlan: 100, vmi: bms1}
          - {name: li-101, vlan: 101, vmi: bms2}
virtualMachineInterfaces:
  - {name: bms1, network: blue, mac: "02:00:00:00:01:01", instanceIPs: [{address: 10.1.0.11}]}
  - {name: bms2, network: blue, mac: "02:00:00:00:01:02", instanceIPs: [{address: 10.1.0.12}]}
  - {name: vm1, network: blue, mac: "02:00:00:00:02:01", instanceIPs: [{address: 10.1.0.21}]}
`

func syncTestIndex(t *testing.T, text string) *model.Index {
	t.Helper()
	c, err := model.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return model.NewIndex(c)
}

// fakeSource is a config source that never changes (the tests set the agent's index).
type fakeSource struct{}

func (fakeSource) Load(bool) (*model.Config, bool, error) { return nil, false, nil }
func (fakeSource) Changed() <-chan struct{}               { return nil }
func (fakeSource) ParseSeconds() float64                  { return 0 }
func (fakeSource) String() string                         { return "test config" }

// newSyncAgent is an agent in file mode wired to fakes, as Run would leave it after connecting.
func newSyncAgent(t *testing.T, sw *fakeSwitch) *Agent {
	conf := &agentconf.Config{Hostname: "gw1", GatewayMode: agentconf.GatewayModeServer, Bridge: "br-int", MaxInterfaces: 100}
	return &Agent{conf: conf, src: fakeSource{}, idx: syncTestIndex(t, syncTestConfig), cfgGen: 1, needDump: true,
		engine: pipeline.NewEngine(), table: openflow.NewFlowTable(pipeline.OwnedCookie, pipeline.OwnedGroup),
		ovs: &fakeBridgeDB{ifaces: []ovsdb.Interface{{Name: "eth1", OFPort: 1}, {Name: "vm1p", OFPort: 2, IfaceID: "vm1"}}},
		of:  sw, trigger: make(chan struct{}, 1)}
}

// switchText is what the switch holds, sorted, for comparison with a full compile.
func switchText(sw *fakeSwitch) string {
	var flows []openflow.Flow
	for _, f := range sw.flows {
		flows = append(flows, f)
	}
	var groups []openflow.Group
	for _, g := range sw.groups {
		groups = append(groups, g)
	}
	return flowsText(flows, groups)
}

func flowsText(flows []openflow.Flow, groups []openflow.Group) string {
	var lines []string
	for _, f := range flows {
		lines = append(lines, f.String())
	}
	for _, g := range groups {
		lines = append(lines, g.String())
	}
	sortStrings(lines)
	return strings.Join(lines, "\n")
}

func compiledText(in pipeline.Input) string {
	out := pipeline.Compile(in)
	var flows []openflow.Flow
	for _, e := range out.Flows {
		flows = append(flows, e.Flow)
	}
	var groups []openflow.Group
	for _, g := range out.Groups {
		groups = append(groups, g.Group)
	}
	return flowsText(flows, groups)
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func (a *Agent) testInput() pipeline.Input {
	in := pipeline.Input{Index: a.idx, Host: "gw1", GatewayMode: true}
	for _, i := range a.ovs.Interfaces("") {
		in.Ports = append(in.Ports, pipeline.Port{Name: i.Name, OFPort: i.OFPort, IfaceID: i.IfaceID})
	}
	return in
}

func TestSyncSendsOnlyWhatChanged(t *testing.T) {
	sw := newFakeSwitch()
	foreign := openflow.Flow{Table: 0, Priority: 7, Cookie: 0x1234, Match: openflow.Match{}.WithUint(openflow.FieldInPort, 99)}
	sw.flows[foreign.Key()] = foreign
	a := newSyncAgent(t, sw)
	ctx := context.Background()

	if err := a.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if sw.dumps != 1 || len(sw.applies) != 1 {
		t.Fatalf("first sync: %d dumps, %d bundles; want 1 and 1", sw.dumps, len(sw.applies))
	}
	if _, kept := sw.flows[foreign.Key()]; !kept {
		t.Fatal("the foreign flow was deleted")
	}
	delete(sw.flows, foreign.Key())
	if got, want := switchText(sw), compiledText(a.testInput()); got != want {
		t.Fatalf("the switch does not hold the compiled state:\n%s\nwant\n%s", got, want)
	}
	sw.flows[foreign.Key()] = foreign

	t.Run("nothing changed: no compile, no bundle", func(t *testing.T) {
		if err := a.reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		if len(sw.applies) != 1 || sw.dumps != 1 {
			t.Fatalf("%d bundles, %d dumps after a sync with nothing changed", len(sw.applies), sw.dumps)
		}
	})

	t.Run("one instance removed: only its flows and its VN's groups", func(t *testing.T) {
		a.idx = syncTestIndex(t, strings.Replace(strings.Replace(syncTestConfig,
			"          - {name: li-101, vlan: 101, vmi: bms2}\n", "", 1),
			"  - {name: bms2, network: blue, mac: \"02:00:00:00:01:02\", instanceIPs: [{address: 10.1.0.12}]}\n", "", 1))
		if err := a.reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		if len(sw.applies) != 2 {
			t.Fatalf("%d bundles, want 2", len(sw.applies))
		}
		for _, c := range sw.applies[1] {
			switch c := c.(type) {
			case openflow.FlowMod:
				if c.Command != openflow.FlowDeleteStrict {
					t.Errorf("a removal sent %s", c)
				}
				if kind, _, id, _ := pipeline.ParseCookie(c.Flow.Cookie); kind != pipeline.KindVMI || a.view.names[kind][id] != "" {
					t.Errorf("a removal touched a flow of %s %d: %s", kind, id, c)
				}
			case openflow.GroupMod:
				if c.Command != openflow.GroupModify || pipeline.GroupVNI(c.Group.ID) != 5001 {
					t.Errorf("a removal sent %s", c)
				}
			}
		}
		delete(sw.flows, foreign.Key())
		if got, want := switchText(sw), compiledText(a.testInput()); got != want {
			t.Fatalf("the switch does not hold the compiled state after the removal")
		}
		sw.flows[foreign.Key()] = foreign
	})

	t.Run("a failed bundle is retried whole after a dump", func(t *testing.T) {
		a.idx = syncTestIndex(t, syncTestConfig) // bms2 back
		sw.failNext = errors.New("bundle rolled back")
		if err := a.reconcile(ctx); err == nil {
			t.Fatal("a failed bundle was not reported")
		}
		if !a.needDump || a.syncErr == "" {
			t.Fatalf("after a failed bundle: needDump %v, syncErr %q", a.needDump, a.syncErr)
		}
		dumps := sw.dumps
		if err := a.reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		if sw.dumps != dumps+1 {
			t.Fatal("the retry did not read the switch first")
		}
		delete(sw.flows, foreign.Key())
		if got, want := switchText(sw), compiledText(a.testInput()); got != want {
			t.Fatalf("the switch does not hold the compiled state after the retry")
		}
	})
}

// TestSyncReportsForeignFlowInOurPlace: a foreign flow with exactly the table, priority and
// match of one of ovsgw's is left alone and reported, and the rest is programmed.
func TestSyncReportsForeignFlowInOurPlace(t *testing.T) {
	sw := newFakeSwitch()
	a := newSyncAgent(t, sw)
	want := pipeline.Compile(a.testInput())
	squat := want.Flows[len(want.Flows)/2].Flow
	squat.Cookie = 0x42
	sw.flows[squat.Key()] = squat
	if err := a.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sw.flows[squat.Key()]; got.Cookie != 0x42 {
		t.Fatalf("the foreign flow was overwritten: %s", got)
	}
	if len(sw.flows) != len(want.Flows) {
		t.Fatalf("the switch holds %d flows, want %d (all of ovsgw's but the one taken, and the foreign one)", len(sw.flows), len(want.Flows))
	}
	found := false
	for _, n := range a.view.notices {
		found = found || strings.Contains(n, fmt.Sprintf("%#x", uint64(0x42))) || strings.Contains(n, "cookie=0x42")
	}
	if !found {
		t.Fatalf("no notice names the foreign flow: %q", a.view.notices)
	}
}

// TestSyncSendsAHugeChangeInParts: a sync of more flow changes than one bundle may carry goes in
// several bundles, and the switch ends holding exactly the compiled state.
func TestSyncSendsAHugeChangeInParts(t *testing.T) {
	sw := newFakeSwitch()
	a := newSyncAgent(t, sw)
	a.maxBundle = 10
	if err := a.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := pipeline.Compile(a.testInput())
	if parts := (len(want.Flows) + a.maxBundle - 1) / a.maxBundle; len(sw.applies) != parts {
		t.Errorf("%d flows went in %d bundles, want %d of at most %d", len(want.Flows), len(sw.applies), parts, a.maxBundle)
	}
	if got, wantText := switchText(sw), compiledText(a.testInput()); got != wantText {
		t.Fatalf("the switch does not hold the compiled state after a sync in parts")
	}
	if a.lastChangeMods != len(want.Flows)+len(want.Groups) {
		t.Errorf("status counts %d changes, want %d", a.lastChangeMods, len(want.Flows)+len(want.Groups))
	}
}

// stubSource names a config source, for status.
type stubSource struct{ configSource }

func (stubSource) String() string { return "gateway.yaml" }

// A status with drop counters reads ovsgw's drop flows only, filtered by the switch by cookie,
// never a dump of every flow of the bridge (with 100K flows each `ovsgw status` cost a full
// dump); the counters still add up per reason and per VMI.
func TestStatusDoesNotDumpEveryFlow(t *testing.T) {
	sw := newFakeSwitch()
	a := newSyncAgent(t, sw)
	a.src = stubSource{}
	if err := a.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	sw.dumps, sw.packets = 0, 1
	s := a.Status(context.Background(), true)
	if sw.dumps != 0 {
		t.Errorf("a status dumped every flow %d times", sw.dumps)
	}
	if s.Drops == nil {
		t.Fatal("no drop counters")
	}
	wantReason, wantVMI := map[string]uint64{}, map[string]map[string]uint64{}
	for _, f := range sw.flows {
		kind, why, id, ok := pipeline.ParseCookie(f.Cookie)
		if !ok || why == pipeline.Forward {
			continue
		}
		wantReason[pipeline.DropReasons[why]]++
		if kind == pipeline.KindVMI {
			vmi := a.view.names[kind][id]
			if wantVMI[vmi] == nil {
				wantVMI[vmi] = map[string]uint64{}
			}
			wantVMI[vmi][pipeline.DropReasons[why]]++
		}
	}
	for reason, n := range wantReason {
		if s.Drops.ByReason[reason] != n {
			t.Errorf("drops %s: %d, want %d", reason, s.Drops.ByReason[reason], n)
		}
	}
	if !reflect.DeepEqual(s.Drops.ByVMI, wantVMI) || len(wantVMI) == 0 {
		t.Errorf("drops by VMI %v, want %v", s.Drops.ByVMI, wantVMI)
	}
}

// TestSyncLeavesForeignGroupInOurRange: groups of someone else's whose ids fall in ovsgw's
// ranges, one at the id of a flood group ovsgw wants and one at an id it does not, survive a
// sync untouched, and so do the foreign flows that use them; both are reported, and ovsgw's
// flood flow, which would send packets into the foreign group, is not installed.
func TestSyncLeavesForeignGroupInOurRange(t *testing.T) {
	sw := newFakeSwitch()
	wanted := openflow.Group{ID: pipeline.FloodGroupID(5001), Type: openflow.GroupAll,
		Buckets: []openflow.Bucket{{Actions: []openflow.Action{openflow.Output{Port: 7}}}}}
	unwanted := openflow.Group{ID: pipeline.FloodGroupID(7777), Type: openflow.GroupAll,
		Buckets: []openflow.Bucket{{Actions: []openflow.Action{openflow.Output{Port: 8}}}}}
	usesWanted := openflow.Flow{Table: 0, Priority: 7, Cookie: 0x1234, Match: openflow.Match{}.WithUint(openflow.FieldInPort, 97),
		Actions: []openflow.Action{openflow.GroupAction{ID: wanted.ID}}}
	usesUnwanted := openflow.Flow{Table: 0, Priority: 7, Cookie: 0x1234, Match: openflow.Match{}.WithUint(openflow.FieldInPort, 98),
		Actions: []openflow.Action{openflow.GroupAction{ID: unwanted.ID}}}
	for _, g := range []openflow.Group{wanted, unwanted} {
		sw.groups[g.ID] = g
	}
	for _, f := range []openflow.Flow{usesWanted, usesUnwanted} {
		sw.flows[f.Key()] = f
	}
	a := newSyncAgent(t, sw)
	if err := a.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, g := range []openflow.Group{wanted, unwanted} {
		if got, ok := sw.groups[g.ID]; !ok || !got.Equal(g) {
			t.Errorf("foreign group %d became %q", g.ID, got)
		}
	}
	for _, f := range []openflow.Flow{usesWanted, usesUnwanted} {
		if got, ok := sw.flows[f.Key()]; !ok || !got.Equal(f) {
			t.Errorf("foreign flow %s became %q", f, got)
		}
	}
	for _, f := range sw.flows {
		for _, act := range f.Actions {
			if g, ok := act.(openflow.GroupAction); ok && g.ID == wanted.ID && f.Cookie != usesWanted.Cookie {
				t.Errorf("ovsgw's flow sends packets into the foreign group: %s", f)
			}
		}
	}
	notices := strings.Join(a.view.notices, "\n")
	for _, want := range []string{
		"refusing to overwrite foreign entry \"" + wanted.String(),
		"it uses foreign group \"" + wanted.String(),
		fmt.Sprintf("foreign group %d left alone", unwanted.ID),
		usesUnwanted.String(),
	} {
		if !strings.Contains(notices, want) {
			t.Errorf("notices lack %q:\n%s", want, notices)
		}
	}
}

// TestSyncKeepsOurGroupThatForeignFlowUses: a flood group of ovsgw's that it no longer wants is
// deleted, unless a foreign flow uses it: then it stays (OpenFlow would delete the foreign flow
// with it) and is reported.
func TestSyncKeepsOurGroupThatForeignFlowUses(t *testing.T) {
	sw := newFakeSwitch()
	stale := func(vni uint32) openflow.Group {
		return openflow.Group{ID: pipeline.FloodGroupID(vni), Type: openflow.GroupAll,
			Buckets: []openflow.Bucket{{Actions: []openflow.Action{pipeline.GroupMarker, openflow.Output{Port: 7}}}}}
	}
	used, unused := stale(7001), stale(7002)
	user := openflow.Flow{Table: 0, Priority: 7, Cookie: 0x1234, Match: openflow.Match{}.WithUint(openflow.FieldInPort, 97),
		Actions: []openflow.Action{openflow.GroupAction{ID: used.ID}}}
	sw.groups[used.ID], sw.groups[unused.ID], sw.flows[user.Key()] = used, unused, user
	a := newSyncAgent(t, sw)
	if err := a.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := sw.groups[unused.ID]; ok {
		t.Errorf("ovsgw's stale group %d was not deleted", unused.ID)
	}
	if _, ok := sw.groups[used.ID]; !ok {
		t.Errorf("ovsgw's stale group %d was deleted although a foreign flow uses it", used.ID)
	}
	if _, ok := sw.flows[user.Key()]; !ok {
		t.Errorf("the foreign flow %s is gone", user)
	}
	if notices := strings.Join(a.view.notices, "\n"); !strings.Contains(notices, "kept: not deleting group \""+used.String()) || !strings.Contains(notices, user.String()) {
		t.Errorf("no notice names the kept group and its user:\n%s", notices)
	}

	// A foreign flow that starts using a group of ovsgw's after the agent last read the switch
	// keeps it too: the switch is asked, before a group is deleted, what would go with it.
	blue := sw.groups[pipeline.FloodGroupID(5001)]
	late := openflow.Flow{Table: 0, Priority: 8, Cookie: 0x1234, Match: openflow.Match{}.WithUint(openflow.FieldInPort, 96),
		Actions: []openflow.Action{openflow.GroupAction{ID: blue.ID}}}
	sw.flows[late.Key()] = late
	a.idx = syncTestIndex(t, `
virtualNetworks:
  - {name: blue, vni: 5001}
`)
	if err := a.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := sw.flows[late.Key()]; !ok {
		t.Errorf("the foreign flow %s went with ovsgw's group", late)
	}
	if got, ok := sw.groups[blue.ID]; !ok || !got.Equal(blue) {
		t.Errorf("ovsgw's group %d, which a foreign flow uses, became %q", blue.ID, got)
	}
	if notices := strings.Join(a.view.notices, "\n"); !strings.Contains(notices, "kept: not deleting group \""+blue.String()) || !strings.Contains(notices, late.String()) {
		t.Errorf("no notice names the kept group and its user:\n%s", notices)
	}
}

// TestSyncReportsBridgeFailMode: a fail mode the agent leaves alone is shown by status; when it
// changes (ovs-vswitchd then deletes the bridge's flows) the next sync reads the switch again.
func TestSyncReportsBridgeFailMode(t *testing.T) {
	sw := newFakeSwitch()
	a := newSyncAgent(t, sw)
	db := a.ovs.(*fakeBridgeDB)
	db.notices = []string{`bridge "br-int": fail_mode is standalone, not secure`}
	ctx := context.Background()
	if err := a.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if s := a.Status(ctx, false); !slices.Contains(s.Notices, db.notices[0]) {
		t.Errorf("status notices %q lack the bridge's", s.Notices)
	}
	dumps := sw.dumps
	if err := a.reconcile(ctx); err != nil || sw.dumps != dumps {
		t.Fatalf("a sync with nothing changed read the switch again (%v)", err)
	}
	// The owner sets fail_mode=secure (next_cfg 5); ovs-vswitchd has not applied it yet, and
	// the flows are still there: nothing to read again yet.
	db.notices, db.nextCfg, db.curCfg = nil, 5, 4
	if err := a.reconcile(ctx); err != nil || sw.dumps != dumps {
		t.Fatalf("read the switch before ovs-vswitchd applied the change (%v)", err)
	}
	// ovs-vswitchd applies it and deletes every flow: the next sync reads the switch and
	// restores them.
	db.curCfg = 5
	clear(sw.flows)
	clear(sw.groups)
	if err := a.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if sw.dumps != dumps+1 {
		t.Errorf("the fail mode changed and the sync did not read the switch again")
	}
	if got, want := switchText(sw), compiledText(a.testInput()); got != want {
		t.Errorf("flows not restored after the fail mode changed")
	}
	if s := a.Status(ctx, false); slices.Contains(s.Notices, `bridge "br-int": fail_mode is standalone, not secure`) {
		t.Errorf("status still shows the fail mode: %q", s.Notices)
	}
}

// fakeVswitchd answers ovs-vswitchd's control socket protocol (JSON-RPC over a unix socket):
// every command succeeds, or fails while fail is set; it counts the calls.
type fakeVswitchd struct {
	path  string
	mu    sync.Mutex
	calls []string
	fail  bool
}

func newFakeVswitchd(t *testing.T) *fakeVswitchd {
	dir, err := os.MkdirTemp("", "ovsgw-ctl-") // short: unix socket paths hold 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := &fakeVswitchd{path: filepath.Join(dir, "ovs-vswitchd.ctl")}
	l, err := net.Listen("unix", f.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			var req struct {
				ID     int      `json:"id"`
				Method string   `json:"method"`
				Params []string `json:"params"`
			}
			if json.NewDecoder(c).Decode(&req) == nil {
				f.mu.Lock()
				f.calls = append(f.calls, req.Method)
				reply := map[string]any{"id": req.ID, "result": "", "error": nil}
				if f.fail {
					reply = map[string]any{"id": req.ID, "result": nil, "error": "cannot purge now"}
				}
				f.mu.Unlock()
				json.NewEncoder(c).Encode(reply)
			}
			c.Close()
		}
	}()
	return f
}

func (f *fakeVswitchd) set(fail bool) { f.mu.Lock(); f.fail = fail; f.mu.Unlock() }
func (f *fakeVswitchd) purges() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, m := range f.calls {
		if m == "revalidator/purge" {
			n++
		}
	}
	return n
}

// TestFailedDatapathPurgeIsRetried: when the purge of the datapath flow cache that follows a
// flow change fails, the sync fails (so that the agent's backoff schedules a retry), status
// counts the failures, and the next syncs purge again, though no flow changes, until a purge
// succeeds; then none follows.
func TestFailedDatapathPurgeIsRetried(t *testing.T) {
	sw := newFakeSwitch()
	a := newSyncAgent(t, sw)
	vswitchd := newFakeVswitchd(t)
	a.conf.VswitchdCtl = vswitchd.path
	vswitchd.set(true)
	ctx := context.Background()
	for try := 1; try <= 2; try++ {
		err := a.reconcile(ctx)
		if err == nil || !strings.Contains(err.Error(), "purge") {
			t.Fatalf("sync %d with a failing purge: %v, want a purge error", try, err)
		}
		s := a.Status(ctx, false)
		if vswitchd.purges() != try || s.PurgeFailures != try || !strings.Contains(s.LastSyncError, "cannot purge now") {
			t.Fatalf("sync %d: %d purges asked, status counts %d failures, last error %q", try, vswitchd.purges(), s.PurgeFailures, s.LastSyncError)
		}
	}
	if len(sw.applies) != 1 {
		t.Fatalf("%d bundles, want the first only: the retries change no flow", len(sw.applies))
	}
	vswitchd.set(false)
	if err := a.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if s := a.Status(ctx, false); vswitchd.purges() != 3 || s.PurgeFailures != 0 || s.LastSyncError != "" {
		t.Fatalf("after a purge succeeded: %d purges asked, status counts %d failures, last error %q", vswitchd.purges(), s.PurgeFailures, s.LastSyncError)
	}
	if err := a.reconcile(ctx); err != nil || vswitchd.purges() != 3 {
		t.Fatalf("a sync with nothing changed purged again (%d purges, %v)", vswitchd.purges(), err)
	}
}

package agent

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ovsgw/ovsgw/gateway/metrics"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/openflow"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
)

// DumpFlowCounters makes the fake a counterSession: the counters of the flows of one table
// (or all) whose cookie matches, each the switch's packet counter and 100 bytes per packet. It
// counts as a dump of what it selects, not of every flow.
func (f *fakeSwitch) DumpFlowCounters(_ context.Context, table uint8, cookie, mask uint64) ([]openflow.FlowCounters, error) {
	var out []openflow.FlowCounters
	for _, fl := range f.flows {
		if (table == openflow.AllTables || fl.Table == table) && fl.Cookie&mask == cookie&mask {
			out = append(out, openflow.FlowCounters{Table: fl.Table, Cookie: fl.Cookie, Packets: f.packets, Bytes: 100 * f.packets})
		}
	}
	return out, nil
}

func TestMetricsCountASyncAndItsChange(t *testing.T) {
	sw := newFakeSwitch()
	a := newSyncAgent(t, sw)
	a.metrics = metrics.New(metrics.Options{PerVMI: true}, a.metricsState)
	if err := a.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := a.metrics.Registry()
	mods := value(t, a, "ovsgw_flow_mods_total")
	if mods != float64(a.syncN) || mods == 0 {
		t.Errorf("ovsgw_flow_mods_total %v, want the %d mods the sync sent", mods, a.syncN)
	}
	if n := histogramCount(t, a, "ovsgw_change_duration_seconds"); n != 1 {
		t.Errorf("%d changes after the first sync of generation 1, want 1", n)
	}
	// A sync with nothing to do is no change, and sends nothing.
	if err := a.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := histogramCount(t, a, "ovsgw_change_duration_seconds"); n != 1 {
		t.Errorf("%d changes after a sync that sent nothing, want still 1", n)
	}
	if got := value(t, a, "ovsgw_flow_mods_total"); got != mods {
		t.Errorf("ovsgw_flow_mods_total moved to %v on a sync that sent nothing", got)
	}
	if got := value(t, a, "ovsgw_flows"); got != float64(len(sw.flows)) {
		t.Errorf("ovsgw_flows %v, the switch holds %d", got, len(sw.flows))
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// TestMetricsSampleReadsOnlyTheFlowsItCounts: a sample of the counters dumps no table whole
// (only ovsgw's drop flows, and the bound VMIs' classify and output flows), counts each VMI
// bound here (one classify flow in, two output flows out), and counts the drops as status does.
func TestMetricsSampleReadsOnlyTheFlowsItCounts(t *testing.T) {
	sw := newFakeSwitch()
	a := newSyncAgent(t, sw)
	a.metrics = metrics.New(metrics.Options{PerVMI: true}, a.metricsState)
	if err := a.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	sw.dumps, sw.packets = 0, 3
	s := a.sampleCounters(context.Background())
	if s == nil {
		t.Fatal("no sample")
	}
	if sw.dumps != 0 {
		t.Errorf("a sample dumped every flow %d times", sw.dumps)
	}
	want := []string{"bms1", "bms2", "vm1"}
	got := make([]string, 0, len(s.VMIs))
	for vmi, tr := range s.VMIs {
		got = append(got, vmi)
		if tr.InPackets != 3 || tr.InBytes != 300 || tr.OutPackets != 6 || tr.OutBytes != 600 {
			t.Errorf("%s: %+v, want 3 packets in (one classify flow), 6 out (two output flows)", vmi, tr)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("traffic of %v, want the VMIs bound here %v", got, want)
	}
	st := a.Status(context.Background(), true)
	if !reflect.DeepEqual(s.DropsByReason, st.Drops.ByReason) || !reflect.DeepEqual(s.DropsByVMI, st.Drops.ByVMI) {
		t.Errorf("sampled drops %v by VMI %v, status says %v by VMI %v", s.DropsByReason, s.DropsByVMI, st.Drops.ByReason, st.Drops.ByVMI)
	}
	if s.DropsByReason[pipeline.DropReasons[pipeline.DropSpoofing]] == 0 || s.DropsByVMI["bms1"] == nil {
		t.Errorf("drops %v by VMI %v: want spoofing counted, by VMI too", s.DropsByReason, s.DropsByVMI)
	}
	// Per-VMI series off: no per-VMI reads at all.
	a.metrics = metrics.New(metrics.Options{PerVMI: false}, a.metricsState)
	if s := a.sampleCounters(context.Background()); s == nil || s.VMIs != nil || s.DropsByVMI != nil {
		t.Errorf("per-VMI off, sample %+v", s)
	}
}

func TestHARolesAreTheConfigDBs(t *testing.T) {
	if !slices.Equal(metrics.HARoles, []string{configdb.RoleActive, configdb.RoleStandby}) {
		t.Fatalf("metrics.HARoles %v, config DB roles %q, %q", metrics.HARoles, configdb.RoleActive, configdb.RoleStandby)
	}
}

// value is the agent's gauge or counter of that name (one series).
func value(t *testing.T, a *Agent, name string) float64 {
	t.Helper()
	mfs, err := a.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

func histogramCount(t *testing.T, a *Agent, name string) uint64 {
	t.Helper()
	mfs, err := a.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

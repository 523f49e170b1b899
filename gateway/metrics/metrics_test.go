package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func testState() State {
	return State{ConfigGeneration: 3, SyncedGeneration: 3, Flows: 120, Groups: 4, VMIsBound: 2, InterfacesUsed: 4, InterfacesLimit: 4352,
		OpenFlow: true, OVSDB: true, HA: &HA{Group: "bpdu-vmi", Role: "active", Forwarding: true},
		Tors:      []Tor{{Switch: "tor1", Connected: true, InSync: true, MACsLearned: 7}},
		ConfigDB:  &ConfigDB{Connected: true, LeaderChanges: 2},
		PacketIns: 10, PacketInsDropped: 1, ServiceOutcomes: map[string]uint64{"acked": 2, "ignored": 0}}
}

func testSample() *Sample {
	return &Sample{At: time.Unix(1700000000, 0), Duration: 3 * time.Millisecond,
		DropsByReason: map[string]uint64{"spoofing": 5, "hairpin": 0},
		DropsByVMI:    map[string]map[string]uint64{"vmi-a": {"spoofing": 5}},
		VMIs:          map[string]Traffic{"vmi-a": {InPackets: 9, InBytes: 900, OutPackets: 8, OutBytes: 800}},
		MeterDrops:    map[string]uint64{"shared": 0, "vmi": 3}}
}

func TestScrapeReportsStateAndSample(t *testing.T) {
	m := New(Options{PerVMI: true}, testState)
	m.SetSample(testSample())
	m.SyncDone(20*time.Millisecond, nil)
	m.SyncDone(time.Second, errors.New("switch gone"))
	m.ChangeConfirmed(30 * time.Millisecond)
	m.FlowModsSent(17)
	m.ConfigRefused()
	m.HARoleChanged("bpdu-vmi")
	want := `
# HELP ovsgw_config_generation Configs put in force since the agent started; the first is 1.
# TYPE ovsgw_config_generation gauge
ovsgw_config_generation 3
# HELP ovsgw_flow_mods_total Flow and group mods sent to the bridge in committed bundles.
# TYPE ovsgw_flow_mods_total counter
ovsgw_flow_mods_total 17
# HELP ovsgw_config_refusals_total New configs refused (invalid, or over a budget); the previous one stayed in force.
# TYPE ovsgw_config_refusals_total counter
ovsgw_config_refusals_total 1
# HELP ovsgw_sync_errors_total Syncs that failed (each is retried with backoff).
# TYPE ovsgw_sync_errors_total counter
ovsgw_sync_errors_total 1
# HELP ovsgw_ha_role 1 for this gateway's role in its HA group, 0 for the other role.
# TYPE ovsgw_ha_role gauge
ovsgw_ha_role{group="bpdu-vmi",role="active"} 1
ovsgw_ha_role{group="bpdu-vmi",role="standby"} 0
# HELP ovsgw_ha_role_changes_total Changes of this gateway's role in its HA group.
# TYPE ovsgw_ha_role_changes_total counter
ovsgw_ha_role_changes_total{group="bpdu-vmi"} 1
# HELP ovsgw_tor_macs_learned MACs the ToR switch learned in ovsgw's logical switches.
# TYPE ovsgw_tor_macs_learned gauge
ovsgw_tor_macs_learned{switch="tor1"} 7
# HELP ovsgw_configdb_leader_changes_total Moves of the agent's session to a new config DB leader.
# TYPE ovsgw_configdb_leader_changes_total counter
ovsgw_configdb_leader_changes_total 2
# HELP ovsgw_dropped_packets_total Packets ovsgw's drop flows dropped, by reason.
# TYPE ovsgw_dropped_packets_total counter
ovsgw_dropped_packets_total{reason="hairpin"} 0
ovsgw_dropped_packets_total{reason="spoofing"} 5
# HELP ovsgw_vmi_dropped_packets_total Packets the drop flows of a VMI bound here dropped, by reason.
# TYPE ovsgw_vmi_dropped_packets_total counter
ovsgw_vmi_dropped_packets_total{reason="spoofing",vmi="vmi-a"} 5
# HELP ovsgw_vmi_bytes_total Bytes of a VMI bound here: in (from the VMI into the pipeline), out (delivered to it).
# TYPE ovsgw_vmi_bytes_total counter
ovsgw_vmi_bytes_total{direction="in",vmi="vmi-a"} 900
ovsgw_vmi_bytes_total{direction="out",vmi="vmi-a"} 800
# HELP ovsgw_meter_dropped_packets_total Punted packets the rate limits dropped: meter shared (all VMIs) or vmi (their own meters, added up).
# TYPE ovsgw_meter_dropped_packets_total counter
ovsgw_meter_dropped_packets_total{meter="shared"} 0
ovsgw_meter_dropped_packets_total{meter="vmi"} 3
`
	names := []string{"ovsgw_config_generation", "ovsgw_flow_mods_total", "ovsgw_config_refusals_total", "ovsgw_sync_errors_total",
		"ovsgw_ha_role", "ovsgw_ha_role_changes_total", "ovsgw_tor_macs_learned", "ovsgw_configdb_leader_changes_total",
		"ovsgw_dropped_packets_total", "ovsgw_vmi_dropped_packets_total", "ovsgw_vmi_bytes_total", "ovsgw_meter_dropped_packets_total"}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(m.Registry(), "ovsgw_sync_duration_seconds", "ovsgw_change_duration_seconds"); err != nil || n != 2 {
		t.Fatalf("latency histograms: %d series (%v), want 2", n, err)
	}
}

// TestMetricsFollowConventions runs client_golang's linter (promtool's rules) over every
// series, the process and Go collectors' included.
func TestMetricsFollowConventions(t *testing.T) {
	m := New(Options{PerVMI: true}, testState)
	m.SetSample(testSample())
	m.SyncDone(time.Millisecond, nil)
	m.HARoleChanged("g")
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, "ovsgw_") && !strings.HasPrefix(name, "process_") && !strings.HasPrefix(name, "go_") {
			t.Errorf("%s: not ovsgw's, the process' or Go's", name)
		}
	}
}

func TestPerVMISeriesCanBeSwitchedOff(t *testing.T) {
	m := New(Options{PerVMI: false}, testState)
	m.SetSample(testSample())
	n, err := testutil.GatherAndCount(m.Registry(), "ovsgw_vmi_packets_total", "ovsgw_vmi_bytes_total", "ovsgw_vmi_dropped_packets_total")
	if err != nil || n != 0 {
		t.Fatalf("%d per-VMI series with per-VMI off (%v)", n, err)
	}
	if n, _ := testutil.GatherAndCount(m.Registry(), "ovsgw_dropped_packets_total"); n != 2 {
		t.Fatalf("%d drop series by reason, want 2 (the node's totals stay)", n)
	}
}

// TestPerVMIDropsOnlyOnceTheyDrop: a VMI's drop series of a reason appears once its flows
// dropped anything for it; zeros of every VMI would be most of a scrape.
func TestPerVMIDropsOnlyOnceTheyDrop(t *testing.T) {
	m := New(Options{PerVMI: true}, testState)
	s := testSample()
	s.DropsByVMI = map[string]map[string]uint64{"vmi-a": {"spoofing": 0, "hairpin": 0}, "vmi-b": {"spoofing": 2, "hairpin": 0}}
	m.SetSample(s)
	want := `
# HELP ovsgw_vmi_dropped_packets_total Packets the drop flows of a VMI bound here dropped, by reason.
# TYPE ovsgw_vmi_dropped_packets_total counter
ovsgw_vmi_dropped_packets_total{reason="spoofing",vmi="vmi-b"} 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "ovsgw_vmi_dropped_packets_total"); err != nil {
		t.Fatal(err)
	}
}

func TestNoSampleYetReportsNoCounters(t *testing.T) {
	m := New(Options{PerVMI: true}, func() State { return State{} })
	n, err := testutil.GatherAndCount(m.Registry(), "ovsgw_dropped_packets_total", "ovsgw_counters_sample_timestamp_seconds")
	if err != nil || n != 0 {
		t.Fatalf("%d sampled series before any sample (%v)", n, err)
	}
	if n, _ := testutil.GatherAndCount(m.Registry(), "ovsgw_ha_role", "ovsgw_tor_connected", "ovsgw_configdb_connected"); n != 0 {
		t.Fatalf("%d HA, ToR or config DB series without HA, ToR switches or config DB", n)
	}
}

func TestNilMetricsDoNothing(t *testing.T) {
	var m *Metrics
	m.SyncDone(time.Second, nil)
	m.ChangeConfirmed(time.Second)
	m.FlowModsSent(3)
	m.ConfigRefused()
	m.HARoleChanged("g")
	m.SetSample(&Sample{})
	if m.PerVMI() {
		t.Fatal("nil metrics say per-VMI on")
	}
}

func TestServeOnItsOwnRegistry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := New(Options{}, testState)
	addr, err := m.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr.String() + Path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"ovsgw_config_generation 3", "process_cpu_seconds_total", "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	// A second agent on the same address: the error names the key.
	if _, err := New(Options{}, testState).Serve(ctx, addr.String()); err == nil || !strings.Contains(err.Error(), "[DEFAULT] metrics_address") {
		t.Fatalf("listening twice on %s: %v", addr, err)
	}
	cancel()
	// The server goes with ctx.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr.String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still listening after ctx ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

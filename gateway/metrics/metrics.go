package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every metric of ovsgw.
const Namespace = "ovsgw"

// latencyBuckets (seconds) cover a one-instance change (milliseconds, see `make bench`) up to a
// cold start of 16K remote instances (tens of seconds on 2 cores), about 2.5 times apart.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// HARoles are the roles a gateway of an HA group can have, as the config DB spells them
// (configdb.RoleActive, RoleStandby): ovsgw_ha_role has a series for each.
var HARoles = []string{"active", "standby"}

// State is what the agent knows without asking anyone, read at each scrape.
type State struct {
	ConfigGeneration int // configs put in force; the first is 1
	SyncedGeneration int // the generation the bridge was last brought to
	Flows, Groups    int // ovsgw's, installed, as of the last sync
	VMIsBound        int
	InterfacesUsed   int // in gateway mode
	InterfacesLimit  int
	OpenFlow, OVSDB  bool // connected
	SyncFailures     int  // in a row
	HA               *HA  // nil unless this node is a gateway of an HA group
	Tors             []Tor
	ConfigDB         *ConfigDB // nil when the config comes from files
	// PacketIns counts the packet-ins of the current OpenFlow connection (they start again
	// from 0 on a reconnect, which Prometheus takes as a counter reset), and those dropped
	// because the agent's queue was full.
	PacketIns, PacketInsDropped uint64
	ServiceOutcomes             map[string]uint64 // answers by netsvc outcome
}

// HA is this gateway's place in its group.
type HA struct {
	Group      string // the group's BPDU VMI
	Role       string // one of HARoles
	Forwarding bool
}

// Tor is one ToR switch this node manages.
type Tor struct {
	Switch      string
	Connected   bool
	InSync      bool
	MACsLearned int
}

// ConfigDB is the agent's session with the config DB.
type ConfigDB struct {
	Connected     bool
	LeaderChanges uint64 // moves to a new leader since the agent started
}

// Sample is the switch's counters as the agent last read them (see the package comment).
type Sample struct {
	At       time.Time
	Duration time.Duration // what reading them took
	// DropsByReason and DropsByVMI are packets dropped, from ovsgw's drop flows.
	DropsByReason map[string]uint64
	DropsByVMI    map[string]map[string]uint64 // VMI → reason → packets; nil without per-VMI series
	VMIs          map[string]Traffic           // by VMI bound here; nil without per-VMI series
	// MeterDrops are packets the punt meters dropped: "shared" (every VMI's punts together)
	// and "vmi" (the VMIs' own meters, added up).
	MeterDrops map[string]uint64
}

// Traffic is what a VMI's flows counted: in is what the VMI sent into the pipeline (its
// classify flow), out what the pipeline delivered to it (its output flows).
type Traffic struct {
	InPackets, InBytes, OutPackets, OutBytes uint64
}

// Options are the agent config's metrics settings.
type Options struct {
	PerVMI bool // per-VMI series (traffic and drops)
}

// Metrics holds the registry and the instruments.
type Metrics struct {
	reg  *prometheus.Registry
	opts Options

	syncSeconds   prometheus.Histogram
	changeSeconds prometheus.Histogram
	syncErrors    prometheus.Counter
	flowMods      prometheus.Counter
	refusals      prometheus.Counter
	haChanges     *prometheus.CounterVec

	mu    sync.Mutex
	state func() State
	// sampled are the series of the last Sample, made once when it is set: a scrape only
	// hands them on (at thousands of VMIs, making them costs more than encoding them).
	sampled []prometheus.Metric
}

// New makes the registry with every ovsgw metric, the process and the Go runtime collectors;
// state is called at each scrape.
func New(opts Options, state func() State) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), opts: opts, state: state}
	m.syncSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "sync_duration_seconds",
		Help: "Time of each sync attempt of the bridge (OVSDB, compile, diff, bundle, purge, publish), whether or not it changed anything.", Buckets: latencyBuckets})
	m.changeSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "change_duration_seconds",
		Help: "Time from the agent noticing a config change to its flows confirmed on the bridge, once per config generation that changed flows.", Buckets: latencyBuckets})
	m.syncErrors = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "sync_errors_total",
		Help: "Syncs that failed (each is retried with backoff)."})
	m.flowMods = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "flow_mods_total",
		Help: "Flow and group mods sent to the bridge in committed bundles."})
	m.refusals = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "config_refusals_total",
		Help: "New configs refused (invalid, or over a budget); the previous one stayed in force."})
	m.haChanges = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "ha_role_changes_total",
		Help: "Changes of this gateway's role in its HA group."}, []string{"group"})
	m.reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector(),
		m.syncSeconds, m.changeSeconds, m.syncErrors, m.flowMods, m.refusals, m.haChanges, &collector{m: m})
	return m
}

// Registry is where every metric of ovsgw is registered.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// PerVMI reports whether per-VMI series are on (false for a nil Metrics).
func (m *Metrics) PerVMI() bool { return m != nil && m.opts.PerVMI }

// SyncDone records one sync: how long it took, and whether it failed.
func (m *Metrics) SyncDone(d time.Duration, err error) {
	if m == nil {
		return
	}
	m.syncSeconds.Observe(d.Seconds())
	if err != nil {
		m.syncErrors.Inc()
	}
}

// ChangeConfirmed records the time from a config change noticed to its flows confirmed.
func (m *Metrics) ChangeConfirmed(d time.Duration) {
	if m != nil {
		m.changeSeconds.Observe(d.Seconds())
	}
}

// FlowModsSent counts the mods of one committed bundle.
func (m *Metrics) FlowModsSent(n int) {
	if m != nil {
		m.flowMods.Add(float64(n))
	}
}

// ConfigRefused counts one refused config.
func (m *Metrics) ConfigRefused() {
	if m != nil {
		m.refusals.Inc()
	}
}

// HARoleChanged counts one change of this gateway's role in group.
func (m *Metrics) HARoleChanged(group string) {
	if m != nil {
		m.haChanges.WithLabelValues(group).Inc()
	}
}

// SetSample replaces the switch's counters the next scrapes report.
func (m *Metrics) SetSample(s *Sample) {
	if m == nil {
		return
	}
	series := m.sampleSeries(s)
	m.mu.Lock()
	m.sampled = series
	m.mu.Unlock()
}

// sampleSeries makes the series of a sample. Per-VMI drop series are made only for the
// reasons a VMI's flows dropped anything for: most VMIs drop nothing, and 3 series of zeros
// per VMI would be most of a scrape.
func (m *Metrics) sampleSeries(s *Sample) []prometheus.Metric {
	if s == nil {
		return nil
	}
	out := make([]prometheus.Metric, 0, 2+len(s.DropsByReason)+len(s.MeterDrops)+4*len(s.VMIs))
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...))
	}
	gauge(descSampleTime, float64(s.At.UnixMilli())/1e3)
	gauge(descSampleSecs, s.Duration.Seconds())
	for reason, n := range s.DropsByReason {
		counter(descDrops, n, reason)
	}
	for meter, n := range s.MeterDrops {
		counter(descMeterDrops, n, meter)
	}
	if !m.opts.PerVMI {
		return out
	}
	for vmi, byReason := range s.DropsByVMI {
		for reason, n := range byReason {
			if n > 0 {
				counter(descVMIDrops, n, vmi, reason)
			}
		}
	}
	for vmi, t := range s.VMIs {
		counter(descVMIPackets, t.InPackets, vmi, "in")
		counter(descVMIPackets, t.OutPackets, vmi, "out")
		counter(descVMIBytes, t.InBytes, vmi, "in")
		counter(descVMIBytes, t.OutBytes, vmi, "out")
	}
	return out
}

// collector reports the State and the last Sample at each scrape.
type collector struct{ m *Metrics }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
}

// The metrics the collector reports. Labels are bounded: drop reasons and service outcomes are
// fixed lists, group is at most one HA group, switch the ToR switches this node manages, vmi
// the VMIs bound on this node (only with per-VMI series on).
var (
	descConfigGen     = desc("config_generation", "Configs put in force since the agent started; the first is 1.")
	descSyncedGen     = desc("synced_generation", "The config generation the bridge was last brought to.")
	descFlows         = desc("flows", "ovsgw's flows installed on the bridge, as of the last sync.")
	descGroups        = desc("groups", "ovsgw's groups installed on the bridge, as of the last sync.")
	descVMIsBound     = desc("vmis_bound", "VMIs bound on this node (remote instances and local VMs).")
	descIfUsed        = desc("interfaces_used", "Interfaces (logical interfaces and VMIs) of this node's remote instances, in gateway mode.")
	descIfLimit       = desc("interfaces_limit", "The node's interface budget ([DEFAULT] max_interfaces).")
	descOFUp          = desc("openflow_connected", "1 while the agent holds an OpenFlow connection to the bridge.")
	descOVSDBUp       = desc("ovsdb_connected", "1 while the agent is connected to the node's Open_vSwitch database.")
	descSyncFailures  = desc("sync_failures", "Failed syncs in a row since the last one that succeeded.")
	descHARole        = desc("ha_role", "1 for this gateway's role in its HA group, 0 for the other role.", "group", "role")
	descHAForwarding  = desc("ha_forwarding", "1 while the switch forwards to this gateway of the HA group.", "group")
	descTorUp         = desc("tor_connected", "1 while the agent is connected to the ToR switch's OVSDB server.", "switch")
	descTorInSync     = desc("tor_in_sync", "1 when the ToR switch's rows equal what the last sync wanted.", "switch")
	descTorMACs       = desc("tor_macs_learned", "MACs the ToR switch learned in ovsgw's logical switches.", "switch")
	descDBUp          = desc("configdb_connected", "1 while the agent has a session with the config DB leader.")
	descDBLeaders     = desc("configdb_leader_changes_total", "Moves of the agent's session to a new config DB leader.")
	descPacketIns     = desc("packet_ins_total", "Packet-ins received on the current OpenFlow connection.")
	descPacketInDrops = desc("packet_ins_dropped_total", "Packet-ins dropped because the agent's queue was full, on the current OpenFlow connection.")
	descServices      = desc("service_packets_total", "Punted packets the node's services handled, by outcome.", "outcome")
	descDrops         = desc("dropped_packets_total", "Packets ovsgw's drop flows dropped, by reason.", "reason")
	descVMIDrops      = desc("vmi_dropped_packets_total", "Packets the drop flows of a VMI bound here dropped, by reason.", "vmi", "reason")
	descVMIPackets    = desc("vmi_packets_total", "Packets of a VMI bound here: in (from the VMI into the pipeline), out (delivered to it).", "vmi", "direction")
	descVMIBytes      = desc("vmi_bytes_total", "Bytes of a VMI bound here: in (from the VMI into the pipeline), out (delivered to it).", "vmi", "direction")
	descMeterDrops    = desc("meter_dropped_packets_total", "Punted packets the rate limits dropped: meter shared (all VMIs) or vmi (their own meters, added up).", "meter")
	descSampleTime    = desc("counters_sample_timestamp_seconds", "When the switch's counters (drops, VMI traffic, meters) were last read, in seconds since the epoch.")
	descSampleSecs    = desc("counters_sample_duration_seconds", "What the last read of the switch's counters took.")
)

var allDescs = []*prometheus.Desc{descConfigGen, descSyncedGen, descFlows, descGroups, descVMIsBound, descIfUsed, descIfLimit,
	descOFUp, descOVSDBUp, descSyncFailures, descHARole, descHAForwarding, descTorUp, descTorInSync, descTorMACs, descDBUp, descDBLeaders,
	descPacketIns, descPacketInDrops, descServices, descDrops, descVMIDrops, descVMIPackets, descVMIBytes, descMeterDrops,
	descSampleTime, descSampleSecs}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	m := c.m
	m.mu.Lock()
	state, sampled := m.state, m.sampled
	m.mu.Unlock()
	if state != nil {
		s := state()
		gauge(descConfigGen, float64(s.ConfigGeneration))
		gauge(descSyncedGen, float64(s.SyncedGeneration))
		gauge(descFlows, float64(s.Flows))
		gauge(descGroups, float64(s.Groups))
		gauge(descVMIsBound, float64(s.VMIsBound))
		gauge(descIfUsed, float64(s.InterfacesUsed))
		gauge(descIfLimit, float64(s.InterfacesLimit))
		gauge(descOFUp, bool01(s.OpenFlow))
		gauge(descOVSDBUp, bool01(s.OVSDB))
		gauge(descSyncFailures, float64(s.SyncFailures))
		if s.HA != nil {
			for _, r := range HARoles {
				gauge(descHARole, bool01(r == s.HA.Role), s.HA.Group, r)
			}
			gauge(descHAForwarding, bool01(s.HA.Forwarding), s.HA.Group)
		}
		for _, t := range s.Tors {
			gauge(descTorUp, bool01(t.Connected), t.Switch)
			gauge(descTorInSync, bool01(t.InSync), t.Switch)
			gauge(descTorMACs, float64(t.MACsLearned), t.Switch)
		}
		if s.ConfigDB != nil {
			gauge(descDBUp, bool01(s.ConfigDB.Connected))
			counter(descDBLeaders, s.ConfigDB.LeaderChanges)
		}
		counter(descPacketIns, s.PacketIns)
		counter(descPacketInDrops, s.PacketInsDropped)
		for outcome, n := range s.ServiceOutcomes {
			counter(descServices, n, outcome)
		}
	}
	for _, x := range sampled { // none before the first read of the switch
		ch <- x
	}
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

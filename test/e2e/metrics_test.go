package e2e

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/test/lab"
)

// testMetrics scrapes the lab agent's /metrics (lab.MetricsAddress, in gw1's namespace),
// checks the text with promtool, and checks that values move: traffic of a VMI, a spoofed
// frame counted as a drop of its VMI, and a config change raising the generation. It leaves
// the lab's config as policyYAML(bms1, server) for the caller to replace.
func testMetrics(t *testing.T, l *lab.Gateway) {
	text := l.Metrics(t)
	promtoolCheck(t, text)
	for _, name := range []string{"ovsgw_config_generation", "ovsgw_synced_generation", "ovsgw_flows", "ovsgw_groups",
		"ovsgw_vmis_bound", "ovsgw_openflow_connected", "ovsgw_ovsdb_connected", "ovsgw_flow_mods_total",
		"ovsgw_sync_duration_seconds_count", "ovsgw_change_duration_seconds_count", "ovsgw_packet_ins_total",
		"process_resident_memory_bytes", "go_goroutines"} {
		if _, ok := metricValue(text, name); !ok {
			t.Errorf("no %s in the scrape", name)
		}
	}
	if v, _ := metricValue(text, "ovsgw_vmis_bound"); v != 4 {
		t.Errorf("ovsgw_vmis_bound %v, want 4 (bms1..3, vm1)", v)
	}
	if v, _ := metricValue(text, "ovsgw_openflow_connected"); v != 1 {
		t.Errorf("ovsgw_openflow_connected %v, want 1", v)
	}
	// The switch's counters come with the first sample, within metrics_interval.
	sampled := func(text string) float64 {
		v, _ := metricValue(text, "ovsgw_counters_sample_timestamp_seconds")
		return v
	}
	var last float64
	lab.Eventually(t, 10*time.Second, "the switch's counters sampled", func() error {
		if last = sampled(l.Metrics(t)); last == 0 {
			return fmt.Errorf("no sample yet")
		}
		return nil
	})
	// value waits for a sample newer than the last one read, then reads series from it; a
	// series that is not there is 0 when sparse (a VMI's drops of a reason are served once its
	// flows dropped anything for it), an error otherwise.
	value := func(series string, sparse bool) float64 {
		t.Helper()
		var v float64
		lab.Eventually(t, 10*time.Second, "a fresh sample with "+series, func() error {
			text := l.Metrics(t)
			at := sampled(text)
			if at <= last {
				return fmt.Errorf("sample of %v still the last one", at)
			}
			var ok bool
			if v, ok = metricValue(text, series); !ok && !sparse {
				return fmt.Errorf("no %s in:\n%s", series, text)
			}
			last = at
			return nil
		})
		return v
	}

	t.Run("per-VMI traffic moves with a ping", func(t *testing.T) {
		in, out := `ovsgw_vmi_packets_total{direction="in",vmi="bms1"}`, `ovsgw_vmi_packets_total{direction="out",vmi="bms2"}`
		inBefore, outBefore := value(in, false), value(out, false)
		l.BMS1.MustPing(t, l.BMS2.IP)
		if got := value(in, false); got < inBefore+3 {
			t.Errorf("%s: %v -> %v, want at least the 3 echo requests more", in, inBefore, got)
		}
		if got := value(out, false); got < outBefore+3 {
			t.Errorf("%s: %v -> %v, want at least the 3 echo requests more", out, outBefore, got)
		}
	})
	t.Run("a spoofed frame is counted as a drop of its VMI", func(t *testing.T) {
		byVMI, total := `ovsgw_vmi_dropped_packets_total{reason="spoofing",vmi="bms1"}`, `ovsgw_dropped_packets_total{reason="spoofing"}`
		vmiBefore, totalBefore := value(byVMI, true), value(total, false)
		l.BMS1.MustExec(t, "ip", "link", "set", "eth0", "address", "02:00:00:00:0f:0f")
		defer l.BMS1.MustExec(t, "ip", "link", "set", "eth0", "address", l.BMS1.MAC)
		l.BMS1.MustNotPing(t, l.BMS2.IP)
		if got := value(byVMI, false); got <= vmiBefore {
			t.Errorf("%s did not grow: %v -> %v", byVMI, vmiBefore, got)
		}
		if got := value(total, false); got <= totalBefore {
			t.Errorf("%s did not grow: %v -> %v", total, totalBefore, got)
		}
	})
	t.Run("a config change raises the generation and is timed", func(t *testing.T) {
		text := l.Metrics(t)
		gen, _ := metricValue(text, "ovsgw_config_generation")
		mods, _ := metricValue(text, "ovsgw_flow_mods_total")
		changes, _ := metricValue(text, "ovsgw_change_duration_seconds_count")
		l.SetConfig(t, policyYAML("bms1", []string{"server"}, "8080", 0))
		text = l.Metrics(t)
		if got, _ := metricValue(text, "ovsgw_config_generation"); got != gen+1 {
			t.Errorf("ovsgw_config_generation %v after a change, want %v", got, gen+1)
		}
		if got, _ := metricValue(text, "ovsgw_synced_generation"); got != gen+1 {
			t.Errorf("ovsgw_synced_generation %v after the change was synced, want %v", got, gen+1)
		}
		if got, _ := metricValue(text, "ovsgw_flow_mods_total"); got <= mods {
			t.Errorf("ovsgw_flow_mods_total %v -> %v: the change's flows not counted", mods, got)
		}
		if got, _ := metricValue(text, "ovsgw_change_duration_seconds_count"); got != changes+1 {
			t.Errorf("ovsgw_change_duration_seconds_count %v -> %v, want one change more", changes, got)
		}
		promtoolCheck(t, text)
	})
	t.Run("a refused config is counted", func(t *testing.T) {
		before, _ := metricValue(l.Metrics(t), "ovsgw_config_refusals_total")
		gen := l.Status(t).ConfigGeneration
		l.Agent.WriteConfig(t, "virtualNetworks: [{name: blue}]\n") // no VNI: invalid
		lab.Eventually(t, 10*time.Second, "the refusal counted", func() error {
			if got, _ := metricValue(l.Metrics(t), "ovsgw_config_refusals_total"); got != before+1 {
				return fmt.Errorf("ovsgw_config_refusals_total %v, want %v", got, before+1)
			}
			return nil
		})
		if got, _ := metricValue(l.Metrics(t), "ovsgw_config_generation"); got != float64(gen) {
			t.Errorf("ovsgw_config_generation %v after a refusal, want it left at %d", got, gen)
		}
		l.SetConfig(t, policyYAML("bms1", []string{"server"}, "8080", 0))
	})
}

// promtoolCheck runs `promtool check metrics` (Prometheus' own linter) on a scrape.
func promtoolCheck(t *testing.T, text string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool (package prometheus; scripts/install-deps.sh): %v", err)
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// metricValue finds one series in the text exposition format: series is the metric name, with
// its labels as Prometheus prints them (sorted by name) when it has any.
func metricValue(text, series string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, series)
		if !ok || !strings.HasPrefix(rest, " ") {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		return v, err == nil
	}
	return 0, false
}

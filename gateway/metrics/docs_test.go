package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

var metricName = regexp.MustCompile(`\bovsgw_[a-z0-9_]+`)

// registered is every ovsgw metric name the registry serves when everything is present.
func registered(t *testing.T) map[string]bool {
	m := New(Options{PerVMI: true}, testState)
	m.SetSample(testSample())
	m.SyncDone(time.Millisecond, nil)
	m.HARoleChanged("g")
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), Namespace+"_") {
			names[mf.GetName()] = true
		}
	}
	return names
}

// base is a series name without a histogram's suffixes.
func base(name string) string {
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if b, ok := strings.CutSuffix(name, suffix); ok && strings.HasSuffix(b, "_seconds") {
			return b
		}
	}
	return name
}

// TestREADMEListsEveryMetric: the README's Metrics section names every metric served, and
// nothing that is not.
func TestREADMEListsEveryMetric(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\n## Metrics\n")
	if start < 0 {
		t.Fatal("README has no Metrics section")
	}
	section := text[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	have := registered(t)
	named := map[string]bool{}
	for _, n := range metricName.FindAllString(section, -1) {
		named[base(n)] = true
	}
	for n := range have {
		if !named[n] {
			t.Errorf("%s is served but not in the README's Metrics section", n)
		}
	}
	for n := range named {
		if !have[n] {
			t.Errorf("the README's Metrics section names %s, which is not served", n)
		}
	}
}

// TestDashboardUsesServedMetrics: the Grafana dashboard is JSON and every ovsgw metric its
// queries use is served.
func TestDashboardUsesServedMetrics(t *testing.T) {
	data, err := os.ReadFile("../../docs/grafana/ovsgw.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	have := registered(t)
	used := 0
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			for _, n := range metricName.FindAllString(target.Expr, -1) {
				used++
				if !have[base(n)] {
					t.Errorf("panel %q queries %s, which is not served", p.Title, n)
				}
			}
		}
	}
	if used == 0 {
		t.Fatal("the dashboard queries no ovsgw metric")
	}
}

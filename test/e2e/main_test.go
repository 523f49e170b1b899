package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/ovsdb/ovstls/ovstlstest"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// ovsgwBin is the agent binary built once for all tests.
var ovsgwBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ovsgw-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ovsgwBin = filepath.Join(dir, "ovsgw")
	build := exec.Command("go", "build", "-o", ovsgwBin, "../../cmd/ovsgw")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ovsgw:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	ovstlstest.RemoveShared()
	os.Exit(code)
}

// dumpedFlow is a flow as `ovs-ofctl dump-flows` shows it: an independent view of the switch.
type dumpedFlow struct {
	Cookie   uint64
	Duration float64
	Packets  uint64
	Text     string // table, priority, match and actions, without counters
}

var (
	counterField = regexp.MustCompile(`\b(duration|n_packets|n_bytes|idle_age|hard_age|idle_time)=[^,\s]+,?\s*`)
	cookieField  = regexp.MustCompile(`cookie=(0x[0-9a-f]+)`)
	durField     = regexp.MustCompile(`duration=([0-9.]+)s`)
	pktField     = regexp.MustCompile(`n_packets=(\d+)`)
)

// dumpFlows reads a bridge's flows with ovs-ofctl, keyed by their text without counters.
func dumpFlows(t *testing.T, node *testbed.Node, bridge string) map[string]dumpedFlow {
	t.Helper()
	out, err := node.Ofctl("dump-flows", bridge)
	if err != nil {
		t.Fatalf("dump-flows: %v", err)
	}
	flows := map[string]dumpedFlow{}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.Contains(line, "actions=") {
			continue
		}
		var f dumpedFlow
		if m := cookieField.FindStringSubmatch(line); m != nil {
			f.Cookie, _ = strconv.ParseUint(m[1], 0, 64)
		}
		if m := durField.FindStringSubmatch(line); m != nil {
			f.Duration, _ = strconv.ParseFloat(m[1], 64)
		}
		if m := pktField.FindStringSubmatch(line); m != nil {
			f.Packets, _ = strconv.ParseUint(m[1], 10, 64)
		}
		f.Text = strings.TrimSpace(counterField.ReplaceAllString(line, ""))
		flows[f.Text] = f
	}
	return flows
}

// flowDiff lists the flows only in a and only in b.
func flowDiff(a, b map[string]dumpedFlow) (onlyA, onlyB []dumpedFlow) {
	for k, f := range a {
		if _, ok := b[k]; !ok {
			onlyA = append(onlyA, f)
		}
	}
	for k, f := range b {
		if _, ok := a[k]; !ok {
			onlyB = append(onlyB, f)
		}
	}
	sort.Slice(onlyA, func(i, j int) bool { return onlyA[i].Text < onlyA[j].Text })
	sort.Slice(onlyB, func(i, j int) bool { return onlyB[i].Text < onlyB[j].Text })
	return onlyA, onlyB
}

// owner is the owner part of an ovsgw cookie (application, kind and id), without the purpose
// byte that tells a drop flow's reason.
func owner(cookie uint64) uint64 { return cookie &^ (0xff << 32) }

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/test/bench/scale"
	"github.com/ovsgw/ovsgw/test/lab"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// The interface budget's edges, proven through the agent: with the default budget of 4352
// interfaces a node serves 2176 remote instances and refuses the 2177th; with 8192, 4096.
const (
	defaultBudgetInstances = model.DefaultMaxInterfaces / model.InterfacesPerRemoteVMI // 2176
	bigBudget              = 8192
	bigBudgetInstances     = bigBudget / model.InterfacesPerRemoteVMI // 4096
	// capacitySyncTimeout bounds a cold start with thousands of remote instances.
	capacitySyncTimeout = 90 * time.Second
	// persistentSyncError is how long sync errors may go on before the test gives up waiting.
	persistentSyncError = 20 * time.Second
)

// capacityNode starts node gw1 whose namespace holds the NICs (eth1, eth2, …) that n remote
// instances of a generated config need, each a veth whose other end sits in a namespace of
// its own.
func capacityNode(t *testing.T, n int) *testbed.Node {
	t.Helper()
	testbed.Require(t)
	node := testbed.NewNode(t, "gw1")
	far := testbed.NewNS(t, "nics")
	for i, nic := range scale.NICs(n) {
		testbed.Link(t, far, "far"+strconv.Itoa(i+1), node.NS, nic)
	}
	return node
}

// capacityStatus asks an agent for its status (without drop counters: they cost a dump of
// every flow, tens of thousands here).
func capacityStatus(t *testing.T, a *testbed.Agent) control.Status {
	t.Helper()
	out, err := a.CLI("status", "-o", "json", "--no-counters")
	if err != nil {
		t.Fatal(err)
	}
	var s control.Status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("status JSON: %v", err)
	}
	return s
}

// requireServed waits until the agent has bound all n remote instances and synced, then
// checks the budget it reports and that the bridge holds exactly the flows and groups the
// agent computed.
func requireServed(t *testing.T, a *testbed.Agent, n, budget int) control.Status {
	t.Helper()
	var s control.Status
	var failingSince time.Time // when the sync error now reported was first seen
	lab.Eventually(t, capacitySyncTimeout, fmt.Sprintf("%d remote instances bound and synced", n), func() error {
		s = capacityStatus(t, a)
		if s.LastSyncError == "" {
			failingSince = time.Time{}
		}
		bound := 0
		for _, b := range s.Bindings {
			if b.Bound {
				bound++
			}
		}
		switch {
		case s.LastSyncError != "":
			if failingSince.IsZero() {
				failingSince = time.Now()
			} else if time.Since(failingSince) > persistentSyncError {
				t.Fatalf("%d remote instances: every sync fails for %v: %s", n, persistentSyncError, clip(s.LastSyncError))
			}
			return fmt.Errorf("sync error: %s", clip(s.LastSyncError))
		case bound != n:
			return fmt.Errorf("%d of %d bound", bound, n)
		case s.LastSync == nil || s.SyncedGeneration != s.ConfigGeneration:
			return fmt.Errorf("bridge at generation %d of %d", s.SyncedGeneration, s.ConfigGeneration)
		}
		return nil
	})
	if s.InterfacesUsed != n*model.InterfacesPerRemoteVMI || s.InterfacesLimit != budget {
		t.Errorf("interfaces used/limit %d / %d, want %d / %d", s.InterfacesUsed, s.InterfacesLimit, n*model.InterfacesPerRemoteVMI, budget)
	}
	flows := strings.Count(a.Node.MustOfctl(t, "dump-flows", a.Bridge, "--no-stats"), "actions=")
	groups := strings.Count(a.Node.MustOfctl(t, "dump-groups", a.Bridge), "group_id=")
	if flows != s.Flows || groups != s.Groups || flows < n {
		t.Errorf("the bridge holds %d flows and %d groups, the agent computed %d and %d", flows, groups, s.Flows, s.Groups)
	}
	t.Logf("%d remote instances: %d flows, %d groups; last sync %v", n, s.Flows, s.Groups, s.LastSyncSeconds)
	return s
}

// overBudget is the refusal of n remote instances on a budget: the numbers of instances,
// of interfaces they need, of the budget and of instances it allows.
func overBudget(n, budget int) string {
	return fmt.Sprintf("physicalRouters[gw1]: %d remote instances need %d interfaces (2 each: logical interface + VMI), more than max_interfaces = %d allows (%d remote instances)",
		n, n*model.InterfacesPerRemoteVMI, budget, budget/model.InterfacesPerRemoteVMI)
}

// validateHost runs `ovsgw validate -f FILE --host gw1 [--max-interfaces N]` on a config.
func validateHost(t *testing.T, yaml string, budget int) (string, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"validate", "-f", file, "--host", "gw1"}
	if budget != model.DefaultMaxInterfaces {
		args = append(args, "--max-interfaces", strconv.Itoa(budget))
	}
	out, err := exec.Command(ovsgwBin, args...).CombinedOutput()
	return string(out), err
}

// requireRefusedAtStart runs the agent on a config over its budget: it must exit naming the
// numbers, without creating the bridge.
func requireRefusedAtStart(t *testing.T, node *testbed.Node, n, budget int, yaml string) {
	t.Helper()
	opts := testbed.AgentOptions{Hostname: "gw1", GatewayMode: true}
	if budget != model.DefaultMaxInterfaces {
		opts.MaxInterfaces = budget
	}
	a := testbed.PrepareAgent(t, ovsgwBin, node, opts, yaml)
	out, err := node.ExecTimeout(60*time.Second, a.Bin, "agent", "--config", a.Conf)
	if err == nil {
		t.Fatalf("the agent started with %d remote instances on a budget of %d:\n%s", n, budget, out)
	}
	if !strings.Contains(out, overBudget(n, budget)) || !strings.Contains(out, "nothing changed") {
		t.Errorf("the agent's refusal does not say %q:\n%s", overBudget(n, budget), out)
	}
	if _, err := node.Vsctl("br-exists", a.Bridge); err == nil {
		t.Error("a refused config created the bridge")
	}
}

// testBudget proves both edges of one budget: max instances validate, start and are served
// (and a reload to max+1 is refused with the previous config kept); max+1 fail validate and
// agent start with the numbers.
func testBudget(t *testing.T, budget int) {
	max := budget / model.InterfacesPerRemoteVMI
	fits := scale.Spec{Host: "gw1", Remote: max}.YAML()
	over := scale.Spec{Host: "gw1", Remote: max + 1}.YAML()
	node := capacityNode(t, max+1)

	t.Run(fmt.Sprintf("ovsgw validate --host accepts %d", max), func(t *testing.T) {
		out, err := validateHost(t, fits, budget)
		if err != nil || !strings.Contains(out, fmt.Sprintf("gw1: %d remote instances, %d interfaces", max, budget)) {
			t.Fatalf("validate: %v\n%s", err, out)
		}
	})
	t.Run(fmt.Sprintf("ovsgw validate --host refuses %d naming %d and %d", max+1, max+1, budget), func(t *testing.T) {
		out, err := validateHost(t, over, budget)
		if err == nil || !strings.Contains(out, overBudget(max+1, budget)) {
			t.Fatalf("validate: %v, want the refusal %q:\n%s", err, overBudget(max+1, budget), out)
		}
	})
	t.Run(fmt.Sprintf("agent start refuses %d", max+1), func(t *testing.T) {
		requireRefusedAtStart(t, node, max+1, budget, over)
	})
	t.Run(fmt.Sprintf("agent serves %d and refuses a reload to %d", max, max+1), func(t *testing.T) {
		opts := testbed.AgentOptions{Hostname: "gw1", GatewayMode: true}
		if budget != model.DefaultMaxInterfaces {
			opts.MaxInterfaces = budget
		}
		a := testbed.NewAgent(t, ovsgwBin, node, opts, fits)
		s := requireServed(t, a, max, budget)
		flows := strings.Count(node.MustOfctl(t, "dump-flows", a.Bridge, "--no-stats"), "actions=")
		a.WriteConfig(t, over)
		lab.Eventually(t, 30*time.Second, "the over-budget reload refused", func() error {
			if e := capacityStatus(t, a).LastConfigError; !strings.Contains(e, overBudget(max+1, budget)) {
				return fmt.Errorf("last config error %q", e)
			}
			return nil
		})
		after := capacityStatus(t, a)
		if after.ConfigGeneration != s.ConfigGeneration || after.InterfacesUsed != max*model.InterfacesPerRemoteVMI {
			t.Errorf("the refused config was put in force: generation %d -> %d, interfaces %d", s.ConfigGeneration, after.ConfigGeneration, after.InterfacesUsed)
		}
		if got := strings.Count(node.MustOfctl(t, "dump-flows", a.Bridge, "--no-stats"), "actions="); got != flows {
			t.Errorf("the refused config changed the flows: %d -> %d", flows, got)
		}
	})
}

func TestCapacityDefaultBudget(t *testing.T) {
	if defaultBudgetInstances != 2176 {
		t.Fatalf("default budget allows %d remote instances, the README says 2176", defaultBudgetInstances)
	}
	testBudget(t, model.DefaultMaxInterfaces)
}

func TestCapacityBudget8192(t *testing.T) {
	if bigBudgetInstances != 4096 {
		t.Fatalf("budget %d allows %d remote instances, want 4096", bigBudget, bigBudgetInstances)
	}
	testBudget(t, bigBudget)
}

// A node's whole budget in one virtual network: its flood group has a bucket per member, 2176
// of them, more than one OpenFlow message of 64 KiB holds (about 1,360 buckets of 48 bytes).
func TestCapacityOneVirtualNetwork(t *testing.T) {
	node := capacityNode(t, defaultBudgetInstances)
	yaml := scale.Spec{Host: "gw1", Remote: defaultBudgetInstances, PerVN: defaultBudgetInstances}.YAML()
	a := testbed.NewAgent(t, ovsgwBin, node, testbed.AgentOptions{Hostname: "gw1", GatewayMode: true}, yaml)
	requireServed(t, a, defaultBudgetInstances, model.DefaultMaxInterfaces)
}

// clip shortens an error that quotes whole groups or configs to its start and end.
func clip(s string) string {
	const keep = 300
	if len(s) <= 2*keep {
		return s
	}
	return fmt.Sprintf("%s … (%d bytes) … %s", s[:keep], len(s)-2*keep, s[len(s)-keep:])
}

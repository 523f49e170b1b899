package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
	"github.com/ovsgw/ovsgw/test/lab"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// Without gateway_mode = server the node serves its local VMs and ignores its logical
// interfaces, and says so.
func TestGatewayModeOff(t *testing.T) {
	l := lab.NewGateway(t, ovsgwBin, lab.GatewayYAML, false)
	s := l.Status(t)
	if s.GatewayMode || !strings.Contains(s.GatewayModeReason, "gateway_mode = server is not set") {
		t.Errorf("status does not say gateway mode is off and why: %+v", s)
	}
	if len(s.Notices) == 0 || !strings.Contains(s.Notices[0], "the 3 logical interfaces of physical router \"gw1\" are ignored") {
		t.Errorf("no notice about the ignored logical interfaces: %q", s.Notices)
	}
	if s.InterfacesUsed != 0 {
		t.Errorf("interfaces used %d with gateway mode off, want 0", s.InterfacesUsed)
	}
	ports := l.GW.MustVsctl(t, "list-ports", "br-int")
	if strings.Contains(ports, "eth1") {
		t.Errorf("physical interface eth1 added to the bridge with gateway mode off: %s", ports)
	}
	l.BMS1.MustNotPing(t, l.VM.IP)
	log := l.Agent.LogText()
	if !strings.Contains(log, "gateway mode is off") {
		t.Errorf("agent log does not say gateway mode is off:\n%s", log)
	}
}

// A config over the node's interface budget is refused before anything is touched.
func TestCapacityRefusedAtStart(t *testing.T) {
	testbed.Require(t)
	node := testbed.NewNode(t, "gw1")
	a := testbed.PrepareAgent(t, ovsgwBin, node, testbed.AgentOptions{Hostname: "gw1", GatewayMode: true, MaxInterfaces: 4}, lab.GatewayYAML)
	out, err := node.ExecTimeout(20*time.Second, a.Bin, "agent", "--config", a.Conf)
	if err == nil {
		t.Fatalf("agent started with 3 remote instances on a budget of 4 interfaces:\n%s", out)
	}
	for _, want := range []string{"physicalRouters[gw1]", "3 remote instances need 6 interfaces", "max_interfaces = 4", "nothing changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("error lacks %q:\n%s", want, out)
		}
	}
	if _, err := node.Vsctl("br-exists", "br-int"); err == nil {
		t.Error("a refused config created the bridge")
	}
}

// A config whose flows on the node would exceed its flow budget is refused from the config
// alone, with the numbers and the rules that cost the most, by `ovsgw validate --host` and at
// agent start, before anything is touched (issue 11 #8: one rule once compiled to 4.8 M flows
// before anything could refuse it).
func TestFlowBudgetRefusedAtValidation(t *testing.T) {
	testbed.Require(t)
	file := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(file, []byte(lab.GatewayYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ovsgwBin, "validate", "-f", file, "--host", "gw1", "--max-flows", "20").CombinedOutput()
	wants := []string{"node gw1: the config compiles to up to", "(3 VMIs bound here), more than max_flows = 20 allows"}
	if err == nil {
		t.Errorf("validate accepted a config over a budget of 20 flows:\n%s", out)
	}
	for _, want := range wants {
		if !strings.Contains(string(out), want) {
			t.Errorf("validate's error lacks %q:\n%s", want, out)
		}
	}
	if out, err := exec.Command(ovsgwBin, "validate", "-f", file, "--host", "gw1").CombinedOutput(); err != nil {
		t.Errorf("validate refused the lab config on the default budget: %v\n%s", err, out)
	}
	node := testbed.NewNode(t, "gw1")
	a := testbed.PrepareAgent(t, ovsgwBin, node, testbed.AgentOptions{Hostname: "gw1", GatewayMode: true, MaxFlows: 20}, lab.GatewayYAML)
	aout, err := node.ExecTimeout(20*time.Second, a.Bin, "agent", "--config", a.Conf)
	if err == nil {
		t.Fatalf("agent started over a budget of 20 flows:\n%s", aout)
	}
	for _, want := range append(wants, "nothing changed") {
		if !strings.Contains(aout, want) {
			t.Errorf("the agent's error lacks %q:\n%s", want, aout)
		}
	}
	if _, err := node.Vsctl("br-exists", "br-int"); err == nil {
		t.Error("a refused config created the bridge")
	}
}

// A misspelt agent config key is an error naming section and key, and the agent does not start.
func TestAgentConfigErrorsNameTheKey(t *testing.T) {
	testbed.Require(t)
	node := testbed.NewNode(t, "gw1")
	a := testbed.PrepareAgent(t, ovsgwBin, node, testbed.AgentOptions{Hostname: "gw1", GatewayMode: true}, lab.GatewayYAML)
	a.AppendConf(t, "[DEFAULT]\nmax_interface = 10\n")
	out, err := node.ExecTimeout(20*time.Second, a.Bin, "agent", "--config", a.Conf)
	if err == nil || !strings.Contains(out, "[DEFAULT].max_interface: unknown key") {
		t.Fatalf("want an unknown-key error, got %v:\n%s", err, out)
	}
}

// With [DEFAULT] log_format = json every line the agent writes is one JSON object with the
// text format's keys, and a refused config's line names the object as validation does.
func TestAgentLogsJSON(t *testing.T) {
	testbed.Require(t)
	node := testbed.NewNode(t, "gw1")
	a := testbed.PrepareAgent(t, ovsgwBin, node, testbed.AgentOptions{Hostname: "gw1", GatewayMode: true}, lab.GatewayYAML)
	a.AppendConf(t, "[DEFAULT]\nlog_format = json\n")
	a.Start(t)
	bad := strings.Replace(lab.GatewayYAML, "vlan: 100,", "vlan: 5000,", 1)
	a.WriteConfig(t, bad)
	const refused = "physicalRouters[gw1].physicalInterfaces[eth1].logicalInterfaces[eth1-100].vlan: 5000 is out of range"
	var lines []map[string]any
	lab.Eventually(t, 20*time.Second, "the agent logs the refused config", func() error {
		lines = lines[:0]
		text := a.LogText()
		text = text[:strings.LastIndex(text, "\n")+1] // whole lines: the agent may be writing one
		for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("a log line is not JSON: %v\n%s", err, l)
			}
			lines = append(lines, m)
		}
		for _, m := range lines {
			if msg, _ := m["msg"].(string); m["level"] == "error" && strings.Contains(msg, refused) {
				return nil
			}
		}
		return fmt.Errorf("no error line naming %s in %d lines", refused, len(lines))
	})
	started := false
	for _, m := range lines {
		for _, k := range []string{"time", "level", "msg", "component"} {
			if _, ok := m[k].(string); !ok {
				t.Errorf("line without %q: %v", k, m)
			}
		}
		if m["msg"] == "agent starting" {
			started = m["node"] == "gw1" && m["bridge"] == "br-int" && m["component"] == "agent"
		}
	}
	if !started {
		t.Errorf("no \"agent starting\" line with node gw1, bridge br-int and component agent: %v", lines)
	}
}

// An agent waiting for its config DB says so: its control socket is up first and `ovsgw
// status` names what it waits for and the last error, and the log has a line per attempt;
// once the database answers, the agent goes on by itself (issue 11 #10: it logged nothing and
// status found no agent).
func TestAgentSaysItWaitsForTheConfigDB(t *testing.T) {
	testbed.Require(t)
	schema, err := filepath.Abs("../../schemas/gateway.ovsschema")
	if err != nil {
		t.Fatal(err)
	}
	db := configdbtest.NewStandalone(t, schema)
	file := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(file, []byte(lab.GatewayYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := ovsgwCLI("db", "apply", "-f", file, "--db", db.Endpoint); err != nil {
		t.Fatalf("db apply: %v\n%s", err, out)
	}
	db.Stop()
	node := testbed.NewNode(t, "gw1")
	a := testbed.PrepareAgent(t, ovsgwBin, node, testbed.AgentOptions{Hostname: "gw1", GatewayMode: true, ConfigDB: db.Endpoint}, "")
	a.Launch(t)
	lab.Eventually(t, 20*time.Second, "status says the agent waits for the config DB", func() error {
		out, err := a.CLI("status")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "waiting:       waiting for the config DB at "+db.Endpoint+": attempt") {
			return fmt.Errorf("status:\n%s", out)
		}
		if n := strings.Count(a.LogText(), "waiting for the config DB: no leader reachable yet"); n < 2 {
			return fmt.Errorf("%d log lines about the wait", n)
		}
		return nil
	})
	db.Start(t)
	lab.Eventually(t, 20*time.Second, "the agent serves once the database answers", func() error {
		out, err := a.CLI("status")
		if err != nil {
			return err
		}
		if strings.Contains(out, "waiting:") || !strings.Contains(out, "flows:") || strings.Contains(out, "last sync never") {
			return fmt.Errorf("status:\n%s", out)
		}
		return nil
	})
}

// foreignYAML serves two VNs on gw1 through two local VMs (vm1p, vm2p): ovsgw wants a flood
// group for each.
const foreignYAML = `
virtualNetworks:
  - {name: blue, vni: 5001}
  - {name: red, vni: 5002}
virtualMachineInterfaces:
  - {name: vm1, network: blue, mac: "02:00:00:00:02:01"}
  - {name: vm2, network: red, mac: "02:00:00:00:02:02"}
`

// An agent starting on a bridge someone else made, holding someone else's groups and flows:
// the bridge keeps its protocols (OpenFlow13 added) and its fail mode, which is reported; a
// foreign group at the id of a flood group ovsgw wants, one at another id of ovsgw's ranges and
// the foreign flows using them survive the start and a restart, and are reported; ovsgw sends
// none of its packets into them; a group of ovsgw's that a foreign flow uses is kept when ovsgw
// no longer wants it; and when the owner sets the fail mode to secure (ovs-vswitchd then
// deletes every flow), the agent notices and puts its flows back.
func TestAgentStartLeavesForeignGroupsAndBridgeSettings(t *testing.T) {
	testbed.Require(t)
	node := testbed.NewNode(t, "gw1")
	node.AddBridge(t, "br-int", "fail_mode=standalone", "protocols=OpenFlow10,OpenFlow14")
	for _, p := range []string{"vm1p", "vm2p"} {
		node.MustVsctl(t, "add-port", "br-int", p, "--", "set", "interface", p, "type=internal",
			"external_ids:iface-id="+strings.Replace(p, "p", "", 1))
	}
	wantedID, unwantedID, oursID := pipeline.FloodGroupID(5001), pipeline.FloodGroupID(7777), pipeline.FloodGroupID(5002)
	of14 := func(args ...string) string { // the bridge speaks no OpenFlow 1.3 before the agent
		t.Helper()
		full := append([]string{"ovs-ofctl", "-O", "OpenFlow14", args[0], node.MgmtSocket("br-int")}, args[1:]...)
		return node.MustExec(t, full...)
	}
	of14("add-group", fmt.Sprintf("group_id=%d,type=all,bucket=actions=output:LOCAL", wantedID))
	of14("add-group", fmt.Sprintf("group_id=%d,type=all,bucket=actions=output:LOCAL", unwantedID))
	usesWanted := fmt.Sprintf("cookie=0xbad,table=0,priority=300,in_port=LOCAL,dl_dst=01:00:00:00:00:01 actions=group:%d", wantedID)
	usesUnwanted := fmt.Sprintf("cookie=0xbad,table=0,priority=301,in_port=LOCAL,dl_dst=01:00:00:00:00:02 actions=group:%d", unwantedID)
	of14("add-flow", usesWanted)
	of14("add-flow", usesUnwanted)
	foreignGroups := of14("dump-groups")

	a := testbed.NewAgent(t, ovsgwBin, node, testbed.AgentOptions{Hostname: "gw1"}, foreignYAML)
	l := &lab.Gateway{GW: node, Agent: a}
	l.WaitBound(t, "vm1", "vm2")

	// requireForeignIntact checks the foreign groups and flows are as they were, and that no flow
	// of ovsgw's sends packets into a foreign group.
	requireForeignIntact := func(t *testing.T) {
		t.Helper()
		groups := node.MustOfctl(t, "dump-groups", "br-int")
		for _, id := range []uint32{wantedID, unwantedID} {
			line := fmt.Sprintf("group_id=%d,type=all,bucket=actions=LOCAL\n", id)
			if !strings.Contains(foreignGroups, line) || !strings.Contains(groups, line) {
				t.Errorf("foreign group %d changed:\nbefore\n%s\nafter\n%s", id, foreignGroups, groups)
			}
		}
		flows := node.MustOfctl(t, "dump-flows", "br-int")
		for _, f := range []string{"priority=300,in_port=LOCAL,dl_dst=01:00:00:00:00:01 actions=group:", "priority=301,in_port=LOCAL,dl_dst=01:00:00:00:00:02 actions=group:"} {
			if !strings.Contains(flows, f) {
				t.Errorf("foreign flow %s is gone:\n%s", f, flows)
			}
		}
		for _, line := range strings.Split(flows, "\n") {
			if strings.Contains(line, "cookie=0x6f67") && strings.Contains(line, fmt.Sprintf("group:%d", wantedID)) {
				t.Errorf("ovsgw's flow sends packets into the foreign group: %s", line)
			}
		}
	}
	requireNotices := func(t *testing.T, want ...string) {
		t.Helper()
		notices := strings.Join(l.Status(t).Notices, "\n")
		for _, w := range want {
			if !strings.Contains(notices, w) {
				t.Errorf("status notices lack %q:\n%s", w, notices)
			}
		}
	}
	failModeNotice := `bridge "br-int": fail_mode is standalone, not secure`
	foreignNotices := []string{
		failModeNotice,
		fmt.Sprintf(`refusing to overwrite foreign entry "group_id=%d,type=all,bucket=actions=LOCAL"`, wantedID),
		fmt.Sprintf(`it uses foreign group "group_id=%d`, wantedID),
		fmt.Sprintf("foreign group %d left alone", wantedID),
		fmt.Sprintf("foreign group %d left alone", unwantedID),
		fmt.Sprintf("in_port=4294967294,dl_dst=01:00:00:00:00:02 actions=group:%d", unwantedID),
		// ovs-vswitchd's NORMAL flow of a standalone bridge sits where ovsgw's default drop goes
		`refusing to overwrite foreign entry "cookie=0x0, table=0, priority=0 actions=output:4294967290"`,
	}

	t.Run("the adopted bridge keeps its protocols and fail mode, reported", func(t *testing.T) {
		for col, want := range map[string]string{"fail_mode": "standalone", "protocols": "[OpenFlow10, OpenFlow13, OpenFlow14]"} {
			if got := strings.TrimSpace(node.MustVsctl(t, "get", "Bridge", "br-int", col)); got != want {
				t.Errorf("br-int %s = %s, want %s", col, got, want)
			}
		}
		requireNotices(t, failModeNotice)
		if text, err := a.CLI("status"); err != nil || !strings.Contains(text, "notice:        "+failModeNotice) {
			t.Errorf("ovsgw status does not show the fail mode: %v\n%s", err, text)
		}
		if !strings.Contains(a.LogText(), "fail_mode is standalone, not secure") {
			t.Errorf("the log does not report the fail mode")
		}
	})
	t.Run("foreign groups in ovsgw's ranges and their flows survive the start, reported", func(t *testing.T) {
		requireForeignIntact(t)
		requireNotices(t, foreignNotices...)
		if !strings.Contains(a.LogText(), fmt.Sprintf("foreign group %d left alone", unwantedID)) {
			t.Errorf("the log does not report the foreign group")
		}
		ours := node.MustOfctl(t, "dump-groups", "br-int")
		if !strings.Contains(ours, fmt.Sprintf("group_id=%d,type=all,bucket=actions=note:6f.76.73.67.77.01,", oursID)) {
			t.Errorf("ovsgw's own flood group of red is missing or unmarked:\n%s", ours)
		}
		out, err := a.CLI("flows", "-o", "json")
		var fl control.Flows
		if err == nil {
			err = json.Unmarshal([]byte(out), &fl)
		}
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[uint32]string{}
		for _, g := range fl.Groups {
			kinds[g.ID] = g.OwnerKind + " " + g.OwnerName
		}
		if kinds[wantedID] != "foreign " || kinds[unwantedID] != "foreign " || kinds[oursID] != "vn red" {
			t.Errorf("ovsgw flows annotates the groups as %v", kinds)
		}
	})
	t.Run("a restart changes nothing and reports the same", func(t *testing.T) {
		before := dumpFlows(t, node, "br-int")
		if err := a.Proc.Stop(); err != nil {
			t.Fatal(err)
		}
		a.Start(t)
		l.WaitBound(t, "vm1", "vm2")
		requireSameFlows(t, "a restart", before, dumpFlows(t, node, "br-int"))
		if n := lastSyncChanges(t, l); n != 0 {
			t.Errorf("the restarted agent sent %d changes, want none", n)
		}
		requireForeignIntact(t)
		requireNotices(t, foreignNotices...)
	})
	t.Run("a group of ovsgw's that a foreign flow uses is kept when no longer wanted", func(t *testing.T) {
		user := fmt.Sprintf("cookie=0xbad,table=0,priority=302,in_port=LOCAL,dl_dst=01:00:00:00:00:03 actions=group:%d", oursID)
		node.MustOfctl(t, "add-flow", "br-int", user)
		l.SetConfig(t, strings.Replace(foreignYAML, `  - {name: vm2, network: red, mac: "02:00:00:00:02:02"}`+"\n", "", 1))
		lab.Eventually(t, 10*time.Second, "the kept group reported", func() error {
			if n := strings.Join(l.Status(t).Notices, "\n"); !strings.Contains(n, fmt.Sprintf(`kept: not deleting group "group_id=%d`, oursID)) {
				return fmt.Errorf("notices:\n%s", n)
			}
			return nil
		})
		if !strings.Contains(node.MustOfctl(t, "dump-flows", "br-int"), "dl_dst=01:00:00:00:00:03 actions=group:") {
			t.Errorf("the foreign flow using ovsgw's group is gone")
		}
		if !strings.Contains(node.MustOfctl(t, "dump-groups", "br-int"), fmt.Sprintf("group_id=%d,", oursID)) {
			t.Errorf("ovsgw's group used by a foreign flow was deleted")
		}
		requireForeignIntact(t)
	})
	t.Run("the owner sets fail mode secure: ovs-vswitchd deletes every flow, the agent puts its own back", func(t *testing.T) {
		node.MustVsctl(t, "set-fail-mode", "br-int", "secure")
		lab.Eventually(t, 10*time.Second, "ovsgw's flows back, NORMAL gone", func() error {
			flows := node.MustOfctl(t, "dump-flows", "br-int")
			if strings.Contains(flows, "actions=NORMAL") || !strings.Contains(flows, "cookie=0x6f67010200000000, duration") {
				return fmt.Errorf("flows:\n%s", flows)
			}
			if strings.Contains(strings.Join(l.Status(t).Notices, "\n"), failModeNotice) {
				return fmt.Errorf("the fail mode is still reported")
			}
			return nil
		})
	})
}

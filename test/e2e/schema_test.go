package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
	"github.com/ovsgw/ovsgw/test/lab"
)

// The overlay lab's database starts with a schema that constrains no value, as 1.2.0's: a
// foreign client writes rows out of range there, the agents refuse or skip them, and the
// operator converts the database as the README says while the agents run.

// Rows out of range written by a foreign client, and what the agents say of them.
const (
	badVNIRow     = `{"op":"update","table":"Virtual_Network","where":[["name","==","blue"]],"row":{"vni":4294967297}}`
	badVNIError   = "Virtual_Network[blue].vni: 4294967297 is out of range 1..16777215"
	badPeerNode   = `{"op":"insert","table":"Node","row":{"hostname":"c9","tunnel_ip":"192.168.100.300","interfaces_limit":4352}}`
	badPeerRow    = `{"op":"insert","table":"Binding","row":{"vmi":"vm1","node":"c9","kind":"remote","physical_interface":"eth1","vlan":70000,"role":"active"}}`
	badNodeError  = `Node[c9].tunnel_ip: "192.168.100.300" is not an IPv4 address`
	badPeerError  = "Binding[node=c9,vmi=vm1].vlan: 70000 is out of range 0..4094"
	deletePeerRow = `{"op":"delete","table":"Binding","where":[["node","==","c9"]]},{"op":"delete","table":"Node","where":[["hostname","==","c9"]]}`
)

// leaderNow is the cluster's leader; cluster/status answers within a second, which a loaded
// machine may miss, so it asks again for a while.
func (l *overlayLab) leaderNow(t testing.TB) *raftMember {
	t.Helper()
	var leader *raftMember
	lab.Eventually(t, clusterReady, "the cluster's leader", func() error {
		if leader = l.cluster.leader(t); leader == nil {
			return fmt.Errorf("no member says it leads")
		}
		return nil
	})
	return leader
}

// transact runs ovsdb-client transact on the cluster's leader, as a foreign client writes.
func (l *overlayLab) transact(t testing.TB, ops ...string) {
	t.Helper()
	out := mustRunTool(t, ovsProgram(t, "ovsdb-client"), "transact", l.leaderNow(t).unix, `["`+configdb.DatabaseName+`",`+strings.Join(ops, ",")+`]`)
	if strings.Contains(out, `"error"`) {
		t.Fatalf("transact refused: %s", out)
	}
}

func (l *overlayLab) configRowOutOfRange(t *testing.T) {
	gens := map[string]int{}
	for name, a := range l.agents {
		gens[name] = agentStatus(t, a).ConfigGeneration
	}
	l.transact(t, badVNIRow)
	for name, a := range l.agents {
		lab.Eventually(t, 15*time.Second, name+" refuses the config", func() error {
			s := agentStatus(t, a)
			if !strings.Contains(s.LastConfigError, badVNIError) {
				return fmt.Errorf("last config error %q", s.LastConfigError)
			}
			if s.ConfigGeneration != gens[name] {
				return fmt.Errorf("config generation %d, was %d: a config was put in force", s.ConfigGeneration, gens[name])
			}
			return nil
		})
		if log := a.LogText(); !strings.Contains(log, "previous one stays in force") || !strings.Contains(log, badVNIError) {
			t.Errorf("%s's log does not say why the config was refused", name)
		}
		if out, _ := a.CLI("status"); !strings.Contains(out, badVNIError) {
			t.Errorf("%s: ovsgw status does not show the error:\n%s", name, out)
		}
	}
	// VN blue is still VNI 5001 on every node: the remote instance reaches both compute nodes.
	l.bms1.MustPing(t, l.vm1.IP)
	l.bms1.MustPing(t, l.vm2.IP)
	out, err := ovsgwCLI("db", "show", "--db", l.dbCL)
	for _, w := range []string{"NOTE: the config DB has schema OVSGW " + configdbtest.UnconstrainedVersion + ", older than this ovsgw's " + configdb.SchemaVersion,
		"REFUSED CONFIG ROWS", "  " + badVNIError + "\n"} {
		if err != nil || !strings.Contains(out, w) {
			t.Errorf("db show lacks %q: %v\n%s", w, err, out)
		}
	}
}

func (l *overlayLab) peerRowsOutOfRange(t *testing.T) {
	l.transact(t, badPeerNode, badPeerRow)
	for name, a := range l.agents {
		lab.Eventually(t, 15*time.Second, name+" skips the peer's rows", func() error {
			s := agentStatus(t, a)
			if !slices.Contains(s.SkippedStateRows, badPeerError) || !slices.Contains(s.SkippedStateRows, badNodeError) || s.SkippedStateRowsTotal < 2 {
				return fmt.Errorf("skipped %v (total %d)", s.SkippedStateRows, s.SkippedStateRowsTotal)
			}
			if s.LastSyncError != "" || s.SyncedGeneration < s.ConfigGeneration {
				return fmt.Errorf("not synced: %q", s.LastSyncError)
			}
			return nil
		})
		if log := a.LogText(); !strings.Contains(log, badPeerError) {
			t.Errorf("%s's log does not name the skipped row", name)
		}
		for _, b := range agentStatus(t, a).Bindings {
			if b.Node == "c9" {
				t.Errorf("%s binds %s to the skipped node c9", name, b.VMI)
			}
		}
	}
	l.bms1.MustPing(t, l.vm1.IP)
	out, err := ovsgwCLI("db", "show", "--db", l.dbCL)
	if err != nil || !strings.Contains(out, "SKIPPED STATE ROWS") || !strings.Contains(out, "  "+badPeerError+"\n") {
		t.Errorf("db show does not list the skipped rows: %v\n%s", err, out)
	}
}

// convertSchema follows the README: dry run on a backup, fix what it refuses, convert the
// running cluster with this binary's schema.
func (l *overlayLab) convertSchema(t *testing.T) {
	var wg sync.WaitGroup
	var sent, received int
	var pings string
	wg.Add(1)
	go func() {
		defer wg.Done()
		sent, received, pings = l.bms1.PingCount(l.vm2.IP, 60, 100*time.Millisecond, time.Second)
	}()
	dir := t.TempDir()
	schema := filepath.Join(dir, "gateway.ovsschema")
	out, err := ovsgwCLI("db", "schema")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(schema, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if file, _ := os.ReadFile("../../schemas/gateway.ovsschema"); string(file) != out {
		t.Error("ovsgw db schema differs from schemas/gateway.ovsschema")
	}

	dryRun := func() (string, error) {
		backup := filepath.Join(dir, "backup.db")
		mustRunTool(t, "sh", "-c", fmt.Sprintf("%s backup %s %s > %s", ovsProgram(t, "ovsdb-client"), l.leaderNow(t).unix, configdb.DatabaseName, backup))
		os.Remove(filepath.Join(dir, "check.db"))
		out, err := exec.Command(ovsProgram(t, "ovsdb-tool"), "convert", backup, schema, filepath.Join(dir, "check.db")).CombinedOutput()
		return string(out), err
	}
	if out, err := dryRun(); err == nil || !strings.Contains(out, "constraint violation") {
		t.Fatalf("dry run over rows out of range: %v\n%s", err, out)
	} else {
		t.Logf("the dry run refuses: %s", strings.TrimSpace(out))
	}
	// The fix: the config applied again, the foreign state rows deleted.
	out, err = ovsgwCLI("db", "apply", "-f", l.configFile, "--db", l.dbCL)
	if err != nil || !strings.Contains(out, "change  virtual-network blue: vni") {
		t.Fatalf("db apply over the bad row: %v\n%s", err, out)
	}
	l.transact(t, deletePeerRow)
	if out, err := dryRun(); err != nil {
		t.Fatalf("dry run after the fix: %v\n%s", err, out)
	}

	start := time.Now()
	mustRunTool(t, ovsProgram(t, "ovsdb-client"), "convert", l.leaderNow(t).unix, schema)
	t.Logf("measured: ovsdb-client convert of the running cluster took %v", time.Since(start).Round(time.Millisecond))
	for i, m := range l.cluster.members {
		lab.Eventually(t, 10*time.Second, fmt.Sprintf("member %d converted", i+1), func() error {
			if v := strings.TrimSpace(mustRunTool(t, ovsProgram(t, "ovsdb-client"), "get-schema-version", m.unix, configdb.DatabaseName)); v != configdb.SchemaVersion {
				return fmt.Errorf("schema %s", v)
			}
			return nil
		})
	}
	for name, a := range l.agents {
		lab.Eventually(t, 15*time.Second, name+" runs on the converted database", func() error {
			s := agentStatus(t, a)
			if s.LastConfigError != "" || len(s.SkippedStateRows) != 0 || s.LastSyncError != "" || s.SyncedGeneration < s.ConfigGeneration {
				return fmt.Errorf("config error %q, skipped %v, sync error %q", s.LastConfigError, s.SkippedStateRows, s.LastSyncError)
			}
			return nil
		})
	}
	lab.Eventually(t, 15*time.Second, "every node heartbeats on the converted database", func() error {
		out, err := ovsgwCLI("db", "show", "--db", l.dbCL)
		switch {
		case err != nil:
			return err
		case strings.Contains(out, "NOTE:") || strings.Contains(out, "REFUSED") || strings.Contains(out, "SKIPPED") || strings.Contains(out, "STALE"):
			return fmt.Errorf("db show:\n%s", out)
		}
		return nil
	})
	// The server itself now refuses what the new schema forbids.
	if out := mustRunTool(t, ovsProgram(t, "ovsdb-client"), "transact", l.leaderNow(t).unix, `["`+configdb.DatabaseName+`",`+badVNIRow+`]`); !strings.Contains(out, "constraint violation") {
		t.Errorf("the converted database took a VNI of 2^32+1: %s", out)
	}
	wg.Wait()
	if sent == 0 || received != sent {
		t.Errorf("pings during the conversion: %d sent, %d received\n%s", sent, received, pings)
	}
}

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
	"github.com/ovsgw/ovsgw/ovsdb/ovstls"
	"github.com/ovsgw/ovsgw/ovsdb/ovstls/ovstlstest"
	"github.com/ovsgw/ovsgw/test/lab"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// refusedAtOnce bounds how long the CLI may take to report a TLS refusal: a handshake per
// member, no waiting for a leader that would never come.
const refusedAtOnce = 10 * time.Second

// TestConfigDBOverMutualTLS: the config DB spoke only plain tcp: — anyone who reached its port
// rewrote every node's flows. Now, with the cluster set up as `make cluster` sets it up (three
// members serving ssl: clients and speaking Raft over ssl:, certificates made by ovs-pki: the
// members' by the controller CA, the clients' by the switch CA), the CLI applies and shows the
// config and an agent follows it and publishes its node, both over mutual TLS with the members'
// common names pinned; the CLI names missing TLS flags before connecting, and refuses at once a
// member certificate of another CA, or of a name that is not pinned, naming the names.
func TestConfigDBOverMutualTLS(t *testing.T) {
	testbed.Require(t)
	schema, err := filepath.Abs("../../schemas/gateway.ovsschema")
	if err != nil {
		t.Fatal(err)
	}
	node := testbed.NewNode(t, "gw1")
	pki, stranger := ovstlstest.Shared(t, "ovsgw"), ovstlstest.Shared(t, "stranger")
	bundle := pki.Bundle(t)
	var members []configdbtest.TLS
	for i := range 3 {
		c := pki.Cert(t, fmt.Sprintf("db%d", i+1), ovstlstest.Controller)
		members = append(members, configdbtest.TLS{PrivateKey: c.PrivateKey, Certificate: c.Certificate, CACert: bundle})
	}
	// In the node's namespace, where the agent reaches 127.0.0.1.
	cluster := configdbtest.NewClusterTLS(t, schema, members, node.NS.Name)
	db := strings.Join(cluster.SSLEndpoints(), ",")
	admin := pki.Cert(t, "admin", ovstlstest.Switch)
	ca := pki.CACert(ovstlstest.Controller)
	cli := func(flags map[string]string, args ...string) (string, time.Duration, error) {
		all := map[string]string{"--db": db, "--private-key": admin.PrivateKey, "--certificate": admin.Certificate,
			"--ca-cert": ca, "--peer-cn": "db1,db2,db3"}
		for k, v := range flags {
			all[k] = v
		}
		cmd := append([]string{ovsgwBin}, args...)
		for k, v := range all {
			if v != "" {
				cmd = append(cmd, k, v)
			}
		}
		start := time.Now()
		out, err := node.NS.ExecTimeout(time.Minute, cmd...)
		return out, time.Since(start), err
	}
	config := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(config, []byte(lab.GatewayYAML), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("db apply and db show over mutual TLS", func(t *testing.T) {
		out, _, err := cli(nil, "db", "apply", "-f", config)
		if err != nil || !strings.Contains(out, "add     virtual-machine-interface bms1\n") || !strings.Contains(out, "config generation 1") {
			t.Fatalf("db apply: %v\n%s", err, out)
		}
		out, _, err = cli(nil, "db", "show")
		if err != nil || !strings.Contains(out, "config generation 1:") {
			t.Fatalf("db show: %v\n%s", err, out)
		}
	})
	t.Run("the agent follows the config DB over mutual TLS and publishes its node", func(t *testing.T) {
		gw1 := pki.Cert(t, "gw1", ovstlstest.Switch)
		a := testbed.NewAgent(t, ovsgwBin, node, testbed.AgentOptions{Hostname: "gw1", TunnelIP: "192.168.100.1", ConfigDB: db,
			ConfigDBTLS: ovstls.Files{PrivateKey: gw1.PrivateKey, Certificate: gw1.Certificate, CACert: ca,
				PeerCommonNames: []string{"db1", "db2", "db3"}}}, "")
		lab.Eventually(t, 30*time.Second, "the agent synced the config from the database", func() error {
			s := agentStatus(t, a)
			if !strings.HasPrefix(s.ConfigFile, "config DB ssl:") || s.SyncedGeneration != 1 || s.Flows == 0 {
				return fmt.Errorf("config %q, synced generation %d, %d flows, sync error %q",
					s.ConfigFile, s.SyncedGeneration, s.Flows, s.LastSyncError)
			}
			return nil
		})
		lab.Eventually(t, 15*time.Second, "db show lists the node", func() error {
			out, _, err := cli(nil, "db", "show")
			if err != nil || !strings.Contains(out, "gw1   192.168.100.1") || strings.Contains(out, "STALE") {
				return fmt.Errorf("%v\n%s", err, out)
			}
			return nil
		})
	})
	t.Run("missing TLS flags are named before anything is dialled", func(t *testing.T) {
		out, took, err := cli(map[string]string{"--ca-cert": "", "--private-key": ""}, "db", "show")
		if err == nil || !strings.Contains(out, "--private-key: missing: "+cluster[0].SSL+" is an ssl: endpoint, which needs it") ||
			!strings.Contains(out, "--ca-cert: missing") || took > refusedAtOnce {
			t.Fatalf("after %v: %v\n%s", took, err, out)
		}
	})
	t.Run("a member certificate of another CA is refused at once, naming the CA file", func(t *testing.T) {
		other := stranger.CACert(ovstlstest.Controller)
		out, took, err := cli(map[string]string{"--ca-cert": other}, "db", "show")
		if err == nil || !strings.Contains(out, `the config DB member's certificate is refused: "db1" is not signed by the CA in `+other) || took > refusedAtOnce {
			t.Fatalf("after %v: %v\n%s", took, err, out)
		}
	})
	t.Run("a member whose common name is not pinned is refused at once, naming both", func(t *testing.T) {
		out, took, err := cli(map[string]string{"--peer-cn": "ovsgw-db"}, "db", "show")
		if err == nil || !strings.Contains(out, `its common name "db2" is not the pinned "ovsgw-db"`) || took > refusedAtOnce {
			t.Fatalf("after %v: %v\n%s", took, err, out)
		}
	})
}

package agentconf

import (
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/model"
)

// checkConfig returns what is wrong with a config Parse accepted: Parse promises values the
// agent can use as they are.
func checkConfig(c *Config) []string {
	var bad []string
	fail := func(format string, ok bool) {
		if !ok {
			bad = append(bad, format)
		}
	}
	fail("gateway_mode is server, none or empty", c.GatewayMode == "" || c.GatewayMode == GatewayModeServer || c.GatewayMode == "none")
	fail("max_interfaces is above 0", c.MaxInterfaces > 0)
	fail("resync_interval is above 0", c.ResyncInterval > 0)
	// The agent runs time.NewTicker(time.Duration(ResyncInterval) * time.Second), which panics
	// on a duration that overflowed to zero or below.
	fail("resync_interval seconds fit a time.Duration", time.Duration(c.ResyncInterval)*time.Second > 0 &&
		time.Duration(c.ResyncInterval)*time.Second/time.Second == time.Duration(c.ResyncInterval))
	fail("ovsdb is unix: or tcp:", strings.HasPrefix(c.OVSDB, "unix:") || strings.HasPrefix(c.OVSDB, "tcp:"))
	fail("openflow is unix: or tcp:", strings.HasPrefix(c.OpenFlow, "unix:") || strings.HasPrefix(c.OpenFlow, "tcp:"))
	fail("datapath_type is netdev or system", c.DatapathType == "netdev" || c.DatapathType == "system")
	fail("log_level is known", c.LogLevel == "debug" || c.LogLevel == "info" || c.LogLevel == "warning" || c.LogLevel == "error")
	fail("a config source is set", c.ConfigFile != "" || len(c.ConfigDB) > 0)
	fail("hostname is set", c.Hostname != "")
	fail("bridge is set", c.Bridge != "")
	fail("control_socket is set", c.ControlSocket != "")
	for _, ep := range c.ConfigDB {
		fail("config DB endpoints are tcp:, ssl: or unix:", strings.HasPrefix(ep, "tcp:") || strings.HasPrefix(ep, "ssl:") || strings.HasPrefix(ep, "unix:"))
	}
	if c.TunnelIP != "" {
		a, err := netip.ParseAddr(c.TunnelIP)
		fail("tunnel_ip is an IPv4 address", err == nil && a.Is4())
	}
	return bad
}

// FuzzParseAgentConf: Parse never panics; what it accepts has every value the agent relies on
// in range, and parsing is deterministic; what it refuses is an error naming a section (or
// saying the text is not INI).
func FuzzParseAgentConf(f *testing.F) {
	if data, err := os.ReadFile("../../examples/agent.conf"); err == nil {
		f.Add(data)
	} else {
		f.Fatal(err)
	}
	for _, s := range []string{
		"[DEFAULT]\ngateway_mode = server\nhostname = gw1\n[OVS]\novsdb = unix:/run/x/db.sock\nbridge = br0\n[CONFIG]\nfile = gw.yaml\n",
		"hostname = n1\nresync_interval = 2\nmax_interfaces = 8192\n[CONFIG]\nsource = ovsdb:tcp:10.0.0.1:6641,ssl:10.0.0.2:6641\n[OVERLAY]\ntunnel_ip = 192.168.100.1\n",
		"[OVS]\novsdb = tcp:127.0.0.1:6640\nopenflow = tcp:127.0.0.1:6653\nvswitchd_ctl = /run/ovs.ctl\ndatapath_type = system\n[CONFIG]\nfile = x\n",
		"gateway_mode = client\n[CONFIG]\nfile=x",
		"[CONFIG]\nfile=x\n[OVERLAYS]\nx=1",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if es, ok := err.(model.Errors); ok {
				for _, e := range es {
					if !strings.HasPrefix(e.Object, "[") {
						t.Fatalf("error %q does not name its section", e)
					}
				}
			} else if !strings.HasPrefix(err.Error(), "not an INI file") {
				t.Fatalf("error %T %q is neither model.Errors nor \"not an INI file\"", err, err)
			}
			return
		}
		if bad := checkConfig(c); len(bad) > 0 {
			t.Fatalf("Parse accepted %q giving %+v, but not: %s", data, c, strings.Join(bad, "; "))
		}
		again, err := Parse(data)
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("Parse(%q) is not deterministic: %+v, then %+v, %v", data, c, again, err)
		}
	})
}

// A resync interval too long for a time.Duration must be refused: the agent's ticker panics
// on the overflowed (negative) interval.
func TestResyncIntervalFitsADuration(t *testing.T) {
	for _, v := range []string{"9300000000", "9223372036854775807"} {
		c, err := Parse([]byte("hostname = n1\nresync_interval = " + v + "\n[CONFIG]\nfile = x\n"))
		if err == nil {
			if bad := checkConfig(c); len(bad) > 0 {
				t.Errorf("resync_interval = %s accepted (%d s = %v): %s", v, c.ResyncInterval,
					time.Duration(c.ResyncInterval)*time.Second, strings.Join(bad, "; "))
			}
			continue
		}
		if !strings.Contains(err.Error(), "[DEFAULT].resync_interval") {
			t.Errorf("resync_interval = %s refused without naming the key: %v", v, err)
		}
	}
}

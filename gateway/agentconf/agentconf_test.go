package agentconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte("[DEFAULT]\ngateway_mode = server\nhostname = gw1\n[OVS]\novsdb = unix:/run/x/db.sock\nbridge = br0\n[CONFIG]\nfile = gw.yaml\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.GatewayEnabled() || c.Hostname != "gw1" || c.MaxInterfaces != 4352 || c.MaxFlows != 1_000_000 {
		t.Fatalf("unexpected %+v", c)
	}
	if c.LogFormat != "text" {
		t.Fatalf("log_format default %q, want text", c.LogFormat)
	}
	if c.OpenFlow != "unix:/run/x/br0.mgmt" {
		t.Fatalf("openflow default %q, want the bridge's mgmt socket beside db.sock", c.OpenFlow)
	}
}

func TestGatewayModeOffByDefault(t *testing.T) {
	c, err := Parse([]byte("hostname = n1\n[CONFIG]\nfile = x.yaml\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.GatewayEnabled() {
		t.Fatal("gateway mode on without gateway_mode = server")
	}
	if !c.HARapid {
		t.Fatal("ha_rapid is off by default")
	}
}

func TestErrorsNameSectionAndKey(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"bad gateway mode", "gateway_mode = client\n[CONFIG]\nfile=x", "[DEFAULT].gateway_mode: \"client\""},
		{"budget not a number", "max_interfaces = lots\n[CONFIG]\nfile=x", "[DEFAULT].max_interfaces: \"lots\""},
		{"budget zero", "max_interfaces = 0\n[CONFIG]\nfile=x", "[DEFAULT].max_interfaces"},
		{"flow budget negative", "max_flows = -5\n[CONFIG]\nfile=x", "[DEFAULT].max_flows"},
		{"ha_rapid not a boolean", "ha_rapid = yes\n[CONFIG]\nfile=x", "[DEFAULT].ha_rapid: \"yes\" is not true or false"},
		{"misspelt key", "gateway_mod = server\n[CONFIG]\nfile=x", "[DEFAULT].gateway_mod: unknown key"},
		{"unknown section", "[CONFIG]\nfile=x\n[OVERLAYS]\nx=1", "[OVERLAYS]: unknown section"},
		{"bad ovsdb", "[OVS]\novsdb=/tmp/db.sock\n[CONFIG]\nfile=x", "[OVS].ovsdb"},
		{"tcp ovsdb needs openflow", "[OVS]\novsdb=tcp:127.0.0.1:6640\n[CONFIG]\nfile=x", "[OVS].openflow: required"},
		{"no config file", "hostname=a", "[CONFIG].file: missing"},
		{"bad log format", "log_format = yaml\n[CONFIG]\nfile=x", "[DEFAULT].log_format: \"yaml\": want text or json"},
		{"log format is case-sensitive", "log_format = JSON\n[CONFIG]\nfile=x", "[DEFAULT].log_format: \"JSON\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestConfigFileMayBeADirectoryRelativeToTheAgentConfig(t *testing.T) {
	etc := t.TempDir()
	if err := os.Mkdir(filepath.Join(etc, "gateway.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, file, want string }{
		{"relative directory", "gateway.d", filepath.Join(etc, "gateway.d")},
		{"relative directory with a slash", "gateway.d/", filepath.Join(etc, "gateway.d")},
		{"absolute directory", "/srv/ovsgw/gateway.d", "/srv/ovsgw/gateway.d"},
		{"relative file", "gateway.yaml", filepath.Join(etc, "gateway.yaml")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(etc, "agent.conf")
			if err := os.WriteFile(path, []byte("hostname = gw1\n[CONFIG]\nfile = "+tc.file+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if c.ConfigFile != tc.want {
				t.Fatalf("[CONFIG] file = %s gave %q, want %q", tc.file, c.ConfigFile, tc.want)
			}
		})
	}
}

// TestConfigDBOverSSLNeedsItsTLSFiles: an ssl: config DB took no key, certificate or CA (so only
// plain tcp: worked). The [CONFIG] ssl_* keys name them, relative to the agent config file like
// file; an ssl: source without them, the keys without an ssl: source, and ssl: mixed with tcp:
// are errors naming the key.
func TestConfigDBOverSSLNeedsItsTLSFiles(t *testing.T) {
	etc := t.TempDir()
	path := filepath.Join(etc, "agent.conf")
	if err := os.WriteFile(path, []byte(`hostname = gw1
[CONFIG]
source = ovsdb:ssl:10.0.0.1:6641,ssl:10.0.0.2:6641
ssl_private_key = gw1-privkey.pem
ssl_certificate = /etc/ovsgw/gw1-cert.pem
ssl_ca_cert = pki/controllerca/cacert.pem
ssl_peer_common_name = db1, db2
`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	f := c.ConfigDBTLS
	if f.PrivateKey != filepath.Join(etc, "gw1-privkey.pem") || f.Certificate != "/etc/ovsgw/gw1-cert.pem" ||
		f.CACert != filepath.Join(etc, "pki/controllerca/cacert.pem") || strings.Join(f.PeerCommonNames, "|") != "db1|db2" {
		t.Errorf("TLS settings %+v", f)
	}

	const files = "ssl_private_key = k.pem\nssl_certificate = c.pem\nssl_ca_cert = ca.pem\n"
	for _, tc := range []struct{ name, text string }{
		{"ssl: without files", "[CONFIG]\nsource = ovsdb:ssl:10.0.0.1:6641\nssl_ca_cert = ca.pem\n"},
		{"files for a file source", "[CONFIG]\nfile = gw.yaml\n" + files + "ssl_peer_common_name = db1\n"},
		{"files for tcp:", "[CONFIG]\nsource = ovsdb:tcp:10.0.0.1:6641\nssl_private_key = k.pem\n"},
		{"ssl: beside tcp:", "[CONFIG]\nsource = ovsdb:ssl:10.0.0.1:6641,tcp:10.0.0.2:6641\n" + files},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte("hostname = gw1\n" + tc.text))
			if err == nil {
				t.Fatal("accepted")
			}
			want := map[string][]string{
				"ssl: without files": {
					"[CONFIG].ssl_private_key: missing: ssl:10.0.0.1:6641 is an ssl: endpoint, which needs it",
					"[CONFIG].ssl_certificate: missing: ssl:10.0.0.1:6641 is an ssl: endpoint, which needs it"},
				"files for a file source": {
					"[CONFIG].ssl_private_key: given, but no endpoint is ssl:", "[CONFIG].ssl_certificate: given, but no endpoint is ssl:",
					"[CONFIG].ssl_ca_cert: given, but no endpoint is ssl:", "[CONFIG].ssl_peer_common_name: given, but no endpoint is ssl:"},
				"files for tcp:":   {"[CONFIG].ssl_private_key: given, but no endpoint is ssl:"},
				"ssl: beside tcp:": {"[CONFIG].source: tcp:10.0.0.2:6641 is tcp: beside ssl: endpoints"},
			}[tc.name]
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if n := strings.Count(err.Error(), "\n"); n > len(want) {
				t.Errorf("more errors than %d:\n%v", len(want), err)
			}
		})
	}
}

func TestLogFormatJSON(t *testing.T) {
	c, err := Parse([]byte("log_format = json\nhostname = gw1\n[CONFIG]\nfile = x.yaml\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.LogFormat != "json" {
		t.Fatalf("log_format = json read as %q", c.LogFormat)
	}
}

func TestMetricsOffByDefault(t *testing.T) {
	c, err := Parse([]byte("hostname = n1\n[CONFIG]\nfile = x.yaml\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddress != "" || !c.MetricsPerVMI || c.MetricsInterval != DefaultMetricsInterval {
		t.Fatalf("metrics defaults: address %q, per VMI %v, interval %d", c.MetricsAddress, c.MetricsPerVMI, c.MetricsInterval)
	}
}

func TestMetricsKeys(t *testing.T) {
	c, err := Parse([]byte("hostname = n1\nmetrics_address = 127.0.0.1:9476\nmetrics_per_vmi = false\nmetrics_interval = 5\n[CONFIG]\nfile = x.yaml\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddress != "127.0.0.1:9476" || c.MetricsPerVMI || c.MetricsInterval != 5 {
		t.Fatalf("got address %q, per VMI %v, interval %d", c.MetricsAddress, c.MetricsPerVMI, c.MetricsInterval)
	}
	for _, ok := range []string{":9476", "[::1]:9476", "localhost:9476"} {
		if _, err := Parse([]byte("hostname = n1\nmetrics_address = " + ok + "\n[CONFIG]\nfile = x.yaml\n")); err != nil {
			t.Errorf("metrics_address %s refused: %v", ok, err)
		}
	}
}

func TestBadMetricsSettingsNameTheKey(t *testing.T) {
	cases := []struct{ name, line, want string }{
		{"no port", "metrics_address = 127.0.0.1", "[DEFAULT].metrics_address: \"127.0.0.1\": want HOST:PORT"},
		{"port not a number", "metrics_address = 127.0.0.1:prom", "[DEFAULT].metrics_address: \"127.0.0.1:prom\": port \"prom\""},
		{"port zero", "metrics_address = 127.0.0.1:0", "[DEFAULT].metrics_address: \"127.0.0.1:0\": port"},
		{"port too big", "metrics_address = :70000", "[DEFAULT].metrics_address: \":70000\": port"},
		{"a URL", "metrics_address = http://127.0.0.1:9476", "[DEFAULT].metrics_address"},
		{"per VMI not a boolean", "metrics_per_vmi = no", "[DEFAULT].metrics_per_vmi: \"no\": want true or false"},
		{"interval zero", "metrics_interval = 0", "[DEFAULT].metrics_interval: \"0\""},
		{"interval too long", "metrics_interval = 100000", "[DEFAULT].metrics_interval: 100000 seconds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte("hostname = n1\n" + tc.line + "\n[CONFIG]\nfile = x.yaml\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
}

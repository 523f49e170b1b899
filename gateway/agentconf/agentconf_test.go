package agentconf

import (
	"strings"
	"testing"
)

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte("[DEFAULT]\ngateway_mode = server\nhostname = gw1\n[OVS]\novsdb = unix:/run/x/db.sock\nbridge = br0\n[CONFIG]\nfile = gw.yaml\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.GatewayEnabled() || c.Hostname != "gw1" || c.MaxInterfaces != 4352 {
		t.Fatalf("unexpected %+v", c)
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
}

func TestErrorsNameSectionAndKey(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"bad gateway mode", "gateway_mode = client\n[CONFIG]\nfile=x", "[DEFAULT].gateway_mode: \"client\""},
		{"budget not a number", "max_interfaces = lots\n[CONFIG]\nfile=x", "[DEFAULT].max_interfaces: \"lots\""},
		{"budget zero", "max_interfaces = 0\n[CONFIG]\nfile=x", "[DEFAULT].max_interfaces"},
		{"misspelt key", "gateway_mod = server\n[CONFIG]\nfile=x", "[DEFAULT].gateway_mod: unknown key"},
		{"unknown section", "[CONFIG]\nfile=x\n[OVERLAYS]\nx=1", "[OVERLAYS]: unknown section"},
		{"bad ovsdb", "[OVS]\novsdb=/tmp/db.sock\n[CONFIG]\nfile=x", "[OVS].ovsdb"},
		{"tcp ovsdb needs openflow", "[OVS]\novsdb=tcp:127.0.0.1:6640\n[CONFIG]\nfile=x", "[OVS].openflow: required"},
		{"no config file", "hostname=a", "[CONFIG].file: missing"},
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

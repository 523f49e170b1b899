package vcenter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readmeINI is the first ini block of the README's vCenter section.
func readmeINI(t *testing.T) string {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "## VMware VMs as remote instances")
	if i < 0 {
		t.Fatal("README has no vCenter section")
	}
	s = s[i:]
	start := strings.Index(s, "```ini\n")
	end := strings.Index(s[start+7:], "```")
	return s[start+7 : start+7+end]
}

// The README's example config loads as documented.
func TestLoadConfigOfTheREADME(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"vcenter.conf":        readmeINI(t),
		"vcenter-credentials": "username = svc-ovsgw\npassword = pa55 word\n",
		"vcenter-ca.pem":      "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := LoadConfig(filepath.Join(dir, "vcenter.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "vc1" || c.URL.String() != "https://vcenter.example.com/sdk" || c.Username != "svc-ovsgw" || c.Password != "pa55 word" ||
		c.CACert != filepath.Join(dir, "vcenter-ca.pem") || c.Insecure || c.Thumbprint != "" || c.DVS != "dvs-gateways" ||
		len(c.Uplinks) != 2 || c.Uplinks[1] != (Uplink{"gw2", "eth1"}) || c.VLANMin != 100 || c.VLANMax != 3999 ||
		c.Networks["VM Network"] != "blue" || c.Networks["db-net"] != "red" || c.NetworkPrefix != "ovsgw-" || c.MaxInterfaces != 4352 {
		t.Errorf("%+v", c)
	}
	for pg, want := range map[string]string{"VM Network": "blue", "ovsgw-green": "green", "ovsgw-": "", "other": ""} {
		if got, ok := c.Network(pg); got != want || ok != (want != "") {
			t.Errorf("port group %q → %q %v, want %q", pg, got, ok, want)
		}
	}
}

func TestLoadConfigErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vc.conf")
	t.Setenv(EnvUsername, "")
	t.Setenv(EnvPassword, "")
	ini := `[VCENTER]
name = vc 1
url = https://admin:pw@vcenter.example.com/sdk
insecure = true
thumbprint = 12:34
dvs =
uplinks = gw1:eth1,gw1:eth2,gw3
vlans = 300-200
networks = pg-a,pg-b:b,pg-b:c
network_prefix = a/b
max_interfaces = -1
colour = blue
`
	if err := os.WriteFile(path, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(path)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`[VCENTER] colour: unknown key`,
		`[VCENTER] name: "vc 1" must be at most 32 printable characters`,
		`[VCENTER] url: holds credentials`,
		`[VCENTER] thumbprint: "12:34" is not a SHA-256 or SHA-1 thumbprint`,
		`[VCENTER] insecure: true beside ca_cert or thumbprint`,
		`[VCENTER] credentials: missing: name a credentials file, or set OVSGW_VCENTER_USERNAME and OVSGW_VCENTER_PASSWORD`,
		`[VCENTER] dvs: missing`,
		`[VCENTER] uplinks: gateway node gw1 is given twice`,
		`[VCENTER] uplinks: "gw3" is not ROUTER:INTERFACE`,
		`[VCENTER] vlans: "300-200" is not a range MIN-MAX within 1-4094`,
		`[VCENTER] networks: "pg-a" is not PORTGROUP:VN`,
		`[VCENTER] networks: port group pg-b is mapped twice`,
		`[VCENTER] network_prefix: "a/b" holds a space, a comma, '=' or '/'`,
		`[VCENTER] max_interfaces: "-1" is not a positive integer`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	// Credentials from the environment.
	t.Setenv(EnvUsername, "svc")
	t.Setenv(EnvPassword, "pw")
	ok := "[VCENTER]\nname = vc1\nurl = https://vc/sdk\ndvs = d\nuplinks = gw1:eth1\nvlans = 10-20\nnetwork_prefix = ovsgw-\n"
	if err := os.WriteFile(path, []byte(ok), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil || c.Username != "svc" || c.Password != "pw" {
		t.Fatalf("%+v %v", c, err)
	}
}

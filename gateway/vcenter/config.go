package vcenter

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/ini.v1"

	"github.com/ovsgw/ovsgw/gateway/agentconf"
	"github.com/ovsgw/ovsgw/gateway/model"
)

// Section is the INI section of the sync's settings.
const Section = agentconf.VCenterSection

// The environment variables the credentials come from when no credentials file is given.
const (
	EnvUsername = "OVSGW_VCENTER_USERNAME"
	EnvPassword = "OVSGW_VCENTER_PASSWORD"
)

// maxNameLen bounds the sync's name: it starts every generated row's name, followed by a
// 36-character instance UUID and a device key, within the model's 128 bytes.
const maxNameLen = 32

// Config is the sync's settings, from the [VCENTER] section of its INI file.
type Config struct {
	Name     string // marks and prefixes the rows it generates
	URL      *url.URL
	Username string
	Password string
	// CACert is a PEM file of the CAs vCenter's certificate must be signed by; Thumbprint
	// pins its certificate instead (SHA-256 or SHA-1, hex pairs separated by colons).
	// Insecure verifies nothing (refused without being asked, logged loudly when used).
	CACert, Thumbprint string
	Insecure           bool
	DVS                string
	Uplinks            []Uplink
	VLANMin, VLANMax   int
	// Networks maps port group names to VN names; NetworkPrefix maps a port group named
	// PREFIX+VN to VN. A name in Networks wins over the prefix.
	Networks      map[string]string
	NetworkPrefix string
	MaxInterfaces int
}

// Owner is the external_ids:owner value of the rows the sync generates.
func (c *Config) Owner() string { return "vcenter:" + c.Name }

// Params are the settings Reconcile needs.
func (c *Config) Params() Params {
	return Params{Owner: c.Owner(), Prefix: c.Name + "-", Uplinks: c.Uplinks, VLANMin: c.VLANMin, VLANMax: c.VLANMax,
		Network: c.Network, MaxInterfaces: c.MaxInterfaces}
}

// Network is the VN the port group pg maps to.
func (c *Config) Network(pg string) (string, bool) {
	if vn, ok := c.Networks[pg]; ok {
		return vn, true
	}
	if c.NetworkPrefix != "" && strings.HasPrefix(pg, c.NetworkPrefix) && len(pg) > len(c.NetworkPrefix) {
		return pg[len(c.NetworkPrefix):], true
	}
	return "", false
}

var thumbprintRE = regexp.MustCompile(`^([0-9A-F]{2}:){19}[0-9A-F]{2}$|^([0-9A-F]{2}:){31}[0-9A-F]{2}$`)

// LoadConfig reads the [VCENTER] section of the INI file path. Every error
// names the key; relative paths are taken from the file's directory. The
// credentials come from the file the credentials key names ("username = ...",
// "password = ..."), else from OVSGW_VCENTER_USERNAME and OVSGW_VCENTER_PASSWORD:
// never from the command line, where any user could read them.
func LoadConfig(path string) (*Config, error) {
	f, err := ini.Load(path)
	if err != nil {
		return nil, fmt.Errorf("vCenter sync config %s: %w", path, err)
	}
	sec, err := f.GetSection(Section)
	if err != nil {
		return nil, fmt.Errorf("vCenter sync config %s: no [%s] section", path, Section)
	}
	get := func(k string) string { return strings.TrimSpace(sec.Key(k).String()) }
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(filepath.Dir(path), p)
	}
	c := &Config{Name: get(agentconf.VCenterName), CACert: rel(get(agentconf.VCenterCACert)), Thumbprint: strings.ToUpper(get(agentconf.VCenterThumbprint)),
		DVS: get(agentconf.VCenterDVS), NetworkPrefix: get(agentconf.VCenterNetworkPrefix), MaxInterfaces: model.DefaultMaxInterfaces}
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("[%s] %s: %s", Section, key, fmt.Sprintf(format, args...)))
	}
	known := map[string]bool{}
	for _, k := range agentconf.VCenterKeys {
		known[k] = true
	}
	for _, k := range sec.KeyStrings() {
		if !known[k] {
			bad(k, "unknown key")
		}
	}
	switch {
	case c.Name == "":
		bad(agentconf.VCenterName, "missing: the sync's name marks the rows it writes")
	case len(c.Name) > maxNameLen || !model.ValidName(c.Name):
		bad(agentconf.VCenterName, "%q must be at most %d printable characters without spaces, commas, '=' or '/'", c.Name, maxNameLen)
	}
	if u, err := url.Parse(get(agentconf.VCenterURL)); err != nil || u.Scheme != "https" || u.Host == "" {
		bad(agentconf.VCenterURL, "%q is not an https:// URL of vCenter's SDK (https://HOST/sdk)", get(agentconf.VCenterURL))
	} else if u.User != nil {
		bad(agentconf.VCenterURL, "holds credentials: give them in the credentials file or the environment")
	} else {
		if u.Path == "" {
			u.Path = "/sdk"
		}
		c.URL = u
	}
	if v := get(agentconf.VCenterInsecure); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			bad(agentconf.VCenterInsecure, "%q is not true or false", v)
		}
		c.Insecure = on
	}
	if c.Thumbprint != "" && !thumbprintRE.MatchString(c.Thumbprint) {
		bad(agentconf.VCenterThumbprint, "%q is not a SHA-256 or SHA-1 thumbprint (hex pairs separated by colons)", c.Thumbprint)
	}
	if c.Insecure && (c.CACert != "" || c.Thumbprint != "") {
		bad(agentconf.VCenterInsecure, "true beside ca_cert or thumbprint: say how to verify vCenter, or that nothing is verified, not both")
	}
	if c.CACert != "" {
		if st, err := os.Stat(c.CACert); err != nil || !st.Mode().IsRegular() {
			bad(agentconf.VCenterCACert, "%s is not a readable regular file", c.CACert)
		}
	}
	if cred := rel(get(agentconf.VCenterCredentials)); cred != "" {
		u, p, err := readCredentials(cred)
		if err != nil {
			bad(agentconf.VCenterCredentials, "%v", err)
		}
		c.Username, c.Password = u, p
	} else {
		c.Username, c.Password = os.Getenv(EnvUsername), os.Getenv(EnvPassword)
		if c.Username == "" || c.Password == "" {
			bad(agentconf.VCenterCredentials, "missing: name a credentials file, or set %s and %s", EnvUsername, EnvPassword)
		}
	}
	if c.DVS == "" {
		bad(agentconf.VCenterDVS, "missing: the distributed switch whose VMs the sync maps")
	}
	c.Uplinks = parseUplinks(get(agentconf.VCenterUplinks), bad)
	c.VLANMin, c.VLANMax = parseVLANs(get(agentconf.VCenterVLANs), bad)
	c.Networks = parseNetworks(get(agentconf.VCenterNetworks), bad)
	if len(c.Networks) == 0 && c.NetworkPrefix == "" {
		bad(agentconf.VCenterNetworks, "neither networks nor network_prefix is given: no port group would map to a VN")
	}
	if c.NetworkPrefix != "" && !model.ValidName(c.NetworkPrefix) {
		bad(agentconf.VCenterNetworkPrefix, "%q holds a space, a comma, '=' or '/'", c.NetworkPrefix)
	}
	if v := get(agentconf.VCenterMaxInterfaces); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			bad(agentconf.VCenterMaxInterfaces, "%q is not a positive integer", v)
		}
		c.MaxInterfaces = n
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("vCenter sync config %s: %w", path, err)
	}
	return c, nil
}

// parseUplinks reads "router:interface,router:interface": one interface per gateway node (a
// VMI has at most one logical interface per node).
func parseUplinks(v string, bad func(string, string, ...any)) []Uplink {
	if v == "" {
		bad(agentconf.VCenterUplinks, "missing: the gateway nodes' physical interfaces the DVS's uplinks reach (gw1:eth1,gw2:eth1)")
		return nil
	}
	var out []Uplink
	seen := map[string]bool{}
	for _, item := range strings.Split(v, ",") {
		r, i, ok := strings.Cut(strings.TrimSpace(item), ":")
		switch {
		case !ok || r == "" || i == "" || !model.ValidName(r) || len(i) > 15 || !model.ValidName(i):
			bad(agentconf.VCenterUplinks, "%q is not ROUTER:INTERFACE (an interface name of at most 15 characters)", item)
		case seen[r]:
			bad(agentconf.VCenterUplinks, "gateway node %s is given twice: a VMI has one logical interface per node", r)
		default:
			seen[r] = true
			out = append(out, Uplink{Router: r, Interface: i})
		}
	}
	return out
}

// parseVLANs reads "MIN-MAX" within 1..4094 (VLAN 0 is the HA group's BPDU interface).
func parseVLANs(v string, bad func(string, string, ...any)) (int, int) {
	lo, hi, ok := strings.Cut(v, "-")
	a, errA := strconv.Atoi(strings.TrimSpace(lo))
	b, errB := strconv.Atoi(strings.TrimSpace(hi))
	if !ok || errA != nil || errB != nil || a < 1 || b > 4094 || a > b {
		bad(agentconf.VCenterVLANs, "%q is not a range MIN-MAX within 1-4094", v)
		return 0, 0
	}
	return a, b
}

// parseNetworks reads "portgroup:vn,portgroup:vn".
func parseNetworks(v string, bad func(string, string, ...any)) map[string]string {
	if v == "" {
		return nil
	}
	out := map[string]string{}
	for _, item := range strings.Split(v, ",") {
		pg, vn, ok := strings.Cut(strings.TrimSpace(item), ":")
		switch {
		case !ok || pg == "" || vn == "" || !model.ValidName(vn):
			bad(agentconf.VCenterNetworks, "%q is not PORTGROUP:VN", item)
		case out[pg] != "":
			bad(agentconf.VCenterNetworks, "port group %s is mapped twice", pg)
		default:
			out[pg] = vn
		}
	}
	return out
}

// readCredentials reads "username = ..." and "password = ..." from path.
func readCredentials(path string) (string, string, error) {
	f, err := ini.Load(path)
	if err != nil {
		return "", "", fmt.Errorf("read %s: %w", path, err)
	}
	s := f.Section(ini.DefaultSection)
	u, p := s.Key("username").String(), s.Key("password").String()
	if u == "" || p == "" {
		return "", "", fmt.Errorf("%s must hold username = ... and password = ...", path)
	}
	return u, p, nil
}

package agentconf

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/ini.v1"

	"github.com/ovsgw/ovsgw/gateway/model"
)

// GatewayModeServer is the only gateway_mode value that turns gateway mode on, as in Contrail.
const GatewayModeServer = "server"

// Defaults for keys an operator may leave out.
const (
	DefaultOVSDB         = "unix:/var/run/openvswitch/db.sock" // Debian's ovsdb-server socket
	DefaultBridge        = "br-ovsgw"
	DefaultDatapathType  = "netdev"
	DefaultControlSocket = "/var/run/ovsgw/ovsgw.sock"
)

// Config is the agent's configuration after defaults are applied.
type Config struct {
	Path           string // the file it was read from
	GatewayMode    string // "" or "server"
	Hostname       string
	MaxInterfaces  int
	ControlSocket  string
	OVSDB          string
	Bridge         string
	DatapathType   string
	OpenFlow       string   // "unix:PATH" or "tcp:HOST:PORT"
	VswitchdCtl    string   // ovs-vswitchd's control socket; "" = found in RunDir when needed
	RunDir         string   // Open vSwitch's run directory, when OVSDB is a unix socket
	ConfigFile     string   // the gateway YAML, when the config comes from a file
	ConfigDB       []string // config DB endpoints (all cluster members), when it comes from there
	TunnelIP       string   // this node's overlay (VXLAN) address; "" = no overlay
	LogLevel       string
	ResyncInterval int // seconds between full resyncs against the switch
}

// GatewayEnabled reports whether this node programs remote instances.
func (c *Config) GatewayEnabled() bool { return c.GatewayMode == GatewayModeServer }

// known lists every key ovsgw reads, per section, so that a misspelt key is an error rather
// than a silently ignored line.
var known = map[string][]string{
	ini.DefaultSection: {"gateway_mode", "hostname", "max_interfaces", "control_socket", "log_level", "resync_interval"},
	"OVS":              {"ovsdb", "bridge", "datapath_type", "openflow", "vswitchd_ctl"},
	"CONFIG":           {"file", "source"},
	"OVERLAY":          {"tunnel_ip"},
}

// configDBPrefix starts a [CONFIG] source that names the shared config DB.
const configDBPrefix = "ovsdb:"

// DefaultResyncInterval is how often (seconds) the agent re-reads the switch's flows to undo
// changes made behind its back; a dump of 10K flows costs tens of milliseconds.
const DefaultResyncInterval = 30

// maxResyncInterval bounds resync_interval (a day, in seconds), well inside a time.Duration.
const maxResyncInterval = 86400

// Load reads and checks an agent config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.Path = path
	if c.ConfigFile != "" && !filepath.IsAbs(c.ConfigFile) {
		c.ConfigFile = filepath.Join(filepath.Dir(path), c.ConfigFile)
	}
	return c, nil
}

// Parse checks an agent config's text and applies defaults.
func Parse(data []byte) (*Config, error) {
	f, err := ini.LoadSources(ini.LoadOptions{Insensitive: false, AllowBooleanKeys: false}, data)
	if err != nil {
		return nil, fmt.Errorf("not an INI file: %w", err)
	}
	var errs model.Errors
	bad := func(section, key, format string, args ...any) {
		errs = append(errs, model.FieldError{Object: "[" + section + "]", Field: key, Reason: fmt.Sprintf(format, args...)})
	}
	for _, s := range f.Sections() {
		keys, ok := known[s.Name()]
		if !ok {
			if len(s.Keys()) > 0 {
				bad(s.Name(), "", "unknown section (known: DEFAULT, OVS, CONFIG, OVERLAY)")
			}
			continue
		}
		for _, k := range s.Keys() {
			if !contains(keys, k.Name()) {
				bad(s.Name(), k.Name(), "unknown key (known here: %s)", strings.Join(keys, ", "))
			}
		}
	}
	get := func(section, key, def string) string {
		if v := strings.TrimSpace(f.Section(section).Key(key).String()); v != "" {
			return v
		}
		return def
	}
	c := &Config{
		GatewayMode:   get(ini.DefaultSection, "gateway_mode", ""),
		Hostname:      get(ini.DefaultSection, "hostname", ""),
		ControlSocket: get(ini.DefaultSection, "control_socket", DefaultControlSocket),
		LogLevel:      get(ini.DefaultSection, "log_level", "info"),
		OVSDB:         get("OVS", "ovsdb", DefaultOVSDB),
		Bridge:        get("OVS", "bridge", DefaultBridge),
		DatapathType:  get("OVS", "datapath_type", DefaultDatapathType),
		OpenFlow:      get("OVS", "openflow", ""),
		VswitchdCtl:   get("OVS", "vswitchd_ctl", ""),
		ConfigFile:    get("CONFIG", "file", ""),
		TunnelIP:      get("OVERLAY", "tunnel_ip", ""),
	}
	switch source := get("CONFIG", "source", "file"); {
	case source == "file":
	case strings.HasPrefix(source, configDBPrefix):
		for _, ep := range strings.Split(strings.TrimPrefix(source, configDBPrefix), ",") {
			ep = strings.TrimSpace(ep)
			if !strings.HasPrefix(ep, "tcp:") && !strings.HasPrefix(ep, "unix:") && !strings.HasPrefix(ep, "ssl:") {
				bad("CONFIG", "source", "%q: each endpoint must be tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH", ep)
			}
			c.ConfigDB = append(c.ConfigDB, ep)
		}
	default:
		bad("CONFIG", "source", "%q: want file, or %sENDPOINT[,ENDPOINT...] listing every config DB cluster member", source, configDBPrefix)
	}
	if c.TunnelIP != "" {
		if a, err := netip.ParseAddr(c.TunnelIP); err != nil || !a.Is4() {
			bad("OVERLAY", "tunnel_ip", "%q is not an IPv4 address", c.TunnelIP)
		}
	}
	if c.GatewayMode != "" && c.GatewayMode != GatewayModeServer && c.GatewayMode != "none" {
		bad("DEFAULT", "gateway_mode", "%q is not a gateway mode (use %q to enable it, or leave it out)", c.GatewayMode, GatewayModeServer)
	}
	if c.Hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			bad("DEFAULT", "hostname", "not set and the OS host name is unknown: %v", err)
		}
		c.Hostname = h
	}
	c.MaxInterfaces = positive(get(ini.DefaultSection, "max_interfaces", strconv.Itoa(model.DefaultMaxInterfaces)), "DEFAULT", "max_interfaces", bad)
	c.ResyncInterval = positive(get(ini.DefaultSection, "resync_interval", strconv.Itoa(DefaultResyncInterval)), "DEFAULT", "resync_interval", bad)
	if c.ResyncInterval > maxResyncInterval {
		bad("DEFAULT", "resync_interval", "%d seconds is more than a day (%d): a resync that rare repairs nothing", c.ResyncInterval, maxResyncInterval)
	}
	if !strings.HasPrefix(c.OVSDB, "unix:") && !strings.HasPrefix(c.OVSDB, "tcp:") {
		bad("OVS", "ovsdb", "%q: want unix:PATH or tcp:HOST:PORT", c.OVSDB)
	}
	if strings.HasPrefix(c.OVSDB, "unix:") {
		c.RunDir = filepath.Dir(strings.TrimPrefix(c.OVSDB, "unix:"))
	}
	if c.OpenFlow == "" {
		if strings.HasPrefix(c.OVSDB, "unix:") {
			// ovs-vswitchd puts BRIDGE.mgmt in its run directory, beside db.sock.
			c.OpenFlow = "unix:" + filepath.Join(filepath.Dir(strings.TrimPrefix(c.OVSDB, "unix:")), c.Bridge+".mgmt")
		} else {
			bad("OVS", "openflow", "required when ovsdb is not a unix socket (the bridge's management socket cannot be derived)")
		}
	} else if !strings.HasPrefix(c.OpenFlow, "unix:") && !strings.HasPrefix(c.OpenFlow, "tcp:") {
		bad("OVS", "openflow", "%q: want unix:PATH or tcp:HOST:PORT", c.OpenFlow)
	}
	if c.DatapathType != "netdev" && c.DatapathType != "system" {
		bad("OVS", "datapath_type", "%q: want netdev or system", c.DatapathType)
	}
	if c.ConfigFile == "" && c.ConfigDB == nil {
		bad("CONFIG", "file", "missing: the gateway config YAML to serve (or source = %s...)", configDBPrefix)
	}
	switch c.LogLevel {
	case "debug", "info", "warning", "error":
	default:
		bad("DEFAULT", "log_level", "%q: want debug, info, warning or error", c.LogLevel)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

func positive(s, section, key string, bad func(section, key, format string, args ...any)) int {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		bad(section, key, "%q: want a whole number above 0", s)
		return 0
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

package agentconf

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/ini.v1"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/logging"
	"github.com/ovsgw/ovsgw/ovsdb/ovstls"
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
	MaxFlows       int // the node's flow budget, checked when a config is put in force
	ControlSocket  string
	OVSDB          string
	Bridge         string
	DatapathType   string
	OpenFlow       string   // "unix:PATH" or "tcp:HOST:PORT"
	VswitchdCtl    string   // ovs-vswitchd's control socket; "" = found in RunDir when needed
	RunDir         string   // Open vSwitch's run directory, when OVSDB is a unix socket
	ConfigFile     string   // the gateway YAML, when the config comes from files: a file, or a directory whose *.yaml files are merged (package filesource)
	ConfigDB       []string // config DB endpoints (all cluster members), when it comes from there
	TunnelIP       string   // this node's overlay (VXLAN) address; "" = no overlay
	LogLevel       string
	LogFormat      string // logging.FormatText or logging.FormatJSON
	ResyncInterval int    // seconds between full resyncs against the switch

	// MetricsAddress is where Prometheus metrics are served (host:port); "" = not served.
	MetricsAddress string
	// MetricsPerVMI: per-VMI series (traffic and drops) besides the node's totals.
	MetricsPerVMI bool
	// MetricsInterval is how often (seconds) the switch's counters are read for the metrics.
	MetricsInterval int
	// HARapid: a gateway of an HA group answers the switch's RSTP proposals and withdraws the
	// switch's information it carried when its link fails (sub-second failover); without it
	// the gateway only watches the BPDUs and the switch's own timers move the traffic.
	HARapid bool

	// ConfigDBTLS are the files of ssl: config DB endpoints (relative paths taken from the
	// agent config file's directory) and the members' pinned common names; empty without ssl:.
	ConfigDBTLS ovstls.Files
}

// GatewayEnabled reports whether this node programs remote instances.
func (c *Config) GatewayEnabled() bool { return c.GatewayMode == GatewayModeServer }

// known lists every key ovsgw reads, per section, so that a misspelt key is an error rather
// than a silently ignored line.
var known = map[string][]string{
	ini.DefaultSection: {"gateway_mode", "hostname", "max_interfaces", "max_flows", "control_socket", "log_level", "log_format", "resync_interval", "ha_rapid",
		keyMetricsAddress, keyMetricsPerVMI, keyMetricsInterval},
	"OVS":     {"ovsdb", "bridge", "datapath_type", "openflow", "vswitchd_ctl"},
	"CONFIG":  {"file", "source", keySSLPrivateKey, keySSLCertificate, keySSLCACert, keySSLPeerCommonName},
	"OVERLAY": {"tunnel_ip"},
}

// configDBPrefix starts a [CONFIG] source that names the shared config DB.
const configDBPrefix = "ovsdb:"

// The [CONFIG] keys of TLS to the config DB, named as the Tor_Switch columns are.
const (
	keySSLPrivateKey     = "ssl_private_key"
	keySSLCertificate    = "ssl_certificate"
	keySSLCACert         = "ssl_ca_cert"
	keySSLPeerCommonName = "ssl_peer_common_name"
)

// tlsKeys names each TLS setting by its [CONFIG] key.
var tlsKeys = map[ovstls.Setting]string{
	ovstls.Endpoints:       "source",
	ovstls.PrivateKey:      keySSLPrivateKey,
	ovstls.Certificate:     keySSLCertificate,
	ovstls.CACert:          keySSLCACert,
	ovstls.PeerCommonNames: keySSLPeerCommonName,
}

// The [DEFAULT] keys of the metrics endpoint.
const (
	keyMetricsAddress  = "metrics_address"
	keyMetricsPerVMI   = "metrics_per_vmi"
	keyMetricsInterval = "metrics_interval"
)

// DefaultMetricsInterval is how often (seconds) the agent reads the switch's counters for its
// metrics when metrics_address is set: Prometheus's customary scrape interval, so that each
// scrape sees fresh counters. A read costs a dump of ovsgw's drop flows and, with per-VMI
// series, of each bound VMI's classify and output flows (3 per VMI): a few thousand flow stats
// at 2K instances, milliseconds of the switch's time.
const DefaultMetricsInterval = 15

// DefaultResyncInterval is how often (seconds) the agent re-reads the switch's flows to undo
// changes made behind its back. Changes are tracked between resyncs, so this is only the
// repair of foreign edits; a dump of 100K flows (4K instances) costs about 0.4 s of CPU, 0.3 %
// of a core at this interval.
const DefaultResyncInterval = 120

// maxResyncInterval bounds resync_interval (a day, in seconds), well inside a time.Duration.
const maxResyncInterval = 86400

// Load reads and checks an agent config file. A relative [CONFIG] file (a YAML file or a
// directory of them) is taken relative to the agent config file's directory.
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
	for _, p := range []*string{&c.ConfigFile, &c.ConfigDBTLS.PrivateKey, &c.ConfigDBTLS.Certificate, &c.ConfigDBTLS.CACert} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(filepath.Dir(path), *p)
		}
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
		LogFormat:     get(ini.DefaultSection, "log_format", logging.FormatText),
		OVSDB:         get("OVS", "ovsdb", DefaultOVSDB),
		Bridge:        get("OVS", "bridge", DefaultBridge),
		DatapathType:  get("OVS", "datapath_type", DefaultDatapathType),
		OpenFlow:      get("OVS", "openflow", ""),
		VswitchdCtl:   get("OVS", "vswitchd_ctl", ""),
		ConfigFile:    get("CONFIG", "file", ""),
		TunnelIP:      get("OVERLAY", "tunnel_ip", ""),
		ConfigDBTLS: ovstls.Files{PrivateKey: get("CONFIG", keySSLPrivateKey, ""), Certificate: get("CONFIG", keySSLCertificate, ""),
			CACert: get("CONFIG", keySSLCACert, ""), PeerCommonNames: ovstls.ParseCommonNames(get("CONFIG", keySSLPeerCommonName, ""))},
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
	for _, p := range ovstls.CheckSetup(c.ConfigDB, c.ConfigDBTLS) {
		bad("CONFIG", tlsKeys[p.Setting], "%s", p.Reason)
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
	c.MaxFlows = positive(get(ini.DefaultSection, "max_flows", strconv.Itoa(model.DefaultMaxFlows)), "DEFAULT", "max_flows", bad)
	c.ResyncInterval = positive(get(ini.DefaultSection, "resync_interval", strconv.Itoa(DefaultResyncInterval)), "DEFAULT", "resync_interval", bad)
	switch v := get(ini.DefaultSection, "ha_rapid", "true"); v {
	case "true":
		c.HARapid = true
	case "false":
	default:
		bad("DEFAULT", "ha_rapid", "%q is not true or false", v)
	}
	if c.ResyncInterval > maxResyncInterval {
		bad("DEFAULT", "resync_interval", "%d seconds is more than a day (%d): a resync that rare repairs nothing", c.ResyncInterval, maxResyncInterval)
	}
	c.MetricsAddress = get(ini.DefaultSection, keyMetricsAddress, "")
	if c.MetricsAddress != "" {
		if err := checkListenAddress(c.MetricsAddress); err != nil {
			bad("DEFAULT", keyMetricsAddress, "%q: %v", c.MetricsAddress, err)
		}
	}
	switch v := get(ini.DefaultSection, keyMetricsPerVMI, "true"); v {
	case "true":
		c.MetricsPerVMI = true
	case "false":
	default:
		bad("DEFAULT", keyMetricsPerVMI, "%q: want true or false", v)
	}
	c.MetricsInterval = positive(get(ini.DefaultSection, keyMetricsInterval, strconv.Itoa(DefaultMetricsInterval)), "DEFAULT", keyMetricsInterval, bad)
	if c.MetricsInterval > maxResyncInterval {
		bad("DEFAULT", keyMetricsInterval, "%d seconds is more than a day (%d)", c.MetricsInterval, maxResyncInterval)
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
		bad("CONFIG", "file", "missing: the gateway config to serve, a YAML file or a directory of *.yaml files (or source = %s...)", configDBPrefix)
	}
	switch c.LogLevel {
	case "debug", "info", "warning", "error":
	default:
		bad("DEFAULT", "log_level", "%q: want debug, info, warning or error", c.LogLevel)
	}
	if !slices.Contains(logging.Formats, c.LogFormat) {
		bad("DEFAULT", "log_format", "%q: want %s", c.LogFormat, strings.Join(logging.Formats, " or "))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// checkListenAddress checks a host:port to listen on: the host an IP address, a name, or
// empty (every address of the node), the port a number 1..65535.
func checkListenAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want HOST:PORT, such as 127.0.0.1:9476 (%v)", err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not a number 1..65535", port)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("host %q is not an address or a name", host)
	}
	return nil
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

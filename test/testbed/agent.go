package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ovsgw/ovsgw/ovsdb/ovstls"
)

// AgentOptions configure an ovsgw agent on a node.
type AgentOptions struct {
	Hostname      string // the node's physical router name
	Bridge        string // default "br-int"
	GatewayMode   bool
	MaxInterfaces int    // 0: the agent's default
	MaxFlows      int    // 0: the agent's default
	TunnelIP      string // [OVERLAY] tunnel_ip; "" = no overlay
	ConfigDB      string // config DB endpoints, comma-separated: the config comes from there
	// ConfigDBTLS are the [CONFIG] ssl_* settings of ssl: ConfigDB endpoints.
	ConfigDBTLS ovstls.Files
	// ConfigDir serves the config from a directory of YAML files (`[CONFIG] file = DIR`):
	// Agent.ConfigDir, where the YAML given to NewAgent or PrepareAgent, unless empty, is
	// gateway.yaml.
	ConfigDir bool
	// MetricsAddress is [DEFAULT] metrics_address (in the node's namespace); "" = no metrics.
	MetricsAddress string
	// MetricsInterval is [DEFAULT] metrics_interval in seconds; 0: the agent's default.
	MetricsInterval int
}

// Agent is an ovsgw agent process running inside a node's namespace, beside its OVS, with its
// INI config, gateway YAML, control socket and log in a directory of its own.
type Agent struct {
	Node      *Node
	Bin       string
	Dir       string
	Conf      string // agent INI path
	YAML      string // gateway config path (in ConfigDir, when the config is a directory)
	ConfigDir string // the directory of gateway YAML files (AgentOptions.ConfigDir), else ""
	Socket    string // control socket path
	Log       string
	Bridge    string
	Proc      *Proc

	owner T // the test that made the agent: its cleanup stops every incarnation
}

// NewAgent writes the agent's config and the gateway YAML, and starts the agent. It waits until
// the control socket answers; it does not wait for flows.
func NewAgent(t T, bin string, node *Node, opts AgentOptions, yaml string) *Agent {
	t.Helper()
	a := PrepareAgent(t, bin, node, opts, yaml)
	a.Start(t)
	return a
}

// PrepareAgent writes the agent's config and the gateway YAML without starting the agent.
func PrepareAgent(t T, bin string, node *Node, opts AgentOptions, yaml string) *Agent {
	t.Helper()
	dir, err := os.MkdirTemp("", "ovsgw-agent-")
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if opts.Bridge == "" {
		opts.Bridge = "br-int"
	}
	a := &Agent{Node: node, Bin: bin, Dir: dir, Conf: filepath.Join(dir, "agent.conf"), YAML: filepath.Join(dir, "gateway.yaml"),
		Socket: filepath.Join(dir, "ovsgw.sock"), Log: filepath.Join(dir, "agent.log"), Bridge: opts.Bridge, owner: t}
	configPath := a.YAML
	if opts.ConfigDir {
		a.ConfigDir = filepath.Join(dir, "gateway.d")
		if err := os.Mkdir(a.ConfigDir, 0o755); err != nil {
			t.Fatalf("testbed: %v", err)
		}
		a.YAML, configPath = filepath.Join(a.ConfigDir, "gateway.yaml"), a.ConfigDir
	}
	var b strings.Builder
	if opts.GatewayMode {
		b.WriteString("gateway_mode = server\n")
	}
	fmt.Fprintf(&b, "hostname = %s\ncontrol_socket = %s\nlog_level = info\n", opts.Hostname, a.Socket)
	if opts.MaxInterfaces > 0 {
		fmt.Fprintf(&b, "max_interfaces = %d\n", opts.MaxInterfaces)
	}
	if opts.MaxFlows > 0 {
		fmt.Fprintf(&b, "max_flows = %d\n", opts.MaxFlows)
	}
	if opts.MetricsAddress != "" {
		fmt.Fprintf(&b, "metrics_address = %s\n", opts.MetricsAddress)
	}
	if opts.MetricsInterval > 0 {
		fmt.Fprintf(&b, "metrics_interval = %d\n", opts.MetricsInterval)
	}
	fmt.Fprintf(&b, "[OVS]\novsdb = %s\nbridge = %s\ndatapath_type = netdev\nvswitchd_ctl = %s\n",
		node.DBSocket(), opts.Bridge, node.VswitchdCtl())
	if opts.ConfigDB != "" {
		fmt.Fprintf(&b, "[CONFIG]\nsource = ovsdb:%s\n", opts.ConfigDB)
		if f := opts.ConfigDBTLS; f.Given() {
			fmt.Fprintf(&b, "ssl_private_key = %s\nssl_certificate = %s\nssl_ca_cert = %s\n", f.PrivateKey, f.Certificate, f.CACert)
			if len(f.PeerCommonNames) > 0 {
				fmt.Fprintf(&b, "ssl_peer_common_name = %s\n", strings.Join(f.PeerCommonNames, ","))
			}
		}
	} else {
		fmt.Fprintf(&b, "[CONFIG]\nfile = %s\n", configPath)
	}
	if opts.TunnelIP != "" {
		fmt.Fprintf(&b, "[OVERLAY]\ntunnel_ip = %s\n", opts.TunnelIP)
	}
	if err := os.WriteFile(a.Conf, []byte(b.String()), 0o644); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	if yaml != "" || !opts.ConfigDir {
		a.WriteConfig(t, yaml)
	}
	t.Cleanup(func() {
		if data, err := os.ReadFile(a.Log); err == nil && failed(t) {
			t.Logf("agent log of %s:\n%s", node.Name, tail(string(data), 60))
		}
	})
	return a
}

// failed reports whether t is a failed test, when t can tell.
func failed(t T) bool {
	if f, ok := t.(interface{ Failed() bool }); ok {
		return f.Failed()
	}
	return false
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WriteConfig replaces the gateway YAML atomically (the agent notices within a second).
func (a *Agent) WriteConfig(t T, yaml string) {
	t.Helper()
	tmp := a.YAML + ".tmp"
	if err := os.WriteFile(tmp, []byte(yaml), 0o644); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	if err := os.Rename(tmp, a.YAML); err != nil {
		t.Fatalf("testbed: %v", err)
	}
}

// WriteConfigFile writes the file name of the config directory in place, as a tool that owns
// one file per object does: create or truncate, write, close. The agent reads a file only
// once its writer has closed it.
func (a *Agent) WriteConfigFile(t T, name, yaml string) {
	t.Helper()
	if a.ConfigDir == "" {
		t.Fatalf("testbed: agent on %s has no config directory", a.Node.Name)
	}
	if err := os.WriteFile(filepath.Join(a.ConfigDir, name), []byte(yaml), 0o644); err != nil {
		t.Fatalf("testbed: %v", err)
	}
}

// RemoveConfigFile removes the file name from the config directory.
func (a *Agent) RemoveConfigFile(t T, name string) {
	t.Helper()
	if a.ConfigDir == "" {
		t.Fatalf("testbed: agent on %s has no config directory", a.Node.Name)
	}
	if err := os.Remove(filepath.Join(a.ConfigDir, name)); err != nil {
		t.Fatalf("testbed: %v", err)
	}
}

// Start starts the agent process and waits for its control socket. The process is stopped when
// the test that created the agent ends, even if t is a subtest that restarts it.
func (a *Agent) Start(t T) {
	t.Helper()
	a.Launch(t)
	err := waitFor(15*time.Second, func() error {
		if done, werr := a.Proc.Exited(); done {
			return fmt.Errorf("agent exited: %v", werr)
		}
		// In database mode the socket answers while the agent waits for the database.
		out, err := a.CLI("status", "--no-bindings", "--no-counters")
		if err == nil && strings.Contains(out, "waiting:") {
			err = fmt.Errorf("still %s", out)
		}
		return err
	})
	if err != nil {
		data, _ := os.ReadFile(a.Log)
		t.Fatalf("testbed: agent on %s did not come up: %v\n%s", a.Node.Name, err, tail(string(data), 40))
	}
}

// Launch starts the agent process without waiting for it (Start waits); it is stopped when the
// test that created the agent ends.
func (a *Agent) Launch(t T) {
	t.Helper()
	p, err := startProc(a.Node.Name, a.Log, nil, []string{a.Bin, "agent", "--config", a.Conf})
	if err != nil {
		t.Fatalf("testbed: start agent on %s: %v", a.Node.Name, err)
	}
	a.Proc = p
	a.owner.Cleanup(func() {
		if err := p.Stop(); err != nil {
			a.owner.Logf("testbed: cleanup: %v", err)
		}
	})
}

// CLI runs an ovsgw subcommand against this agent's control socket (args first, then
// --socket) and returns its combined output.
func (a *Agent) CLI(args ...string) (string, error) {
	args = append(args, "--socket", a.Socket)
	out, err := exec.Command(a.Bin, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ovsgw %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// LogText returns the agent's log so far.
func (a *Agent) LogText() string {
	data, _ := os.ReadFile(a.Log)
	return string(data)
}

// AppendConf appends text to the agent's INI config.
func (a *Agent) AppendConf(t T, text string) {
	t.Helper()
	f, err := os.OpenFile(a.Conf, os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(text)
		f.Close()
	}
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
}

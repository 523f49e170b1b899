package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// AgentOptions configure an ovsgw agent on a node.
type AgentOptions struct {
	Hostname      string // the node's physical router name
	Bridge        string // default "br-int"
	GatewayMode   bool
	MaxInterfaces int    // 0: the agent's default
	TunnelIP      string // [OVERLAY] tunnel_ip; "" = no overlay
	ConfigDB      string // config DB endpoints, comma-separated: the config comes from there
}

// Agent is an ovsgw agent process running inside a node's namespace, beside its OVS, with its
// INI config, gateway YAML, control socket and log in a directory of its own.
type Agent struct {
	Node   *Node
	Bin    string
	Dir    string
	Conf   string // agent INI path
	YAML   string // gateway config path
	Socket string // control socket path
	Log    string
	Bridge string
	Proc   *Proc

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
	var b strings.Builder
	if opts.GatewayMode {
		b.WriteString("gateway_mode = server\n")
	}
	fmt.Fprintf(&b, "hostname = %s\ncontrol_socket = %s\nlog_level = info\n", opts.Hostname, a.Socket)
	if opts.MaxInterfaces > 0 {
		fmt.Fprintf(&b, "max_interfaces = %d\n", opts.MaxInterfaces)
	}
	fmt.Fprintf(&b, "[OVS]\novsdb = %s\nbridge = %s\ndatapath_type = netdev\nvswitchd_ctl = %s\n",
		node.DBSocket(), opts.Bridge, node.VswitchdCtl())
	if opts.ConfigDB != "" {
		fmt.Fprintf(&b, "[CONFIG]\nsource = ovsdb:%s\n", opts.ConfigDB)
	} else {
		fmt.Fprintf(&b, "[CONFIG]\nfile = %s\n", a.YAML)
	}
	if opts.TunnelIP != "" {
		fmt.Fprintf(&b, "[OVERLAY]\ntunnel_ip = %s\n", opts.TunnelIP)
	}
	if err := os.WriteFile(a.Conf, []byte(b.String()), 0o644); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	a.WriteConfig(t, yaml)
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

// Start starts the agent process and waits for its control socket. The process is stopped when
// the test that created the agent ends, even if t is a subtest that restarts it.
func (a *Agent) Start(t T) {
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
	err = waitFor(15*time.Second, func() error {
		if done, werr := a.Proc.Exited(); done {
			return fmt.Errorf("agent exited: %v", werr)
		}
		_, err := a.CLI("status")
		return err
	})
	if err != nil {
		data, _ := os.ReadFile(a.Log)
		t.Fatalf("testbed: agent on %s did not come up: %v\n%s", a.Node.Name, err, tail(string(data), 40))
	}
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

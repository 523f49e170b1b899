package testbed

import (
	"fmt"
	"time"
)

// NS is a network namespace created by [NewNS].
type NS struct {
	Name string
}

// NewNS creates a namespace named Prefix()+name (made unique within the
// process), brings its loopback up and deletes it at cleanup. Interfaces
// still in it, such as veth ends, go away with it.
func NewNS(t T, name string) *NS {
	t.Helper()
	Require(t)
	ns := &NS{Name: uniqueName(name)}
	if _, err := run(cmdTimeout, nil, bin("ip"), "netns", "add", ns.Name); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	t.Cleanup(func() {
		if _, err := run(cmdTimeout, nil, bin("ip"), "netns", "delete", ns.Name); err != nil {
			t.Logf("testbed: cleanup: %v", err)
		}
	})
	if _, err := ns.Exec("ip", "link", "set", "lo", "up"); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	return ns
}

func (n *NS) String() string { return n.Name }

// Exec runs a command inside the namespace and returns its combined output.
// The error includes the output. Commands are bounded by a generous
// timeout so a hung tool fails the test instead of stalling it.
func (n *NS) Exec(args ...string) (string, error) {
	return n.ExecTimeout(cmdTimeout, args...)
}

// ExecTimeout is Exec with an explicit time limit.
func (n *NS) ExecTimeout(timeout time.Duration, args ...string) (string, error) {
	return n.ExecInput("", timeout, args...)
}

// ExecInput is ExecTimeout with stdin fed from a string.
func (n *NS) ExecInput(stdin string, timeout time.Duration, args ...string) (string, error) {
	if len(args) == 0 {
		return "", fmt.Errorf("%s: no command", n.Name)
	}
	full := append([]string{"netns", "exec", n.Name, bin(args[0])}, args[1:]...)
	out, err := runInput(stdin, timeout, nil, bin("ip"), full...)
	if err != nil {
		return out, fmt.Errorf("in %s: %w", n.Name, err)
	}
	return out, nil
}

// MustExec is Exec that fails the test on error.
func (n *NS) MustExec(t T, args ...string) string {
	t.Helper()
	out, err := n.Exec(args...)
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	return out
}

// Start runs a background process inside the namespace, appending its
// stdout and stderr to logPath ("" discards them), with env added to the
// environment. It is stopped at cleanup.
func (n *NS) Start(t T, logPath string, env []string, args ...string) *Proc {
	t.Helper()
	if len(args) > 0 {
		args = append([]string{bin(args[0])}, args[1:]...)
	}
	p, err := startProc(n.Name, logPath, env, args)
	if err != nil {
		t.Fatalf("testbed: in %s: %v", n.Name, err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Logf("testbed: cleanup: %v", err)
		}
	})
	return p
}

// Link creates a veth pair with aIf in a and bIf in b, both up. The pair is
// created from inside a with its peer sent straight to b, so neither end
// ever appears in the root namespace.
//
// tx checksum offload is turned off on both ends: a netdev (userspace)
// bridge reads frames with AF_PACKET and forwards them as they are, so
// with offload on, TCP segments from a host would leave the bridge with
// checksums the kernel never filled in and be dropped by the receiver.
func Link(t T, a *NS, aIf string, b *NS, bIf string) {
	t.Helper()
	for _, name := range []string{aIf, bIf} {
		if len(name) == 0 || len(name) > 15 {
			t.Fatalf("testbed: interface name %q must be 1..15 characters", name)
		}
	}
	a.MustExec(t, "ip", "link", "add", aIf, "type", "veth", "peer", "name", bIf, "netns", b.Name)
	for _, end := range []struct {
		ns *NS
		If string
	}{{a, aIf}, {b, bIf}} {
		end.ns.MustExec(t, "ethtool", "-K", end.If, "tx", "off")
		end.ns.MustExec(t, "ip", "link", "set", end.If, "up")
	}
}

// Command demo is `make demo`: it builds a sandbox — a gateway node with its own ovsdb-server
// and ovs-vswitchd in a network namespace, a ToR switch with remote instances on VLANs of two
// virtual networks, and a local VM — runs the ovsgw agent on the examples, shows which pings
// pass and which must not, prints `ovsgw flows` and `ovsgw status`, and tears it all down.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ovsgw/ovsgw/test/lab"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// demoT runs the lab outside `go test`: it collects cleanups and runs them at the end, or at
// the first fatal error.
type demoT struct {
	cleanups []func()
	failed   bool
}

func (d *demoT) Helper()                         {}
func (d *demoT) Logf(format string, args ...any) { fmt.Printf("  "+format+"\n", args...) }
func (d *demoT) Failed() bool                    { return d.failed }
func (d *demoT) Cleanup(f func())                { d.cleanups = append(d.cleanups, f) }
func (d *demoT) Fatalf(format string, args ...any) {
	d.failed = true
	fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...)
	d.teardown()
	os.Exit(1)
}

func (d *demoT) teardown() {
	for i := len(d.cleanups) - 1; i >= 0; i-- {
		d.cleanups[i]()
	}
	d.cleanups = nil
}

func main() {
	bin := flag.String("ovsgw", "bin/ovsgw", "the ovsgw binary")
	examples := flag.String("examples", "examples", "the examples folder (gateway.yaml)")
	flag.Parse()
	t := &demoT{}
	abs, err := filepath.Abs(*bin)
	if err != nil {
		t.Fatalf("%v", err)
	}
	yaml, err := os.ReadFile(filepath.Join(*examples, "gateway.yaml"))
	if err != nil {
		t.Fatalf("%v", err)
	}

	step("Starting the sandbox: ToR switch, gateway node gw1, remote instances bms1..3, local VM vm1")
	l := lab.NewGateway(t, abs, string(yaml), true)
	fmt.Println("  agent running on gw1; every VMI bound")

	step("Traffic")
	ok := true
	for _, c := range []struct {
		what string
		ping func() bool
		want bool
	}{
		{"bms1 (blue, VLAN 100) -> vm1 (blue, local)", func() bool { return pings(l.BMS1, l.VM.IP) }, true},
		{"vm1 (blue, local) -> bms2 (blue, VLAN 101)", func() bool { return pings(l.VM, l.BMS2.IP) }, true},
		{"bms1 (blue, VLAN 100) -> bms2 (blue, VLAN 101)", func() bool { return pings(l.BMS1, l.BMS2.IP) }, true},
		{"bms1 (blue) -> bms3 (red, same subnet)", func() bool { return pings(l.BMS1, l.BMS3.IP) }, false},
		{"vm1 (blue) -> bms3 (red, same subnet)", func() bool { return pings(l.VM, l.BMS3.IP) }, false},
		{"stranger (VLAN 300, no logical interface) -> vm1", func() bool { return pings(l.Stranger, l.VM.IP) }, false},
	} {
		got := c.ping()
		verdict := "as expected"
		if got != c.want {
			verdict, ok = "WRONG", false
		}
		fmt.Printf("  %-52s %-6s (%s)\n", c.what, passFail(got), verdict)
	}

	step("ovsgw flows --vmi bms1   (every table's flows for one remote instance; `ovsgw flows` lists all)")
	show(t, l, "flows", "--vmi", "bms1")
	step("ovsgw status")
	show(t, l, "status")

	step("Tearing down")
	t.teardown()
	if !ok {
		fmt.Fprintln(os.Stderr, "demo: traffic did not behave as expected")
		os.Exit(1)
	}
	fmt.Println("done: pings within a VN pass, across VNs and from unknown VLANs they do not.")
}

// pings reports whether dst answers from h (3 replies within 5 s).
func pings(h *testbed.Host, dst string) bool {
	_, err := h.Ping(dst, 3, 5*time.Second)
	return err == nil
}

func passFail(ok bool) string {
	if ok {
		return "passes"
	}
	return "fails"
}

func step(s string) { fmt.Printf("\n== %s\n", s) }

// show prints an ovsgw CLI command's output, indented.
func show(t *demoT, l *lab.Gateway, args ...string) {
	out, err := l.Agent.CLI(args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	fmt.Println("  " + strings.ReplaceAll(strings.TrimRight(out, "\n"), "\n", "\n  "))
}

package testbed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// T is the part of testing.TB the testbed needs, so that a demo program can
// drive a testbed without the testing package. Implementations must run
// Cleanup functions last-registered first, as testing does: daemons are
// stopped before their namespace is deleted. Fatalf must not return
// (testing's calls runtime.Goexit). If T also has Failed() bool, a failed
// test logs the tails of the OVS logs before they are removed.
type T interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// InstallHint is the command that installs every prerequisite on Debian.
const InstallHint = "scripts/install-deps.sh (or: apt-get install -y openvswitch-switch openvswitch-vtep iproute2 iputils-ping ethtool netcat-openbsd iputils-arping udhcpc isc-dhcp-client curl prometheus)"

// commands maps every external program the testbed runs to its Debian package.
var commands = []struct{ name, pkg string }{
	{"ovsdb-server", "openvswitch-switch"},
	{"ovs-vswitchd", "openvswitch-switch"},
	{"ovsdb-tool", "openvswitch-switch"},
	{"ovs-vsctl", "openvswitch-switch"},
	{"ovs-ofctl", "openvswitch-switch"},
	{"ovs-appctl", "openvswitch-switch"},
	{"ip", "iproute2"},
	{"ping", "iputils-ping"},
	{"ethtool", "ethtool"},
	{"nc.openbsd", "netcat-openbsd"}, // MustTCP needs its -N
	{"arping", "iputils-arping"},     // forged and answered ARP in the policy tests
	{"ss", "iproute2"},
	{"udhcpc", "udhcpc"}, // real DHCPv4 clients for the node's DHCP server
	{"dhclient", "isc-dhcp-client"},
	{"curl", "curl"},           // scrapes an agent's metrics inside its node's namespace
	{"promtool", "prometheus"}, // checks what it serves
}

var (
	lookOnce   sync.Once
	binPaths   map[string]string // command name -> absolute path
	missing    []string          // human-readable list of what Require reports
	installing bool              // whether installing packages would help
)

// lookup resolves all commands once. The daemons live in sbin, which a
// non-login shell's PATH may lack, so those directories are tried as well.
func lookup() {
	binPaths = map[string]string{}
	for _, c := range commands {
		p, err := exec.LookPath(c.name)
		if err != nil {
			for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin", "/bin"} {
				cand := filepath.Join(dir, c.name)
				if st, err := os.Stat(cand); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
					p = cand
					break
				}
			}
		}
		if p == "" {
			missing = append(missing, fmt.Sprintf("command %q (package %s)", c.name, c.pkg))
			installing = true
			continue
		}
		binPaths[c.name] = p
	}
	if _, err := os.Stat(schemaPath()); err != nil {
		missing = append(missing, "OVS schema "+schemaPath()+" (package openvswitch-common)")
		installing = true
	}
	// Userspace bridges create their internal port as a tap device.
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		missing = append(missing, "/dev/net/tun (needed for netdev bridges' internal ports)")
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "root privileges (for namespaces, veth pairs and OVS daemons): run the tests as root")
	}
}

// Require fails the test unless it runs as root and every program the
// testbed uses is installed. It never skips: an end-to-end suite that
// silently skips on a bare machine would pass without testing anything.
func Require(t T) {
	t.Helper()
	lookOnce.Do(lookup)
	if len(missing) > 0 {
		hint := ""
		if installing {
			hint = "\ninstall with: " + InstallHint
		}
		t.Fatalf("testbed: cannot run, missing:\n  - %s%s", strings.Join(missing, "\n  - "), hint)
	}
}

// bin returns the absolute path of a command resolved by Require.
func bin(name string) string {
	lookOnce.Do(lookup)
	if p, ok := binPaths[name]; ok {
		return p
	}
	return name // let the exec error name it
}

// schemaPath honours OVS_PKGDATADIR like the OVS tools do.
func schemaPath() string {
	dir := os.Getenv("OVS_PKGDATADIR")
	if dir == "" {
		dir = "/usr/share/openvswitch"
	}
	return filepath.Join(dir, "vswitch.ovsschema")
}

// runID makes this process's namespace names differ from those of any
// other run on the machine: the pid tells which process made a leftover
// namespace, the random part covers pid reuse across pid namespaces.
var runID = func() string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b)
}()

// Prefix is the start of every namespace name this process creates.
func Prefix() string { return "ovsgw-" + runID + "-" }

var (
	namesMu sync.Mutex
	names   = map[string]int{}
)

// uniqueName returns Prefix()+name, adding a counter when the same
// name was used before in this process (parallel or repeated tests).
func uniqueName(name string) string {
	namesMu.Lock()
	defer namesMu.Unlock()
	n := names[name]
	names[name] = n + 1
	if n == 0 {
		return Prefix() + name
	}
	return fmt.Sprintf("%s%s.%d", Prefix(), name, n)
}

// cmdTimeout bounds every helper command so that a wedged daemon fails a
// test instead of hanging it until the go test deadline.
const cmdTimeout = 2 * time.Minute

// run executes a command with a timeout and returns its combined output;
// the error repeats the command line and the output so that a Fatalf
// on it tells the whole story.
func run(timeout time.Duration, env []string, name string, args ...string) (string, error) {
	return runInput("", timeout, env, name, args...)
}

// runInput is run with stdin fed from a string.
func runInput(stdin string, timeout time.Duration, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %v", timeout)
		}
		return string(out), fmt.Errorf("%s %s: %w: %s", filepath.Base(name),
			strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// waitFor polls cond until it returns nil or timeout passes, returning the
// last error. Daemons start asynchronously, so readiness is polled.
func waitFor(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

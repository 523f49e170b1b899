package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unitPath is the systemd unit `make deb` packages.
const unitPath = "../../scripts/deb/ovsgw-agent.service"

// confinedLikeUnit writes a wrapper into dir that runs bin with the capability bounding set
// and no_new_privs the packaged unit gives the agent (setpriv does what systemd would), and
// returns it with the status lines (/proc/PID/status) a process so confined shows.
func confinedLikeUnit(t *testing.T, dir, bin string) (wrapper string, want map[string]string) {
	t.Helper()
	f, err := os.Open(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	args := []string{"--inh-caps=-all"}
	bounding := "-all"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, _ := strings.Cut(sc.Text(), "=")
		switch key {
		case "CapabilityBoundingSet":
			for _, c := range strings.Fields(value) {
				bounding += ",+" + strings.ToLower(strings.TrimPrefix(c, "CAP_"))
			}
		case "NoNewPrivileges":
			if value == "yes" {
				args = append(args, "--no-new-privs")
			}
		}
	}
	args = append(args, "--bounding-set="+bounding)
	// What the kernel shows for a process so confined: setpriv itself runs a reader of it.
	out, err := exec.Command("setpriv", append(args, "--", "cat", "/proc/self/status")...).Output()
	if err != nil {
		t.Fatalf("setpriv %v: %v", args, err)
	}
	want = statusFields(string(out), "CapBnd", "NoNewPrivs")
	self, err := os.ReadFile("/proc/self/status")
	if err != nil || statusFields(string(self), "CapBnd")["CapBnd"] == want["CapBnd"] {
		t.Fatalf("the unit's bounding set %s is this test's own (%v): the confinement would prove nothing", want["CapBnd"], err)
	}
	wrapper = filepath.Join(dir, "ovsgw-confined")
	script := fmt.Sprintf("#!/bin/sh\nexec setpriv %s -- %s \"$@\"\n", strings.Join(args, " "), bin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return wrapper, want
}

// statusFields picks fields of a /proc/PID/status text.
func statusFields(status string, names ...string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(status, "\n") {
		k, v, _ := strings.Cut(line, ":")
		for _, n := range names {
			if k == n {
				out[k] = strings.TrimSpace(v)
			}
		}
	}
	return out
}

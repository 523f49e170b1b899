package deb

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/agentconf"
)

// repoRoot is the checkout this package lives in.
const repoRoot = "../.."

// TestDebPackageInstallsAndMatchesTheREADME builds the package (with the build cache of a
// plain go build, to stay quick: CI builds and checks the static one), checks it with
// scripts/deb/check.sh, and checks the agent config and unit it ships.
func TestDebPackageInstallsAndMatchesTheREADME(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the package check needs root (dpkg into a scratch root, a private mount namespace)")
	}
	out := t.TempDir()
	build := exec.Command(filepath.Join(repoRoot, "scripts/deb/build.sh"), out)
	build.Env = append(os.Environ(), "VERSION=1.2.3~test", "CGO_ENABLED=1", "DEB_GOFLAGS=")
	path, err := build.Output()
	if err != nil {
		t.Fatalf("build.sh: %v\n%s", err, stderr(err))
	}
	deb := strings.TrimSpace(string(path))
	if filepath.Base(deb) != "ovsgw_1.2.3~test_"+debArch(t)+".deb" {
		t.Fatalf("build.sh built %s, want ovsgw_1.2.3~test_%s.deb", deb, debArch(t))
	}
	if outp, err := exec.Command(filepath.Join(repoRoot, "scripts/deb/check.sh"), deb).CombinedOutput(); err != nil {
		t.Fatalf("check.sh: %v\n%s", err, outp)
	}

	root := t.TempDir()
	if outp, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, outp)
	}
	t.Run("agent.conf is the README's INI section and the agent accepts it", func(t *testing.T) {
		shipped, err := os.ReadFile(filepath.Join(root, "etc/ovsgw/agent.conf"))
		if err != nil {
			t.Fatal(err)
		}
		if want := readmeINI(t); string(shipped) != want {
			t.Fatalf("/etc/ovsgw/agent.conf differs from the README's INI section:\n%s\nwant:\n%s", shipped, want)
		}
		conf, err := agentconf.Load(filepath.Join(root, "etc/ovsgw/agent.conf"))
		if err != nil {
			t.Fatalf("the agent refuses the shipped config: %v", err)
		}
		if conf.Hostname == "gw1" {
			t.Error("the shipped config names a host (gw1): every node would program gw1's objects")
		}
		unit := unitFile(t, root)
		if dir := filepath.Dir(conf.ControlSocket); dir != "/var/run/"+unit["RuntimeDirectory"] {
			t.Errorf("control socket %s is outside the unit's RuntimeDirectory=%s (/run/%s): ProtectSystem=strict leaves only that writable",
				conf.ControlSocket, unit["RuntimeDirectory"], unit["RuntimeDirectory"])
		}
	})
	t.Run("the unit runs the agent on the shipped config, after Open vSwitch, restarting on failure", func(t *testing.T) {
		unit := unitFile(t, root)
		for key, want := range map[string]string{
			"ExecStart":       "/usr/bin/ovsgw agent --config /etc/ovsgw/agent.conf",
			"After":           "openvswitch-switch.service",
			"Restart":         "on-failure",
			"ProtectSystem":   "strict",
			"ProtectHome":     "yes",
			"PrivateTmp":      "yes",
			"NoNewPrivileges": "yes",
		} {
			if unit[key] != want {
				t.Errorf("%s=%q, want %q", key, unit[key], want)
			}
		}
	})
}

// readmeINI is the first ini code block under the README's "The agent config (INI)" heading.
func readmeINI(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## The agent config (INI)\n")
	if !ok {
		t.Fatal("README.md has no section \"The agent config (INI)\"")
	}
	_, block, ok := strings.Cut(section, "\n```ini\n")
	if !ok {
		t.Fatal("README's agent config section has no ini block")
	}
	block, _, ok = strings.Cut(block, "\n```\n")
	if !ok {
		t.Fatal("README's ini block does not end")
	}
	return block + "\n"
}

// unitFile reads the packaged unit's keys (a later key of a name wins, as for systemd's
// single-valued settings).
func unitFile(t *testing.T, root string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "lib/systemd/system/ovsgw-agent.service"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			keys[k] = v
		}
	}
	return keys
}

// debArch is the Debian name of this machine's architecture.
func debArch(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		t.Fatalf("dpkg --print-architecture: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func stderr(err error) string {
	if e, ok := err.(*exec.ExitError); ok {
		return string(e.Stderr)
	}
	return ""
}

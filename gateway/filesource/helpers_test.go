package filesource

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/model"
)

// waitFor bounds every wait of these tests: far above any expected latency.
const waitFor = 10 * time.Second

const baseYAML = `virtualNetworks:
  - name: blue
    vni: 5001
    subnets: ["10.0.0.0/8"]
`

// instanceYAML is one remote instance: its logical interface under gw1 and its VMI. variant
// changes its address, so that two variants are two different configs of the same size.
func instanceYAML(i, variant int) string {
	return fmt.Sprintf(`physicalRouters:
  - name: gw1
    physicalInterfaces:
      - name: eth%d
        logicalInterfaces:
          - name: li-%d
            vlan: %d
            vmi: vmi-%d
virtualMachineInterfaces:
  - name: vmi-%d
    network: blue
    mac: "02:00:00:%02x:%02x:%02x"
    instanceIPs:
      - address: 10.%d.%d.%d
`, 1+i/2048, i, 1+i%2048, i, i, variant&0xff, i>>8&0xff, i&0xff, variant%200, i/200, 1+i%200)
}

// instancesYAML is the instances first..first+n-1 in one document.
func instancesYAML(first, n, variant int) string {
	c := &model.Config{}
	for i := first; i < first+n; i++ {
		p := mustParse(nil, instanceYAML(i, variant))
		c = merge([]*model.Config{c, p})
	}
	s := "physicalRouters:\n  - name: gw1\n    physicalInterfaces:\n"
	for _, pi := range c.PhysicalRouters[0].PhysicalInterfaces {
		s += fmt.Sprintf("      - name: %s\n        logicalInterfaces:\n", pi.Name)
		for _, li := range pi.LogicalInterfaces {
			s += fmt.Sprintf("          - name: %s\n            vlan: %d\n            vmi: %s\n", li.Name, *li.VLAN, li.VMI)
		}
	}
	s += "virtualMachineInterfaces:\n"
	for _, v := range c.VirtualMachineInterfaces {
		s += fmt.Sprintf("  - name: %s\n    network: %s\n    mac: %q\n    instanceIPs:\n      - address: %s\n", v.Name, v.Network, v.MAC, v.InstanceIPs[0].Address)
	}
	return s
}

func mustParse(t *testing.T, text string) *model.Config {
	c, err := model.Parse([]byte(text))
	if err != nil {
		if t == nil {
			panic(err)
		}
		t.Helper()
		t.Fatal(err)
	}
	return c
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceFile writes a complete file beside path and renames it over path.
func replaceFile(t *testing.T, path, text string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	writeFile(t, tmp, text)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// run runs s.Run until the test ends, and waits until the watch is set up.
func run(t testing.TB, s *Source) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	deadline := time.Now().Add(waitFor)
	for {
		s.mu.Lock()
		ok := s.watching()
		s.mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watch was not set up")
		}
		time.Sleep(time.Millisecond)
	}
	// The watch's first Reload rescans; after it, Changed means a change.
	if _, err := s.Reload(false); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Changed():
	default:
	}
}

// waitChanged waits for Changed to fire.
func waitChanged(t testing.TB, s *Source) {
	t.Helper()
	select {
	case <-s.Changed():
	case <-time.After(waitFor):
		t.Fatal("Changed did not fire")
	}
}

// reloadUntil reloads on each Changed until ok holds for the config in force.
func reloadUntil(t *testing.T, s *Source, what string, ok func(*model.Config) bool) {
	t.Helper()
	deadline := time.After(waitFor)
	for !ok(s.Config()) {
		select {
		case <-s.Changed():
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
		if _, err := s.Reload(false); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
}

// parseCounter counts parses per file name.
type parseCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (p *parseCounter) hook(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == nil {
		p.n = map[string]int{}
	}
	p.n[name]++
}

func (p *parseCounter) take() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.n
	p.n = nil
	return n
}

func vmiNames(c *model.Config) []string {
	var names []string
	for _, v := range c.VirtualMachineInterfaces {
		names = append(names, v.Name)
	}
	return names
}

package configstore

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
)

// quiet is how long a test waits to be sure a signal does not come: the
// events of a one-row commit reach a client on the same host within
// milliseconds.
const quiet = 300 * time.Millisecond

var (
	drain = configdbtest.Drain
	fired = configdbtest.Fired
)

// waitFired waits until ch fires.
func waitFired(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	configdbtest.WaitFired(t, ch, testWait, what)
}

// After one Apply of many rows, a reader's Config equals the config applied
// and a fresh full read. (That the Apply fires ConfigChanged once is
// configdb's TestConfigChangedOncePerApply.)
func TestConfigAfterApplyMatchesOracle(t *testing.T) {
	srv := newStandalone(t)
	writer, reader := connectTo(t, []string{srv.Endpoint}), connectTo(t, []string{srv.Endpoint})
	mustConfig(t, reader) // kept, to be updated incrementally
	sum := apply(t, writer, parse(t, torYAML))
	waitFired(t, reader.ConfigChanged(), "ConfigChanged")
	waitUntil(t, "the reader sees the generation", func() bool { g, _ := reader.Generation(); return g == sum.Generation })
	cfg, gen, err := reader.ConfigWithGeneration()
	if err != nil {
		t.Fatal(err)
	}
	if gen != sum.Generation {
		t.Errorf("generation %d, want %d", gen, sum.Generation)
	}
	sameConfig(t, cfg, parse(t, torYAML))
	if oracle := oracleConfig(t, reader); !reflect.DeepEqual(cfg, oracle) {
		t.Errorf("Config differs from a fresh full read:\n%+v\n%+v", cfg, oracle)
	}
}

// Config is the caller's: changing what it returned changes nothing for the
// next call; and a kept result is handed out again only while no config
// row changed.
func TestConfigResultIsTheCallers(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	apply(t, c, parse(t, torYAML))
	first := mustConfig(t, c)
	want := mustConfig(t, c)
	first.VirtualMachineInterfaces[3].Name = "changed" // vm1
	first.VirtualMachineInterfaces[3].SecurityGroups[0] = "changed"
	*first.PhysicalRouters[0].PhysicalInterfaces[0].LogicalInterfaces[0].VLAN = 4000
	first.VirtualNetworks[0].Subnets = append(first.VirtualNetworks[0].Subnets[:0], model.Subnet{CIDR: "changed"})
	first.TorSwitches[0].Bindings[0].Network = "changed"
	*first.TorSwitches[0].Bindings[0].VLAN = 4001
	first.SecurityGroups[1].Rules[0].Ports = "changed"
	if got := mustConfig(t, c); !reflect.DeepEqual(got, want) {
		t.Errorf("a change of a returned config showed in the next:\n%+v\nwant %+v", got, want)
	}
	kept := c.store.builds
	mustConfig(t, c)
	if c.store.builds != kept {
		t.Error("Config rebuilt its view with no event in between")
	}
	if err := c.PublishNode(context.Background(), configdb.NodeState{Hostname: "gw1"}); err != nil {
		t.Fatal(err)
	}
	mustConfig(t, c)
	if c.store.builds != kept {
		t.Error("Config rebuilt its view after a state write")
	}
	apply(t, c, parse(t, strings.Replace(torYAML, "vni: 5002", "vni: 5003", 1)))
	if got := mustConfig(t, c); c.store.builds == kept || got.VirtualNetworks[2].VNI != 5003 {
		t.Errorf("Config after a config write: view rebuilt %v, red's VNI %d", c.store.builds != kept, got.VirtualNetworks[2].VNI)
	}
}

// cloneConfig shares nothing with its source: every slice, map and pointer
// of the copy is its own, so the kept config never leaks to a caller.
func TestCloneConfigSharesNothing(t *testing.T) {
	src := parse(t, torYAML)
	Normalize(src)
	dst := cloneConfig(src)
	if !reflect.DeepEqual(src, dst) {
		t.Fatalf("copy differs:\n%+v\n%+v", dst, src)
	}
	var walk func(path string, a, b reflect.Value)
	walk = func(path string, a, b reflect.Value) {
		switch a.Kind() {
		case reflect.Pointer:
			if a.IsNil() {
				return
			}
			if a.Pointer() == b.Pointer() {
				t.Errorf("%s: the copy shares the pointer", path)
			}
			walk(path, a.Elem(), b.Elem())
		case reflect.Slice:
			if a.Len() > 0 && a.Pointer() == b.Pointer() {
				t.Errorf("%s: the copy shares the slice", path)
			}
			for i := range a.Len() {
				walk(path+"["+a.Index(i).Type().Name()+"]", a.Index(i), b.Index(i))
			}
		case reflect.Map:
			if a.Len() > 0 && a.Pointer() == b.Pointer() {
				t.Errorf("%s: the copy shares the map", path)
			}
			for _, k := range a.MapKeys() {
				walk(path+"[key]", a.MapIndex(k), b.MapIndex(k))
			}
		case reflect.Struct:
			for i := range a.NumField() {
				walk(path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
			}
		}
	}
	walk("Config", reflect.ValueOf(src), reflect.ValueOf(dst))
	// Every kind of object must have been there to be checked.
	for name, n := range map[string]int{"VNs": len(src.VirtualNetworks), "routers": len(src.PhysicalRouters),
		"VMIs": len(src.VirtualMachineInterfaces), "groups": len(src.SecurityGroups),
		"policies": len(src.NetworkPolicies), "switches": len(src.TorSwitches)} {
		if n == 0 {
			t.Errorf("the test config has no %s", name)
		}
	}
}

// Readers on many goroutines while the config and the state change: every
// Config is one of the configs applied, never a mix (run with -race).
func TestConcurrentReads(t *testing.T) {
	srv := newStandalone(t)
	writer, reader := connectTo(t, []string{srv.Endpoint}, configdb.ConfigOnly()), connectTo(t, []string{srv.Endpoint})
	ctx := context.Background()
	configs := []string{fullYAML, strings.Replace(fullYAML, "02:00:00:00:01:0a", "02:00:00:00:01:aa", 1), torYAML}
	want := map[string]bool{}
	for _, y := range configs {
		c := parse(t, y)
		Normalize(c)
		j, _ := json.Marshal(c)
		want[string(j)] = true
	}
	apply(t, writer, parse(t, configs[0]))
	waitUntil(t, "the reader has the config", func() bool { g, _ := reader.Generation(); return g == 1 })
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for range 4 {
		go func() {
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				cfg, err := reader.Config()
				if err != nil {
					errs <- err
					return
				}
				j, _ := json.Marshal(cfg)
				if !want[string(j)] {
					errs <- fmt.Errorf("a config that was never applied: %s", j)
					return
				}
				cfg.VirtualMachineInterfaces[0].Name = "mine" // the caller's to change
				reader.Bindings()
				reader.Nodes()
			}
		}()
	}
	for i := range 30 {
		apply(t, writer, parse(t, configs[i%len(configs)]))
		if err := reader.PublishBindings(ctx, "gw1", []configdb.BindingState{{VMI: fmt.Sprintf("vm%d", i), Kind: configdb.BindingLocal, Port: "p", Role: configdb.RoleActive}}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

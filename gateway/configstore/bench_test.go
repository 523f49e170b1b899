package configstore

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
	"github.com/ovsgw/ovsgw/test/bench/scale"
)

// Benchmarks at the scale of the capacity tests, against a real
// ovsdb-server (standalone: a Raft member serves reads and monitors the
// same way, and adds a commit round trip to each write):
//
//	go test -run '^$' -bench . -benchtime 20x ./gateway/configstore/

// benchInstances is the scale of make bench: 4,096 remote instances, one
// gateway node bound to all of them.
const benchInstances = 4096

// benchDB is a server holding a 4K config and one node's 4K bindings, and
// the two configs the benchmarks alternate between: the instance moved
// changes one VMI row (its MAC and address).
type benchDB struct {
	srv  *configdbtest.Server
	cfgs [2]*model.Config
	cur  int // the config in the database
}

func newBenchDB(b *testing.B) *benchDB {
	b.Helper()
	d := &benchDB{srv: newStandalone(b)}
	for i, moved := range []map[int]bool{nil, {7: true}} {
		cfg, err := model.Parse([]byte(scale.Spec{Host: "gw1", Remote: benchInstances, Moved: moved}.YAML()))
		if err != nil {
			b.Fatal(err)
		}
		d.cfgs[i] = cfg
	}
	c := connectTo(b, []string{d.srv.Endpoint})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Apply(ctx, d.cfgs[0], false); err != nil {
		b.Fatal(err)
	}
	var bindings []configdb.BindingState
	for i := range benchInstances {
		nic, vlan := scale.VLAN(i)
		bindings = append(bindings, configdb.BindingState{VMI: scale.Name(i), Kind: configdb.BindingRemote, PhysicalInterface: nic, VLAN: vlan, Role: configdb.RoleActive})
	}
	if err := c.PublishBindings(ctx, "gw1", bindings); err != nil {
		b.Fatal(err)
	}
	if err := c.PublishNode(ctx, configdb.NodeState{Hostname: "gw1", TunnelIP: "192.0.2.1", GatewayMode: true}); err != nil {
		b.Fatal(err)
	}
	c.Close()
	return d
}

// next is the config that differs from the one in the database by one
// instance; the caller applies it.
func (d *benchDB) next() *model.Config {
	d.cur = 1 - d.cur
	return d.cfgs[d.cur]
}

// What `ovsgw db apply` costs once it has loaded and validated its YAML,
// when one instance of 4K changed: connect, read, diff, commit, close.
// "cli" is the command's client (ConfigOnly); "cli-all-tables" one that
// monitors every table, as the command's did before; "apply" is
// ApplyValidated alone on a connected ConfigOnly client (its select
// included), "apply-cached" on a client that monitors every table.
func BenchmarkApplyOneChange4K(b *testing.B) {
	d := newBenchDB(b)
	ctx := context.Background()
	for _, mode := range []struct {
		name string
		opts []configdb.Option
	}{{"cli", []configdb.Option{configdb.ConfigOnly()}}, {"cli-all-tables", nil}} {
		b.Run(mode.name, func(b *testing.B) {
			for b.Loop() {
				c, err := configdb.Connect(ctx, []string{d.srv.Endpoint}, mode.opts...)
				if err != nil {
					b.Fatal(err)
				}
				sum, err := New(c).ApplyValidated(ctx, d.next(), false)
				c.Close()
				if err != nil || len(sum.Changed) != 1 {
					b.Fatalf("apply: %v, %v", err, sum)
				}
			}
		})
	}
	for _, mode := range []struct {
		name string
		opts []configdb.Option
	}{{"apply", []configdb.Option{configdb.ConfigOnly()}}, {"apply-cached", nil}} {
		b.Run(mode.name, func(b *testing.B) {
			c := connectTo(b, []string{d.srv.Endpoint}, mode.opts...)
			for b.Loop() {
				sum, err := c.ApplyValidated(ctx, d.next(), false)
				if err != nil || len(sum.Changed) != 1 {
					b.Fatalf("apply: %v, %v", err, sum)
				}
			}
		})
	}
}

// What an agent's reads cost at 4K: Config right after one instance changed
// (another client applies it, untimed), Config with nothing changed, and
// Bindings (4K rows) with nothing changed.
func BenchmarkReads4K(b *testing.B) {
	d := newBenchDB(b)
	ctx := context.Background()
	writer := connectTo(b, []string{d.srv.Endpoint}, configdb.ConfigOnly())
	reader := connectTo(b, []string{d.srv.Endpoint})
	if _, err := reader.Config(); err != nil {
		b.Fatal(err)
	}
	b.Run("config-after-one-change", func(b *testing.B) {
		var cpu cpuMeter
		for b.Loop() {
			b.StopTimer()
			sum, err := writer.Apply(ctx, d.next(), false)
			if err != nil {
				b.Fatal(err)
			}
			for g := 0; g != sum.Generation; g, _ = reader.Generation() {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond) // the reader's event handler has run
			runtime.GC()                      // the writer's garbage is not the read's
			b.StartTimer()
			cpu.start()
			if _, err := reader.Config(); err != nil {
				b.Fatal(err)
			}
			cpu.stop()
		}
		cpu.report(b)
	})
	b.Run("config-unchanged", func(b *testing.B) {
		var cpu cpuMeter
		cpu.start()
		for b.Loop() {
			if _, err := reader.Config(); err != nil {
				b.Fatal(err)
			}
		}
		cpu.stop()
		cpu.report(b)
	})
	b.Run("bindings-unchanged", func(b *testing.B) {
		var cpu cpuMeter
		cpu.start()
		for b.Loop() {
			if n := len(reader.Bindings()); n != benchInstances {
				b.Fatal(fmt.Sprintf("%d bindings", n))
			}
		}
		cpu.stop()
		cpu.report(b)
	})
}

// cpuMeter adds up the process's CPU time (all threads: the GC included)
// over the measured stretches, and reports it per operation: on a shared
// machine the CPU a read costs is steadier than the wall time it takes.
type cpuMeter struct {
	total, from time.Duration
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (m *cpuMeter) start() { m.from = processCPU() }
func (m *cpuMeter) stop()  { m.total += processCPU() - m.from }
func (m *cpuMeter) report(b *testing.B) {
	b.ReportMetric(float64(m.total.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

package model_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/test/bench/scale"
)

// cpuTime is the CPU time this process has used, in all its threads (the GC's too).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs op in a benchmark loop and also reports cpu-ns/op: on a shared machine ns/op
// (wall time) counts the time others had the CPU, and cpu-ns/op does not.
func measure(b *testing.B, op func()) {
	start := cpuTime(b)
	for b.Loop() {
		op()
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkValidate is what the agent pays on every config change: validate, index, check the
// node's budget, for a node with 4,096 and 16,384 remote instances. "before" is the code as it
// was (legacy_test.go); "after" is Config.ValidateIndex, which indexes as it validates; "old-api"
// is Validate then NewIndex, for the callers that still make both calls.
func BenchmarkValidate(b *testing.B) {
	for _, n := range []int{4096, 16384} {
		c, err := model.Parse([]byte(scale.Spec{Host: "gw1", Remote: n}.YAML()))
		if err != nil {
			b.Fatal(err)
		}
		budget := n * model.InterfacesPerRemoteVMI
		name := fmt.Sprintf("%dK", n/1024)
		b.Run(name+"/before", func(b *testing.B) {
			measure(b, func() {
				if err := model.LegacyValidate(c); err != nil {
					b.Fatal(err)
				}
				if err := model.LegacyCheckCapacity(model.LegacyNewIndex(c), "gw1", budget); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(name+"/after", func(b *testing.B) {
			measure(b, func() {
				x, err := c.ValidateIndex()
				if err != nil {
					b.Fatal(err)
				}
				if err := x.CheckCapacity("gw1", budget); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(name+"/old-api", func(b *testing.B) {
			measure(b, func() {
				if err := c.Validate(); err != nil {
					b.Fatal(err)
				}
				if err := model.NewIndex(c).CheckCapacity("gw1", budget); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

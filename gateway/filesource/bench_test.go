package filesource

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/model"
)

// benchInstances is the directory size of the benchmark: one file per remote instance at the
// gateway's scale (DefaultMaxInterfaces allows 2,176 instances per node; 4K covers two).
const benchInstances = 4096

// BenchmarkDirOneFileChange measures the source's part of the change path in a directory of
// 4,096 instance files: from the writer's close of one rewritten file to the return of the
// Reload that puts it in force (event delivery, wake-up, read under lease, parse, merge).
// It reports p50 and p99 of that latency and of the Reload call alone (the rest is waking
// up: the kernel, Run's goroutine, the consumer's), the parse and merge time, and the CPU
// time per change of the whole process (writer included); ns/op also counts the write.
func BenchmarkDirOneFileChange(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "00-base.yaml"), []byte(baseYAML), 0o644); err != nil {
		b.Fatal(err)
	}
	name := func(i int) string { return filepath.Join(dir, fmt.Sprintf("i%04d.yaml", i)) }
	for i := range benchInstances {
		if err := os.WriteFile(name(i), []byte(instanceYAML(i, 0)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	s, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	openSecs := time.Since(start).Seconds()
	run(b, s)
	lat := make([]time.Duration, 0, b.N)    // close → the Reload that changed returned
	reload := make([]time.Duration, 0, b.N) // that Reload alone
	var parseSecs float64
	cpu := cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		k := i * 997 % benchInstances // spread over the directory
		text := []byte(instanceYAML(k, 1+i/benchInstances))
		if err := os.WriteFile(name(k), text, 0o644); err != nil {
			b.Fatal(err)
		}
		closed := time.Now()
		for {
			waitChanged(b, s)
			called := time.Now()
			changed, err := s.Reload(false)
			if err != nil {
				b.Fatal(err)
			}
			if changed {
				reload = append(reload, time.Since(called))
				break
			}
		}
		lat = append(lat, time.Since(closed))
		parseSecs += s.ParseSeconds()
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
	if err := s.Config().Validate(); err != nil {
		b.Fatal(err)
	}
	pct := func(d []time.Duration, p float64) float64 {
		slices.Sort(d)
		return float64(d[int(p*float64(len(d)-1))].Microseconds())
	}
	b.ReportMetric(pct(lat, 0.50), "p50-µs")
	b.ReportMetric(pct(lat, 0.90), "p90-µs")
	b.ReportMetric(pct(lat, 0.99), "p99-µs")
	b.ReportMetric(pct(reload, 0.50), "reload-p50-µs")
	b.ReportMetric(pct(reload, 0.99), "reload-p99-µs")
	b.ReportMetric(parseSecs/float64(b.N)*1e6, "parse+merge-µs")
	b.ReportMetric(openSecs*1e3, "open-ms")
}

// BenchmarkMerge4K measures the merge of 4,096 one-instance parts and a base, which every
// change of a file in such a directory costs.
func BenchmarkMerge4K(b *testing.B) {
	parts := []*model.Config{mustParse(nil, baseYAML)}
	for i := range benchInstances {
		parts = append(parts, mustParse(nil, instanceYAML(i, 0)))
	}
	b.ReportAllocs()
	cpu := cpuTime()
	b.ResetTimer()
	for range b.N {
		merge(parts)
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the CPU time (user and system) the process has used: on a shared machine it
// tells the cost of an operation better than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

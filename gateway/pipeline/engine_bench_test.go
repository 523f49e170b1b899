package pipeline

import (
	"testing"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
	"github.com/ovsgw/ovsgw/test/bench/scale"
)

// benchInputs returns a gateway node of n remote instances, and the same node with instance 17
// removed.
func benchInputs(b *testing.B, n int) (with, without Input) {
	return benchInputsOf(b, scale.Spec{Host: "gw1", Remote: n})
}

// benchInputsOf is benchInputs for any generated config.
func benchInputsOf(b *testing.B, spec scale.Spec) (with, without Input) {
	load := func(s scale.Spec) *model.Index {
		c, err := model.Parse([]byte(s.YAML()))
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			b.Fatal(err)
		}
		return model.NewIndex(c)
	}
	with = Input{Index: load(spec), Host: "gw1", GatewayMode: true}
	for i, nic := range scale.NICs(spec.Remote) {
		with.Ports = append(with.Ports, Port{Name: nic, OFPort: int32(i + 1)})
	}
	without = with
	spec.Removed = map[int]bool{17: true}
	without.Index = load(spec)
	return with, without
}

// BenchmarkEngine4K compares, at 4,096 remote instances, a full compile with the engine's
// update for one instance removed or added back.
func BenchmarkEngine4K(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchEngine(b, scale.Spec{Host: "gw1", Remote: 4096}) })
	b.Run("security-groups", func(b *testing.B) { benchEngine(b, scale.Spec{Host: "gw1", Remote: 4096, SecurityGroups: true}) })
}

func benchEngine(b *testing.B, spec scale.Spec) {
	with, without := benchInputsOf(b, spec)
	b.Run("full-compile", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			Compile(with)
		}
	})
	b.Run("one-instance-change", func(b *testing.B) {
		e := NewEngine()
		discard := func(string, []openflow.Flow, []openflow.Group) {}
		e.Update(with, discard)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			in := with
			if i%2 == 0 {
				in = without
			}
			if n, all := e.Update(in, discard); all || n > 4 {
				b.Fatalf("recompiled %d units (all: %v)", n, all)
			}
		}
	})
}

// BenchmarkPrepare4K is what every update costs before any flow: deriving the node's state,
// after a config change and after another input's change (same config).
func BenchmarkPrepare4K(b *testing.B) {
	with, _ := benchInputs(b, 4096)
	var ids idAllocator
	b.Run("new-config", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			prepare(with, &ids, nil)
		}
	})
	b.Run("same-config", func(b *testing.B) {
		prev := prepare(with, &ids, nil)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			prepare(with, &ids, prev)
		}
	})
}

// BenchmarkMeters4K is what the agent's every sync asks of the engine for its meters, at
// 4,096 remote instances after one update.
func BenchmarkMeters4K(b *testing.B) {
	with, _ := benchInputs(b, 4096)
	e := NewEngine()
	e.Update(with, func(string, []openflow.Flow, []openflow.Group) {})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Meters()
	}
}

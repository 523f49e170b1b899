package pipeline

import (
	"testing"

	"github.com/ovsgw/ovsgw/gateway/model"
)

// TestPortMasksCoverExactlyTheRange checks every port of every test range against the masks.
func TestPortMasksCoverExactlyTheRange(t *testing.T) {
	cases := []struct {
		name  string
		r     model.PortRange
		pairs int
	}{
		{"single port", model.PortRange{Min: 22, Max: 22}, 1},
		{"aligned block", model.PortRange{Min: 8000, Max: 8007}, 1},
		{"unaligned range", model.PortRange{Min: 1000, Max: 1999}, 7},
		{"top of the space", model.PortRange{Min: 65530, Max: 65535}, 2},
		{"from 1", model.PortRange{Min: 1, Max: 1023}, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			masks := portMasks(tc.r)
			if len(masks) != tc.pairs {
				t.Errorf("%d pairs, want %d: %v", len(masks), tc.pairs, masks)
			}
			for p := 0; p <= 65535; p++ {
				in := p >= int(tc.r.Min) && p <= int(tc.r.Max)
				hit := 0
				for _, m := range masks {
					if uint16(p)&m.mask == m.value {
						hit++
					}
				}
				if (hit == 1) != in || hit > 1 {
					t.Fatalf("port %d: matched by %d pairs, in range %v", p, hit, in)
				}
			}
		})
	}
	if portMasks(model.PortRange{}) != nil {
		t.Error("any port needs no match")
	}
}

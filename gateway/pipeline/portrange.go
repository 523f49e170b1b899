package pipeline

import "github.com/ovsgw/ovsgw/gateway/model"

// maskedPort is one value/mask pair of an L4 port match.
type maskedPort struct{ value, mask uint16 }

// portMasks covers an inclusive port range with the fewest value/mask pairs (the usual
// prefix decomposition: at most 2·16 − 2 pairs). An "any" range gives none: no match needed.
func portMasks(r model.PortRange) []maskedPort {
	if r.Any() {
		return nil
	}
	var out []maskedPort
	lo, hi := uint32(r.Min), uint32(r.Max)
	for lo <= hi {
		// The largest aligned block starting at lo that does not pass hi.
		size := uint32(1)
		for lo%(size*2) == 0 && lo+size*2-1 <= hi && size < 1<<16 {
			size *= 2
		}
		out = append(out, maskedPort{value: uint16(lo), mask: uint16(^(size - 1))})
		lo += size
	}
	return out
}

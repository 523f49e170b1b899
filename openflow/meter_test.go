package openflow

import "testing"

// TestMeterEqualIsWhatStringPrints: Equal compares fields (it runs for every meter before each
// sync) and agrees with the text: the precedence level counts for DSCP remark bands only.
func TestMeterEqualIsWhatStringPrints(t *testing.T) {
	base := PacketRateMeter(7, 20, 40)
	variants := []Meter{base, PacketRateMeter(8, 20, 40), PacketRateMeter(7, 21, 40), PacketRateMeter(7, 20, 41),
		{ID: 7, Flags: MeterKbps, Bands: base.Bands}, {ID: 7, Flags: base.Flags},
		{ID: 7, Flags: base.Flags, Bands: []MeterBand{{Type: MeterBandDrop, Rate: 20, Burst: 40, PrecLevel: 3}}},
		{ID: 7, Flags: base.Flags, Bands: []MeterBand{{Type: MeterBandDSCPRemark, Rate: 20, Burst: 40, PrecLevel: 1}}},
		{ID: 7, Flags: base.Flags, Bands: []MeterBand{{Type: MeterBandDSCPRemark, Rate: 20, Burst: 40, PrecLevel: 2}}},
	}
	for _, a := range variants {
		for _, b := range variants {
			if got, want := a.Equal(b), a.String() == b.String(); got != want {
				t.Errorf("%s Equal %s = %v, want %v", a, b, got, want)
			}
		}
	}
}

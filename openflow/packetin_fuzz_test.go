package openflow

import (
	"encoding/hex"
	"reflect"
	"testing"
)

// FuzzDecodePacketIn: DecodePacketIn never panics on what a switch (or anything on the
// socket) sends, and what it accepts is consistent: the frame is no longer than its total
// length, the match is in canonical order, and decoding is deterministic.
func FuzzDecodePacketIn(f *testing.F) {
	real, _ := hex.DecodeString(realPacketIn2)
	f.Add(real)
	arp, _ := hex.DecodeString("ffffffffffff020000000005080600010800060400010200000000050a0900050000000000000a090003")
	f.Add(of13PacketIn(f, 1, 2, 0x77, Match{}.WithUint(FieldInPort, 3).WithUint(FieldTunID, 9), 42, arp))
	f.Add(of13PacketIn(f, 0, 0, 0, nil, 42, arp[:20]))
	f.Add(nxtMessage(nxtPacketIn2, []byte{0, 0, 0, 5, 0xaa, 0, 0, 0, 0, 1, 0, 8, 0, 0, 0, 9}))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePacketIn(b)
		if err != nil {
			return
		}
		if p.TotalLen < len(p.Data) {
			t.Fatalf("TotalLen %d < %d bytes of data", p.TotalLen, len(p.Data))
		}
		if !reflect.DeepEqual(p.Match, p.Match.Normalize()) && len(p.Match) > 0 {
			t.Fatalf("match %s is not normalized", p.Match)
		}
		again, err := DecodePacketIn(b)
		if err != nil || !reflect.DeepEqual(p, again) {
			t.Fatalf("second decode differs: %+v, %v", again, err)
		}
		p.InPort()
		for i := 0; i < 8; i++ {
			p.Reg(i)
		}
	})
}

package openflow

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Move copies the whole of field Src into field Dst (the fields have the same width).
type Move struct{ Src, Dst Field }

func (Move) action() {}

func (a Move) String() string {
	return fmt.Sprintf("move:%s[]->%s[]", a.Src.nxmName(), a.Dst.nxmName())
}

// nxastRegMove is NXAST_REG_MOVE: n_bits, src_ofs, dst_ofs, then the two field headers.
const (
	nxastRegMove      = 6
	nxRegMoveLength   = 24
	nxmHeaderHasMask  = 0x100
	nxmHeaderFieldBit = 9
)

func nxmHeader(f Field) uint32 {
	info := fieldInfos[f]
	return uint32(info.Class)<<16 | uint32(info.OXM)<<nxmHeaderFieldBit | uint32(info.Width)
}

func encodeMove(a Move) ([]byte, error) {
	if !a.Src.Known() || !a.Dst.Known() || fieldInfos[a.Src].Width != fieldInfos[a.Dst].Width {
		return nil, fmt.Errorf("%s: fields must be known and of one width", a)
	}
	b := make([]byte, nxRegMoveLength)
	binary.BigEndian.PutUint16(b[0:], 0xffff)
	binary.BigEndian.PutUint16(b[2:], nxRegMoveLength)
	binary.BigEndian.PutUint32(b[4:], nxExperimenter)
	binary.BigEndian.PutUint16(b[8:], nxastRegMove)
	binary.BigEndian.PutUint16(b[10:], uint16(fieldInfos[a.Src].Width*8))
	// src_ofs and dst_ofs are 0: whole fields.
	binary.BigEndian.PutUint32(b[16:], nxmHeader(a.Src))
	binary.BigEndian.PutUint32(b[20:], nxmHeader(a.Dst))
	return b, nil
}

func decodeMove(r []byte) (Move, bool) {
	if len(r) != nxRegMoveLength || binary.BigEndian.Uint32(r[12:]) != 0 {
		return Move{}, false
	}
	field := func(h uint32) (Field, bool) {
		if h&nxmHeaderHasMask != 0 {
			return 0, false
		}
		return fieldByHeader(uint16(h>>16), uint8(h>>nxmHeaderFieldBit&0x7f))
	}
	src, ok1 := field(binary.BigEndian.Uint32(r[16:]))
	dst, ok2 := field(binary.BigEndian.Uint32(r[20:]))
	if !ok1 || !ok2 || int(binary.BigEndian.Uint16(r[10:])) != fieldInfos[src].Width*8 || fieldInfos[src].Width != fieldInfos[dst].Width {
		return Move{}, false
	}
	return Move{Src: src, Dst: dst}, true
}

// nxm0Fields maps the old NXM_OF_* numbers (class 0x0000), which OVS may use in a move's field
// headers, to ovsgw's fields.
var nxm0Fields = map[uint8]Field{
	0: FieldInPort, 1: FieldEthDst, 2: FieldEthSrc, 3: FieldEthType, 6: FieldIPProto,
	7: FieldIPv4Src, 8: FieldIPv4Dst, 15: FieldARPOp, 16: FieldARPSPA, 17: FieldARPTPA,
}

// nxm1Aliases maps NXM_NX_* numbers of fields that ovsgw lists under their OXM basic numbers.
var nxm1Aliases = map[uint8]Field{16: FieldTunID, 17: FieldARPSHA, 18: FieldARPTHA, 19: FieldIPv6Src, 20: FieldIPv6Dst}

func fieldByHeader(class uint16, field uint8) (Field, bool) {
	switch class {
	case oxmClassNXM0:
		f, ok := nxm0Fields[field]
		return f, ok
	case oxmClassNXM1:
		if f, ok := nxm1Aliases[field]; ok {
			return f, true
		}
	}
	return FieldByOXM(class, field)
}

// nxmName is the name ovs-ofctl prints for a field inside move.
func (f Field) nxmName() string {
	for n, nf := range nxm0Fields {
		if nf == f {
			return "NXM_OF_" + strings.ToUpper(nxm0Names[n])
		}
	}
	switch f {
	case FieldARPSHA:
		return "NXM_NX_ARP_SHA"
	case FieldARPTHA:
		return "NXM_NX_ARP_THA"
	case FieldTunID:
		return "NXM_NX_TUN_ID"
	case FieldConjID:
		return "NXM_NX_CONJ_ID"
	case FieldIPTTL:
		return "NXM_NX_IP_TTL"
	case FieldIPv6Src:
		return "NXM_NX_IPV6_SRC"
	case FieldIPv6Dst:
		return "NXM_NX_IPV6_DST"
	}
	if f >= FieldReg0 && f <= FieldReg7 {
		return fmt.Sprintf("NXM_NX_REG%d", f-FieldReg0)
	}
	return f.String()
}

var nxm0Names = map[uint8]string{
	0: "in_port", 1: "eth_dst", 2: "eth_src", 3: "eth_type", 6: "ip_proto",
	7: "ip_src", 8: "ip_dst", 15: "arp_op", 16: "arp_spa", 17: "arp_tpa",
}

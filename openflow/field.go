package openflow

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
)

// Field names a match field that ovsgw matches on or writes with set_field. Fields are listed in
// canonical order: a Match always prints them in this order, whatever order OVS returned them in.
type Field int

// The fields ovsgw uses. New fields go into fieldInfos too.
const (
	// FieldConjID is the conjunctive match id (NXM_NX_CONJ_ID): a flow matching conj_id=N holds
	// the actions of conjunctive match N (see Conjunction). It is read-only and not maskable.
	// It comes first because ovs-ofctl prints it before every other field ovsgw models.
	FieldConjID Field = iota
	FieldInPort
	FieldReg0
	FieldReg1
	FieldReg2
	FieldReg3
	FieldReg4
	FieldReg5
	FieldReg6
	FieldReg7
	FieldTunID
	FieldTunIPv4Src
	FieldTunIPv4Dst
	FieldCTState
	FieldCTZone
	FieldEthSrc
	FieldEthDst
	FieldEthType
	FieldVlanVID
	FieldARPOp
	FieldARPSPA
	FieldARPTPA
	FieldARPSHA
	FieldARPTHA
	FieldIPProto
	FieldIPv4Src
	FieldIPv4Dst
	FieldIPv6Src
	FieldIPv6Dst
	FieldTCPSrc
	FieldTCPDst
	FieldUDPSrc
	FieldUDPDst
	FieldICMPType
	FieldICMPCode
	FieldICMPv6Type
	FieldICMPv6Code
	FieldNDTarget // IPv6 neighbour discovery target (needs icmpv6_type 135 or 136)
	// FieldIPTTL is the IPv4 TTL or IPv6 hop limit (NXM_NX_IP_TTL; not maskable in OVS).
	FieldIPTTL
	numFields
)

// OXM classes (OpenFlow 1.3 section 7.2.3.2; NXM_1 is Open vSwitch's extension class).
const (
	oxmClassNXM0  uint16 = 0x0000
	oxmClassNXM1  uint16 = 0x0001
	oxmClassBasic uint16 = 0x8000
)

// valueKind says how a field's value prints.
type valueKind int

const (
	kindDecimal valueKind = iota
	kindHex
	kindPort
	kindMAC
	kindIPv4
	kindIPv6
	kindVlanVID
	kindCTState
)

// FieldInfo describes a field: its ovs-ofctl name, OXM class and number, and width in bytes.
type FieldInfo struct {
	Name  string
	Class uint16
	OXM   uint8
	Width int
	kind  valueKind
}

var fieldInfos = [numFields]FieldInfo{
	FieldConjID:     {"conj_id", oxmClassNXM1, 37, 4, kindDecimal},
	FieldInPort:     {"in_port", oxmClassBasic, 0, 4, kindPort},
	FieldReg0:       {"reg0", oxmClassNXM1, 0, 4, kindHex},
	FieldReg1:       {"reg1", oxmClassNXM1, 1, 4, kindHex},
	FieldReg2:       {"reg2", oxmClassNXM1, 2, 4, kindHex},
	FieldReg3:       {"reg3", oxmClassNXM1, 3, 4, kindHex},
	FieldReg4:       {"reg4", oxmClassNXM1, 4, 4, kindHex},
	FieldReg5:       {"reg5", oxmClassNXM1, 5, 4, kindHex},
	FieldReg6:       {"reg6", oxmClassNXM1, 6, 4, kindHex},
	FieldReg7:       {"reg7", oxmClassNXM1, 7, 4, kindHex},
	FieldTunID:      {"tun_id", oxmClassBasic, 38, 8, kindHex},
	FieldTunIPv4Src: {"tun_src", oxmClassNXM1, 31, 4, kindIPv4},
	FieldTunIPv4Dst: {"tun_dst", oxmClassNXM1, 32, 4, kindIPv4},
	FieldCTState:    {"ct_state", oxmClassNXM1, 105, 4, kindCTState},
	FieldCTZone:     {"ct_zone", oxmClassNXM1, 106, 2, kindDecimal},
	FieldEthSrc:     {"dl_src", oxmClassBasic, 4, 6, kindMAC},
	FieldEthDst:     {"dl_dst", oxmClassBasic, 3, 6, kindMAC},
	FieldEthType:    {"dl_type", oxmClassBasic, 5, 2, kindHex},
	FieldVlanVID:    {"vlan_vid", oxmClassBasic, 6, 2, kindVlanVID},
	FieldARPOp:      {"arp_op", oxmClassBasic, 21, 2, kindDecimal},
	FieldARPSPA:     {"arp_spa", oxmClassBasic, 22, 4, kindIPv4},
	FieldARPTPA:     {"arp_tpa", oxmClassBasic, 23, 4, kindIPv4},
	FieldARPSHA:     {"arp_sha", oxmClassBasic, 24, 6, kindMAC},
	FieldARPTHA:     {"arp_tha", oxmClassBasic, 25, 6, kindMAC},
	FieldIPProto:    {"nw_proto", oxmClassBasic, 10, 1, kindDecimal},
	FieldIPv4Src:    {"nw_src", oxmClassBasic, 11, 4, kindIPv4},
	FieldIPv4Dst:    {"nw_dst", oxmClassBasic, 12, 4, kindIPv4},
	FieldIPv6Src:    {"ipv6_src", oxmClassBasic, 26, 16, kindIPv6},
	FieldIPv6Dst:    {"ipv6_dst", oxmClassBasic, 27, 16, kindIPv6},
	FieldTCPSrc:     {"tcp_src", oxmClassBasic, 13, 2, kindDecimal},
	FieldTCPDst:     {"tcp_dst", oxmClassBasic, 14, 2, kindDecimal},
	FieldUDPSrc:     {"udp_src", oxmClassBasic, 15, 2, kindDecimal},
	FieldUDPDst:     {"udp_dst", oxmClassBasic, 16, 2, kindDecimal},
	FieldICMPType:   {"icmp_type", oxmClassBasic, 19, 1, kindDecimal},
	FieldICMPCode:   {"icmp_code", oxmClassBasic, 20, 1, kindDecimal},
	FieldICMPv6Type: {"icmpv6_type", oxmClassBasic, 29, 1, kindDecimal},
	FieldICMPv6Code: {"icmpv6_code", oxmClassBasic, 30, 1, kindDecimal},
	FieldNDTarget:   {"nd_target", oxmClassBasic, 31, 16, kindIPv6},
	FieldIPTTL:      {"nw_ttl", oxmClassNXM1, 29, 1, kindDecimal},
}

// VlanPresent is OFPVID_PRESENT: set in a VLAN_VID value when the frame carries an 802.1Q tag.
const VlanPresent = 0x1000

// fieldUnknown is the first of the Field values that stand for OXM fields ovsgw does not model
// (see UnknownField); the low 24 bits hold the OXM class and the field byte (number<<1|hasmask).
const fieldUnknown Field = 1 << 24

// UnknownField returns the Field standing for an OXM field ovsgw does not model, so that a match
// decoded from a flow someone else installed stays representable instead of failing the dump.
// Such a MatchField's Value is the OXM payload exactly as received (experimenter id and mask
// included, Mask nil); it sorts after every known field and prints as
// "oxm(class=0x8000,field=7)=0x05" (",masked" when the payload carries a mask).
func UnknownField(class uint16, oxm uint8, hasMask bool) Field {
	b := Field(oxm&0x7f) << 1
	if hasMask {
		b |= 1
	}
	return fieldUnknown | Field(class)<<8 | b
}

// Known reports whether f is one of the fields ovsgw models (not an UnknownField).
func (f Field) Known() bool { return f >= 0 && f < numFields }

// unknownOXM splits an UnknownField into its OXM class, field number and has-mask bit.
func (f Field) unknownOXM() (class uint16, oxm uint8, hasMask bool) {
	return uint16(f >> 8), uint8(f&0xff) >> 1, f&1 == 1
}

// Info returns the field's description. For an UnknownField, Width is 0 (its value is raw).
func (f Field) Info() FieldInfo {
	if f.Known() {
		return fieldInfos[f]
	}
	if f >= fieldUnknown {
		class, oxm, _ := f.unknownOXM()
		return FieldInfo{Name: f.String(), Class: class, OXM: oxm, kind: kindHex}
	}
	return FieldInfo{Name: f.String(), kind: kindHex}
}

func (f Field) String() string {
	if f.Known() {
		return fieldInfos[f].Name
	}
	if f >= fieldUnknown {
		class, oxm, hasMask := f.unknownOXM()
		if hasMask {
			return fmt.Sprintf("oxm(class=%#04x,field=%d,masked)", class, oxm)
		}
		return fmt.Sprintf("oxm(class=%#04x,field=%d)", class, oxm)
	}
	return fmt.Sprintf("field%d", int(f))
}

// FieldByOXM finds a field by OXM class and number; ok is false for fields ovsgw does not know.
func FieldByOXM(class uint16, oxm uint8) (Field, bool) {
	for f := Field(0); f < numFields; f++ {
		if fieldInfos[f].Class == class && fieldInfos[f].OXM == oxm {
			return f, true
		}
	}
	return 0, false
}

// Uint returns value bytes of the field's width holding v (big-endian, truncated to the width).
func (f Field) Uint(v uint64) []byte {
	w := fieldInfos[f].Width
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	if w > 8 {
		out := make([]byte, w)
		copy(out[w-8:], b[:])
		return out
	}
	return append([]byte(nil), b[8-w:]...)
}

// Reg returns the register field reg0..reg7.
func Reg(n int) Field { return FieldReg0 + Field(n) }

func toUint(b []byte) uint64 {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}

// formatValue prints a value of field f the way ovs-ofctl reads it (an unknown field's raw
// payload as hex with every byte, so that differing payloads never print alike).
func formatValue(f Field, v []byte) string {
	if !f.Known() {
		return "0x" + hex.EncodeToString(v)
	}
	switch fieldInfos[f].kind {
	case kindMAC:
		return net.HardwareAddr(v).String()
	case kindIPv4:
		return net.IP(v).To4().String()
	case kindIPv6:
		return net.IP(v).String()
	case kindHex:
		return "0x" + strconv.FormatUint(toUint(v), 16)
	case kindPort:
		return strconv.FormatUint(toUint(v), 10)
	default:
		return strconv.FormatUint(toUint(v), 10)
	}
}

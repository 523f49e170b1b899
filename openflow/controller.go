package openflow

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// Controller sends the packet to the controller in a packet-in (Open vSwitch's controller
// action, ovs-actions(7)). Userdata comes back as PacketIn.Userdata, so a flow can say why it
// sent the packet (DHCPv4, router solicitation, ...) without the agent parsing it first;
// the pipeline registers (the VMI, the VN) come back in PacketIn.Match. With MeterID set, the
// packet-in passes that meter first (OVS's meter_id option): a packet-in the meter drops is
// never sent, while the flow's other actions still run.
//
// With Userdata or MeterID it is NXAST_CONTROLLER2, whose extras reach a connection only in
// the NXT_PACKET_IN2 format, which ListenPacketIns asks for. Without both it is what OVS
// itself makes of it, an output to CONTROLLER: a Controller{} prints and compares as
// Output{PortController}.
type Controller struct {
	// MaxLen is how many bytes of the frame to send; 0 (or 65535) sends the whole frame.
	// OVS 3.1 honours it only in the standard packet-in format: in NXT_PACKET_IN2, the one
	// ListenPacketIns asks for, the whole frame comes (TestPacketInOutAndMeters saw so).
	MaxLen   uint16
	Userdata []byte
	MeterID  uint32 // 0: none
}

// MeterAction passes the flow's packets through a meter first (the OpenFlow 1.3 meter
// instruction; OVS requires it first in a flow's actions). A packet the meter drops runs none
// of the flow's actions.
type MeterAction struct{ ID uint32 }

func (Controller) action()  {}
func (MeterAction) action() {}

func (a MeterAction) String() string { return fmt.Sprintf("meter:%d", a.ID) }

// canonical folds the two spellings of "whole frame" into MaxLen 0.
func (a Controller) canonical() Controller {
	if a.MaxLen == ofpCMLNoBuffer {
		a.MaxLen = 0
	}
	return a
}

// plain reports whether the action is an output to CONTROLLER (no userdata, no meter); whole
// says whether it sends the whole frame, i.e. is exactly Output{PortController}.
func (a Controller) plain() (plain, whole bool) {
	a = a.canonical()
	plain = len(a.Userdata) == 0 && a.MeterID == 0
	return plain, plain && a.MaxLen == 0
}

// String is ovs-ofctl's spelling: "CONTROLLER" for the whole frame without extras, otherwise
// "controller(max_len=N,userdata=01.02,meter_id=M)" with the parts that are set.
func (a Controller) String() string {
	a = a.canonical()
	if _, whole := a.plain(); whole {
		return Output{Port: PortController}.String()
	}
	var parts []string
	if a.MaxLen != 0 {
		parts = append(parts, fmt.Sprintf("max_len=%d", a.MaxLen))
	}
	if len(a.Userdata) > 0 {
		parts = append(parts, "userdata="+dottedHex(a.Userdata))
	}
	if a.MeterID != 0 {
		parts = append(parts, fmt.Sprintf("meter_id=%d", a.MeterID))
	}
	return "controller(" + strings.Join(parts, ",") + ")"
}

// dottedHex prints bytes as OVS prints userdata: two hex digits a byte, dot-separated.
func dottedHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = hex.EncodeToString([]byte{x})
	}
	return strings.Join(parts, ".")
}

// Nicira controller2 action (nx_action_controller2): the experimenter header, 6 zero bytes,
// then properties (ofp_prop_header: type, length without padding; padded to 8 bytes).
const (
	nxastController2       = 37
	nxac2ptMaxLen          = 0 // NXAC2PT_MAX_LEN; 1, 2 and 4 (id, reason, pause) ovsgw does not use
	nxac2ptUserdata        = 3
	nxac2ptMeterID         = 5
	nxController2HeaderLen = 16
	// maxUserdata keeps a controller action, and the flow mod holding it, well inside one
	// OpenFlow message; a purpose tag needs a few bytes.
	maxUserdata = 1024
)

func pad8(n int) int { return (n + 7) / 8 * 8 }

// encodeController encodes a as OVS does: an output to CONTROLLER without extras, else
// NXAST_CONTROLLER2 with the max_len, userdata and meter_id properties in that order.
func encodeController(a Controller) ([]byte, error) {
	a = a.canonical()
	if len(a.Userdata) > maxUserdata {
		return nil, fmt.Errorf("%s: userdata of %d bytes, at most %d", a, len(a.Userdata), maxUserdata)
	}
	if plain, _ := a.plain(); plain {
		b := make([]byte, 16)
		binary.BigEndian.PutUint16(b[0:], 0) // OFPAT_OUTPUT
		binary.BigEndian.PutUint16(b[2:], 16)
		binary.BigEndian.PutUint32(b[4:], PortController)
		ml := a.MaxLen
		if ml == 0 {
			ml = ofpCMLNoBuffer
		}
		binary.BigEndian.PutUint16(b[8:], ml)
		return b, nil
	}
	b := make([]byte, nxController2HeaderLen)
	binary.BigEndian.PutUint16(b[0:], 0xffff)
	binary.BigEndian.PutUint32(b[4:], nxExperimenter)
	binary.BigEndian.PutUint16(b[8:], nxastController2)
	prop := func(typ uint16, v []byte) {
		p := make([]byte, pad8(4+len(v)))
		binary.BigEndian.PutUint16(p[0:], typ)
		binary.BigEndian.PutUint16(p[2:], uint16(4+len(v)))
		copy(p[4:], v)
		b = append(b, p...)
	}
	if a.MaxLen != 0 {
		// OVS writes a 16-bit property as 4 bytes, the value and 2 zero bytes (length 8).
		prop(nxac2ptMaxLen, []byte{byte(a.MaxLen >> 8), byte(a.MaxLen), 0, 0})
	}
	if len(a.Userdata) > 0 {
		prop(nxac2ptUserdata, a.Userdata)
	}
	if a.MeterID != 0 {
		prop(nxac2ptMeterID, binary.BigEndian.AppendUint32(nil, a.MeterID))
	}
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b, nil
}

// decodeController2 reads an NXAST_CONTROLLER2 action that encodeController could have
// written; ok is false for anything else (a controller id, a reason, pause, max_len 0, or no
// extras at all), which stays an UnknownAction.
func decodeController2(r []byte) (Controller, bool) {
	var a Controller
	if len(r) < nxController2HeaderLen || !isAllZeros(r[10:16]) {
		return a, false
	}
	seen := map[uint16]bool{}
	for p := r[nxController2HeaderLen:]; len(p) > 0; {
		if len(p) < 4 {
			return a, false
		}
		typ, l := be16(p), int(be16(p[2:]))
		if l < 4 || pad8(l) > len(p) || seen[typ] {
			return a, false
		}
		seen[typ] = true
		v := p[4:l]
		switch typ {
		case nxac2ptMaxLen:
			if l != 8 || be16(v) == 0 || be16(v) == ofpCMLNoBuffer {
				return a, false
			}
			a.MaxLen = be16(v)
		case nxac2ptUserdata:
			if len(v) == 0 || len(v) > maxUserdata {
				return a, false
			}
			a.Userdata = rawCopy(v)
		case nxac2ptMeterID:
			if l != 8 || be32(v) == 0 {
				return a, false
			}
			a.MeterID = be32(v)
		default:
			return a, false
		}
		p = p[pad8(l):]
	}
	if plain, _ := a.plain(); plain {
		return a, false // OVS keeps such a raw NXAST_CONTROLLER2; we would send an output
	}
	// Re-encoding must give the same bytes (property order, padding), or it is not ours.
	if b, err := encodeController(a); err != nil || string(b) != string(r) {
		return a, false
	}
	return a, true
}

// parseController reads "controller(...)" as Controller.String prints it (the parts in any
// order, each at most once). The whole-frame form without extras is Output{PortController},
// which is how that action decodes.
func parseController(tok, args string) (Action, error) {
	var a Controller
	seen := map[string]bool{}
	if args != "" {
		for _, p := range strings.Split(args, ",") {
			key, val, _ := strings.Cut(p, "=")
			if seen[key] {
				return nil, parseErr(tok, "controller argument %q given twice", key)
			}
			seen[key] = true
			switch key {
			case "max_len":
				n, err := parseDecimal(tok, val, 16)
				if err != nil {
					return nil, err
				}
				if n == 0 {
					return nil, parseErr(tok, "max_len=0 sends no byte of the packet; ovsgw does not use it")
				}
				a.MaxLen = uint16(n)
			case "userdata":
				b, err := hex.DecodeString(strings.ReplaceAll(val, ".", ""))
				if err != nil || len(b) == 0 || len(b) > maxUserdata {
					return nil, parseErr(tok, "userdata is 1 to %d bytes in hex, dot-separated or not", maxUserdata)
				}
				a.Userdata = b
			case "meter_id":
				n, err := parseDecimal(tok, val, 32)
				if err != nil {
					return nil, err
				}
				if n == 0 {
					return nil, parseErr(tok, "meter_id=0 is no meter: leave it out")
				}
				a.MeterID = uint32(n)
			default:
				return nil, parseErr(tok, "controller argument %q: want max_len=N, userdata=HEX or meter_id=N", p)
			}
		}
	}
	a = a.canonical()
	if _, whole := a.plain(); whole {
		return Output{Port: PortController}, nil
	}
	return a, nil
}

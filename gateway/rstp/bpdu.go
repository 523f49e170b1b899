package rstp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"
)

// BPDU types and flags (802.1D-2004 9.3).
const (
	TypeConfig = 0x00 // STP configuration BPDU
	TypeTCN    = 0x80 // STP topology change notification
	TypeRST    = 0x02 // RSTP BPDU (protocol version 2)

	FlagTC         = 0x01
	FlagProposal   = 0x02
	FlagLearning   = 0x10
	FlagForwarding = 0x20
	FlagAgreement  = 0x40
	FlagTCAck      = 0x80
	roleMask       = 0x0c
	roleShift      = 2
)

// Role is a port role as an RST BPDU encodes it (802.1D-2004 9.2.9).
type Role uint8

const (
	RoleUnknown    Role = 0
	RoleAltBackup  Role = 1
	RoleRoot       Role = 2
	RoleDesignated Role = 3
)

func (r Role) String() string {
	switch r {
	case RoleAltBackup:
		return "alternate/backup"
	case RoleRoot:
		return "root"
	case RoleDesignated:
		return "designated"
	}
	return "unknown"
}

// Frame sizes: Ethernet header (14), LLC (3), then the BPDU (35 for a configuration BPDU, 36 for
// an RST BPDU, with its Version 1 Length byte).
const (
	ethLen    = 14
	llcLen    = 3
	configLen = 35
	rstLen    = 36
)

// Multicast is where BPDUs go (802.1D-2004 7.12.3).
var Multicast = net.HardwareAddr{0x01, 0x80, 0xc2, 0x00, 0x00, 0x00}

// BPDU is one configuration or RST BPDU. Times are in 1/256 s, as on the wire.
type BPDU struct {
	Type       uint8
	Flags      uint8
	Root       uint64 // root bridge id: priority (16 bits) and address (48)
	Cost       uint32 // root path cost
	Bridge     uint64 // designated bridge id
	Port       uint16 // designated port id: priority (4 bits) and number (12)
	MessageAge uint16
	MaxAge     uint16
	Hello      uint16
	FwdDelay   uint16
}

// Role is the port role the BPDU conveys; a configuration BPDU always comes from a designated
// port (802.1D-2004 17.21.8).
func (b BPDU) Role() Role {
	if b.Type == TypeConfig {
		return RoleDesignated
	}
	return Role((b.Flags & roleMask) >> roleShift)
}

// Has reports whether every flag of f is set.
func (b BPDU) Has(f uint8) bool { return b.Flags&f == f }

// Expired reports whether the information has reached its max age: a port that receives it
// ages it out at once (802.1D-2004 17.21.23).
func (b BPDU) Expired() bool { return b.MessageAge >= b.MaxAge }

// HelloTime is the sender's hello time; at least one second, as a receiver reads it.
func (b BPDU) HelloTime() time.Duration {
	if b.Hello < 256 {
		return time.Second
	}
	return time.Duration(b.Hello) * time.Second / 256
}

// Key names the designated port that sent the information: bridge and port id.
func (b BPDU) Key() string { return fmt.Sprintf("%s/%#04x", BridgeID(b.Bridge), b.Port) }

// Vector is the message priority vector (root, cost, designated bridge, designated port).
type Vector struct {
	Root   uint64
	Cost   uint32
	Bridge uint64
	Port   uint16
}

// Vector returns the BPDU's message priority vector.
func (b BPDU) Vector() Vector { return Vector{b.Root, b.Cost, b.Bridge, b.Port} }

// Better reports whether v is strictly better than w (802.1D-2004 17.6: lower is better,
// compared component by component).
func (v Vector) Better(w Vector) bool {
	switch {
	case v.Root != w.Root:
		return v.Root < w.Root
	case v.Cost != w.Cost:
		return v.Cost < w.Cost
	case v.Bridge != w.Bridge:
		return v.Bridge < w.Bridge
	}
	return v.Port < w.Port
}

// BridgeID formats a bridge id as OVS and most switches print it: priority.address.
func BridgeID(id uint64) string {
	return fmt.Sprintf("%d.%012x", id>>48, id&0xffffffffffff)
}

func (b BPDU) String() string {
	kind := "RST"
	if b.Type == TypeConfig {
		kind = "config"
	}
	var flags []byte
	for _, f := range []struct {
		bit  uint8
		name byte
	}{{FlagProposal, 'P'}, {FlagAgreement, 'A'}, {FlagLearning, 'L'}, {FlagForwarding, 'F'}, {FlagTC, 'T'}} {
		if b.Has(f.bit) {
			flags = append(flags, f.name)
		}
	}
	return fmt.Sprintf("%s BPDU from %s (%s) root %s cost %d flags %q age %d/%d s",
		kind, b.Key(), b.Role(), BridgeID(b.Root), b.Cost, flags, b.MessageAge/256, b.MaxAge/256)
}

var (
	errShort    = errors.New("frame too short for a BPDU")
	errNotBPDU  = errors.New("not an 802.2 LLC frame to the spanning tree's SAP")
	errProtocol = errors.New("BPDU protocol identifier is not 0")
)

// Parse reads a BPDU from an Ethernet frame (untagged, 802.2 LLC, DSAP and SSAP 0x42). A TCN
// BPDU is returned with its type only.
func Parse(frame []byte) (BPDU, error) {
	if len(frame) < ethLen+llcLen+4 {
		return BPDU{}, errShort
	}
	if l := binary.BigEndian.Uint16(frame[12:14]); l > 1500 || frame[14] != 0x42 || frame[15] != 0x42 || frame[16] != 0x03 {
		return BPDU{}, errNotBPDU
	}
	p := frame[ethLen+llcLen:]
	if binary.BigEndian.Uint16(p[0:2]) != 0 {
		return BPDU{}, errProtocol
	}
	b := BPDU{Type: p[3]}
	switch b.Type {
	case TypeTCN:
		return b, nil
	case TypeConfig:
		if len(p) < configLen {
			return BPDU{}, errShort
		}
	case TypeRST:
		if len(p) < rstLen {
			return BPDU{}, errShort
		}
	default:
		return BPDU{}, fmt.Errorf("unknown BPDU type %#02x", b.Type)
	}
	b.Flags = p[4]
	b.Root = binary.BigEndian.Uint64(p[5:13])
	b.Cost = binary.BigEndian.Uint32(p[13:17])
	b.Bridge = binary.BigEndian.Uint64(p[17:25])
	b.Port = binary.BigEndian.Uint16(p[25:27])
	b.MessageAge = binary.BigEndian.Uint16(p[27:29])
	b.MaxAge = binary.BigEndian.Uint16(p[29:31])
	b.Hello = binary.BigEndian.Uint16(p[31:33])
	b.FwdDelay = binary.BigEndian.Uint16(p[33:35])
	return b, nil
}

// Frame encodes the BPDU (configuration or RST) into an Ethernet frame from src to the
// spanning tree's multicast address, padded to the 60-byte minimum.
func (b BPDU) Frame(src net.HardwareAddr) []byte {
	n := configLen
	if b.Type == TypeRST {
		n = rstLen
	}
	f := make([]byte, max(ethLen+llcLen+n, 60))
	copy(f[0:6], Multicast)
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:14], uint16(llcLen+n))
	f[14], f[15], f[16] = 0x42, 0x42, 0x03
	p := f[ethLen+llcLen:]
	if b.Type == TypeRST {
		p[2] = 2 // protocol version: RSTP
	}
	p[3] = b.Type
	p[4] = b.Flags
	binary.BigEndian.PutUint64(p[5:13], b.Root)
	binary.BigEndian.PutUint32(p[13:17], b.Cost)
	binary.BigEndian.PutUint64(p[17:25], b.Bridge)
	binary.BigEndian.PutUint16(p[25:27], b.Port)
	binary.BigEndian.PutUint16(p[27:29], b.MessageAge)
	binary.BigEndian.PutUint16(p[29:31], b.MaxAge)
	binary.BigEndian.PutUint16(p[31:33], b.Hello)
	binary.BigEndian.PutUint16(p[33:35], b.FwdDelay)
	return f
}

package openflow

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// Note does nothing to the packet: it carries bytes for whoever reads the flow or group back
// (Open vSwitch's note action, NXAST_NOTE; ovs-actions(7)). ovsgw marks its groups with one,
// groups having no cookie.
//
// On the wire the bytes are padded with zeros to fill the action's 8-byte multiple, and the
// switch gives them back padded; so that a Note compares equal to what the switch returns,
// Data is taken padded too: String, the flow table's encoding and the codec all use the padded
// bytes (Padded), and a Note of 6, 14, 22... bytes is the same before and after a round trip.
type Note struct{ Data []byte }

func (Note) action() {}

// Nicira note action layout (nx_action_note): experimenter header, subtype, then the bytes.
const (
	nxastNote       = 8
	nxNoteHeaderLen = 10
	nxNoteMinLen    = 16
)

// Padded returns the note's bytes as the switch stores them: zero-padded so that the action
// (10 header bytes and the note) is a multiple of 8 bytes long, at least 16.
func (a Note) Padded() []byte {
	n := max(nxNoteMinLen, (nxNoteHeaderLen+len(a.Data)+7)/8*8) - nxNoteHeaderLen
	if n == len(a.Data) {
		return a.Data
	}
	out := make([]byte, n)
	copy(out, a.Data)
	return out
}

// String is ovs-ofctl's spelling, "note:" and the bytes in hex separated by dots.
func (a Note) String() string {
	var b strings.Builder
	b.WriteString("note:")
	for i, x := range a.Padded() {
		if i > 0 {
			b.WriteByte('.')
		}
		fmt.Fprintf(&b, "%02x", x)
	}
	return b.String()
}

// maxNoteLen keeps a note's action within an action's 16-bit length.
const maxNoteLen = 0xfff8 - nxNoteHeaderLen

func encodeNote(a Note) ([]byte, error) {
	data := a.Padded()
	if len(data) > maxNoteLen {
		return nil, fmt.Errorf("note of %d bytes is too long for one action", len(a.Data))
	}
	b := make([]byte, nxNoteHeaderLen, nxNoteHeaderLen+len(data))
	binary.BigEndian.PutUint16(b[0:], 0xffff) // OFPAT_EXPERIMENTER
	binary.BigEndian.PutUint16(b[2:], uint16(nxNoteHeaderLen+len(data)))
	binary.BigEndian.PutUint32(b[4:], nxExperimenter)
	binary.BigEndian.PutUint16(b[8:], nxastNote)
	return append(b, data...), nil
}

// decodeNote reads a note action; ok is false for a length OVS would not send.
func decodeNote(r []byte) (Note, bool) {
	if len(r) < nxNoteMinLen || len(r)%8 != 0 {
		return Note{}, false
	}
	return Note{Data: rawCopy(r[nxNoteHeaderLen:])}, true
}

// parseNote reads the bytes after "note:": hex bytes, each of two digits, separated by dots.
func parseNote(tok, arg string) (Action, error) {
	var data []byte
	for i, part := range strings.Split(arg, ".") {
		if len(part) != 2 {
			return nil, parseErr(tok, "note byte %d: want two hex digits, not %q", i+1, part)
		}
		x, err := hex.DecodeString(part)
		if err != nil {
			return nil, parseErr(tok, "note byte %d: %q is not hex", i+1, part)
		}
		data = append(data, x...)
	}
	return Note{Data: Note{Data: data}.Padded()}, nil
}

package openflow

import (
	"context"
	"encoding/binary"
	"fmt"

	"antrea.io/libOpenflow/openflow13"
	"antrea.io/libOpenflow/util"
)

// PacketOut is a frame the controller injects into the switch, to run actions on.
type PacketOut struct {
	// InPort is the port the frame counts as having entered on: flows the actions resubmit
	// to match it as in_port. 0 means PortController (OFPP_CONTROLLER), the usual choice.
	InPort uint32
	// Actions run on the frame: typically Output to a port, or SetField of registers then
	// Resubmit into the pipeline. Instructions (GotoTable, Meter) are not allowed.
	Actions []Action
	Data    []byte // the frame, from its Ethernet header
}

func (p PacketOut) String() string {
	in := p.InPort
	if in == 0 {
		in = PortController
	}
	return fmt.Sprintf("packet-out in_port=%s actions=%s (%d bytes)", formatValue(FieldInPort, FieldInPort.Uint(uint64(in))), actionsString(p.Actions), len(p.Data))
}

// ofpPacketOutLen is ofp_packet_out before the actions: header, buffer_id, in_port,
// actions_len, 6 bytes of padding.
const ofpPacketOutLen = 24

// encodePacketOut builds the OFPT_PACKET_OUT message (xid 0; the session stamps it).
func encodePacketOut(p PacketOut) (rawMessage, error) {
	if len(p.Data) < 14 {
		return nil, fmt.Errorf("%s: a frame has at least an Ethernet header (14 bytes)", p)
	}
	acts, err := encodeActionList(p.Actions)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	var ab []byte
	for _, a := range acts {
		b, err := a.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		ab = append(ab, b...)
	}
	n := ofpPacketOutLen + len(ab) + len(p.Data)
	if n > 0xffff {
		return nil, fmt.Errorf("%s: %d bytes do not fit in one OpenFlow message", p, n)
	}
	in := p.InPort
	if in == 0 {
		in = PortController
	}
	b := make([]byte, ofpPacketOutLen, n)
	b[0], b[1] = openflow13.VERSION, openflow13.Type_PacketOut
	binary.BigEndian.PutUint16(b[2:], uint16(n))
	binary.BigEndian.PutUint32(b[8:], ofpNoBuffer)
	binary.BigEndian.PutUint32(b[12:], in)
	binary.BigEndian.PutUint16(b[16:], uint16(len(ab)))
	b = append(append(b, ab...), p.Data...)
	return b, nil
}

// SendPackets sends packet-outs in order, followed by one barrier, and returns when the switch
// has run them all: a refused packet-out (a bad action or port) is an error naming it, the
// others still ran. One barrier for a batch, since a barrier is a round trip to the switch.
func (c *Conn) SendPackets(ctx context.Context, pkts ...PacketOut) error {
	if len(pkts) == 0 {
		return nil
	}
	xids := make([]uint32, len(pkts)+1)
	out := make([]util.Message, len(pkts)+1)
	for i, p := range pkts {
		m, err := encodePacketOut(p)
		if err != nil {
			return err
		}
		xids[i] = c.nextXID()
		out[i] = m.util(xids[i])
	}
	barrier := newHeader(openflow13.Type_BarrierRequest)
	barrier.Xid = c.nextXID()
	xids[len(pkts)], out[len(pkts)] = barrier.Xid, &barrier
	return c.exchange(ctx, xids, out, func(i int, e *OFError) error {
		if i < len(pkts) {
			return fmt.Errorf("%s: %w", pkts[i], e)
		}
		return fmt.Errorf("barrier: %w", e)
	})
}

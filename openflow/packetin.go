package openflow

// Packet-ins: the switch's unsolicited messages carrying a packet a flow sent to us. The one
// reader goroutine decodes them and hands them to a bounded queue; it never waits for the
// consumer, since the same goroutine carries every reply (a slow consumer must not stall a
// bundle or a barrier), so a full queue drops the packet-in and counts it.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"antrea.io/libOpenflow/openflow13"
	"antrea.io/libOpenflow/util"
)

// PacketInReason says why the switch sent a packet-in (ofp_packet_in_reason; OpenFlow 1.3
// switches report the reasons after InvalidTTL as PacketInAction).
type PacketInReason uint8

// Packet-in reasons.
const (
	PacketInNoMatch    PacketInReason = 0
	PacketInAction     PacketInReason = 1
	PacketInInvalidTTL PacketInReason = 2
)

func (r PacketInReason) String() string {
	switch r {
	case PacketInNoMatch:
		return "no_match"
	case PacketInAction:
		return "action"
	case PacketInInvalidTTL:
		return "invalid_ttl"
	}
	return fmt.Sprintf("reason%d", uint8(r))
}

// PacketIn is one packet the switch sent to the controller.
type PacketIn struct {
	Reason PacketInReason
	Table  uint8  // the table of the flow that sent it
	Cookie uint64 // that flow's cookie (all ones when there was no flow)
	// Match holds the packet's pipeline metadata when it was sent: in_port, the registers,
	// the tunnel fields (OVS includes those that are not zero).
	Match Match
	// Userdata is the Controller action's Userdata (NXT_PACKET_IN2 only).
	Userdata []byte
	// Data is the frame from its Ethernet header, at most the action's MaxLen bytes;
	// TotalLen is the frame's full length.
	Data     []byte
	TotalLen int
}

// InPort returns the port the packet entered the switch on.
func (p PacketIn) InPort() (uint32, bool) {
	e, ok := p.Match.Get(FieldInPort)
	if !ok || e.Mask != nil || len(e.Value) != 4 {
		return 0, false
	}
	return be32(e.Value), true
}

// Reg returns register n (0..7) as the packet had it; a register that is absent was zero.
func (p PacketIn) Reg(n int) uint32 {
	e, ok := p.Match.Get(Reg(n))
	if !ok || e.Mask != nil || len(e.Value) != 4 {
		return 0
	}
	return be32(e.Value)
}

// PacketInStats counts the packet-ins of a connection since ListenPacketIns.
type PacketInStats struct {
	Received uint64 // decoded and queued for the consumer
	Dropped  uint64 // decoded, but the queue was full
	Bad      uint64 // could not be decoded
}

// packetInSink is the queue and counters ListenPacketIns sets up.
type packetInSink struct {
	ch                     chan PacketIn
	received, dropped, bad atomic.Uint64
}

// Nicira extension messages for packet-ins (OFPT_EXPERIMENTER with NX_VENDOR_ID).
const (
	nxtSetPacketInFormat = 16 // NXT_SET_PACKET_IN_FORMAT
	nxtPacketIn2         = 30 // NXT_PACKET_IN2
	nxpifPacketIn2       = 2  // NXPIF_NXT_PACKET_IN2
	// NXT_PACKET_IN2 properties (nx_packet_in2_prop_type).
	nxpintPacket   = 0
	nxpintFullLen  = 1
	nxpintTableID  = 3
	nxpintCookie   = 4
	nxpintReason   = 5
	nxpintMetadata = 6
	nxpintUserdata = 7
)

// ListenPacketIns turns on packet-ins for this connection and returns the queue they arrive
// on, holding at most queue of them (at least 1). It asks for OVS's NXT_PACKET_IN2 format,
// which carries the Controller action's userdata, and sets a non-zero miss_send_len: OVS sends
// no asynchronous message to a service connection (such as a bridge's .mgmt socket) without
// it. The channel is closed when the connection drops. A connection listens once.
func (c *Conn) ListenPacketIns(ctx context.Context, queue int) (<-chan PacketIn, error) {
	sink := &packetInSink{ch: make(chan PacketIn, max(queue, 1))}
	c.mu.Lock()
	switch {
	case c.err != nil:
		c.mu.Unlock()
		return nil, c.err
	case c.pins != nil:
		c.mu.Unlock()
		return nil, errors.New("openflow: this connection already listens for packet-ins")
	}
	c.pins = sink
	c.mu.Unlock()

	format := nxtMessage(nxtSetPacketInFormat, binary.BigEndian.AppendUint32(nil, nxpifPacketIn2))
	config := make([]byte, 12) // ofp_switch_config: flags 0 (normal fragments), miss_send_len
	config[0], config[1] = openflow13.VERSION, openflow13.Type_SetConfig
	binary.BigEndian.PutUint16(config[2:], 12)
	binary.BigEndian.PutUint16(config[10:], ofpCMLNoBuffer)
	if err := c.sendAndBarrier(ctx, "packet-in setup", format, config); err != nil {
		c.mu.Lock()
		if c.pins == sink {
			c.pins = nil
		}
		c.mu.Unlock()
		return nil, err
	}
	return sink.ch, nil
}

// PacketInStats returns the packet-in counters (all zero before ListenPacketIns).
func (c *Conn) PacketInStats() PacketInStats {
	c.mu.Lock()
	s := c.pins
	c.mu.Unlock()
	if s == nil {
		return PacketInStats{}
	}
	return PacketInStats{Received: s.received.Load(), Dropped: s.dropped.Load(), Bad: s.bad.Load()}
}

// deliverPacketIn decodes a packet-in frame and queues it without waiting.
func (c *Conn) deliverPacketIn(f frame) {
	c.mu.Lock()
	s := c.pins
	c.mu.Unlock()
	if s == nil {
		return
	}
	p, err := DecodePacketIn(f.b)
	if err != nil {
		s.bad.Add(1)
		return
	}
	select {
	case s.ch <- p:
		s.received.Add(1)
	default:
		s.dropped.Add(1)
	}
}

// closePacketIns closes the queue once the reader has stopped (it is the only sender).
func (c *Conn) closePacketIns() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pins != nil {
		close(c.pins.ch)
		c.pins = nil
	}
}

// isPacketIn reports whether a frame is a packet-in in either format.
func isPacketIn(f frame) bool {
	return f.typ == openflow13.Type_PacketIn ||
		(f.typ == openflow13.Type_Experimenter && len(f.b) >= 16 &&
			be32(f.b[8:]) == nxExperimenter && be32(f.b[12:]) == nxtPacketIn2)
}

// nxtMessage builds a Nicira extension message (nicira_header) with body.
func nxtMessage(subtype uint32, body []byte) []byte {
	b := make([]byte, 16, 16+len(body))
	b[0], b[1] = openflow13.VERSION, openflow13.Type_Experimenter
	binary.BigEndian.PutUint32(b[8:], nxExperimenter)
	binary.BigEndian.PutUint32(b[12:], subtype)
	b = append(b, body...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

// rawMessage is an encoded OpenFlow message whose header the session stamps with an xid.
type rawMessage []byte

func (m rawMessage) util(xid uint32) util.Message {
	b := rawCopy(m)
	binary.BigEndian.PutUint32(b[4:], xid)
	return util.NewBuffer(b)
}

// sendAndBarrier sends messages followed by a barrier and waits for the barrier's reply;
// an error reply to any of them fails the call (what names the messages in the error).
func (c *Conn) sendAndBarrier(ctx context.Context, what string, msgs ...rawMessage) error {
	xids := make([]uint32, len(msgs)+1)
	out := make([]util.Message, len(msgs)+1)
	for i, m := range msgs {
		xids[i] = c.nextXID()
		out[i] = m.util(xids[i])
	}
	barrier := newHeader(openflow13.Type_BarrierRequest)
	barrier.Xid = c.nextXID()
	xids[len(msgs)], out[len(msgs)] = barrier.Xid, &barrier
	return c.exchange(ctx, xids, out, func(i int, e *OFError) error {
		return fmt.Errorf("%s: %w", what, e)
	})
}

// exchange writes out (whose xids are xids, a barrier last) and collects the errors the
// switch sends for them until the barrier's reply; name turns the error for out[i] into the
// error returned.
func (c *Conn) exchange(ctx context.Context, xids []uint32, out []util.Message, name func(int, *OFError) error) error {
	index := make(map[uint32]int, len(xids))
	for i, x := range xids {
		index[x] = i
	}
	w := newWaiter()
	c.register(w, xids...)
	defer c.unregister(xids...)
	if err := c.write(out...); err != nil {
		return err
	}
	var errs []error
	last := xids[len(xids)-1]
	for {
		f, err := w.next(ctx, c)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		switch {
		case f.typ == openflow13.Type_BarrierReply && f.xid == last:
			return errors.Join(errs...)
		case f.typ == openflow13.Type_Error:
			if len(errs) < maxReported {
				errs = append(errs, name(index[f.xid], parseError(f.b)))
			}
		}
	}
}

// DecodePacketIn reads a packet-in message (the whole message, header included): an OpenFlow
// 1.3 OFPT_PACKET_IN or an Open vSwitch NXT_PACKET_IN2. It never panics on malformed input.
func DecodePacketIn(b []byte) (PacketIn, error) {
	var p PacketIn
	if len(b) < 8 || int(be16(b[2:])) != len(b) {
		return p, errTruncated
	}
	switch {
	case b[1] == openflow13.Type_PacketIn:
		return decodeOF13PacketIn(b)
	case b[1] == openflow13.Type_Experimenter && len(b) >= 16 && be32(b[8:]) == nxExperimenter && be32(b[12:]) == nxtPacketIn2:
		return decodePacketIn2(b[16:])
	}
	return p, fmt.Errorf("openflow: message type %d is not a packet-in", b[1])
}

// decodeOF13PacketIn reads ofp_packet_in: buffer_id, total_len, reason, table_id, cookie,
// the match, 2 bytes of padding, the frame.
func decodeOF13PacketIn(b []byte) (PacketIn, error) {
	var p PacketIn
	if len(b) < 24 {
		return p, errTruncated
	}
	p.TotalLen = int(be16(b[12:]))
	p.Reason, p.Table, p.Cookie = PacketInReason(b[14]), b[15], be64(b[16:])
	m, n, err := decodeMatch(b[24:])
	if err != nil {
		return p, err
	}
	rest := b[24+n:]
	if len(rest) < 2 {
		return p, errTruncated
	}
	p.Match, p.Data = m, rawCopy(rest[2:])
	if p.TotalLen < len(p.Data) {
		return p, fmt.Errorf("openflow: packet-in total_len %d is less than its %d bytes of data", p.TotalLen, len(p.Data))
	}
	return p, nil
}

// decodePacketIn2 reads NXT_PACKET_IN2's properties (after the nicira_header). Properties
// ovsgw does not use (buffer id, continuation) are skipped.
func decodePacketIn2(b []byte) (PacketIn, error) {
	var p PacketIn
	var seenPacket, seenFullLen bool
	for len(b) > 0 {
		if len(b) < 4 {
			return p, errTruncated
		}
		typ, l := be16(b), int(be16(b[2:]))
		if l < 4 || pad8(l) > len(b) {
			return p, errTruncated
		}
		v := b[4:l]
		switch typ {
		case nxpintPacket:
			p.Data, seenPacket = rawCopy(v), true
		case nxpintFullLen:
			if len(v) != 4 {
				return p, errTruncated
			}
			p.TotalLen, seenFullLen = int(be32(v)), true
		case nxpintTableID, nxpintReason:
			if len(v) < 1 {
				return p, errTruncated
			}
			if typ == nxpintTableID {
				p.Table = v[0]
			} else {
				p.Reason = PacketInReason(v[0])
			}
		case nxpintCookie: // a 64-bit property: 4 bytes of padding, then the value
			if l != 16 {
				return p, errTruncated
			}
			p.Cookie = be64(b[8:16])
		case nxpintMetadata:
			m, err := decodeOXMs(v)
			if err != nil {
				return p, err
			}
			p.Match = m
		case nxpintUserdata:
			p.Userdata = rawCopy(v)
		}
		b = b[pad8(l):]
	}
	if !seenPacket {
		return p, errors.New("openflow: packet-in without a packet")
	}
	if !seenFullLen {
		p.TotalLen = len(p.Data)
	} else if p.TotalLen < len(p.Data) {
		return p, fmt.Errorf("openflow: packet-in full_len %d is less than its %d bytes of data", p.TotalLen, len(p.Data))
	}
	return p, nil
}

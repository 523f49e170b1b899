package openflow

// The session layer libOpenflow lacks: handshake, echo, one reader goroutine that hands every
// reply and error to the request with the same xid, barriers, dumps and bundles.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"antrea.io/libOpenflow/common"
	"antrea.io/libOpenflow/openflow13"
	"antrea.io/libOpenflow/util"
)

// Timing of the session: a hung ovs-vswitchd is noticed within seconds, while a switch that
// is busy committing a large bundle (100,000 flows take about 2 s) is not declared dead.
const (
	// HandshakeTimeout bounds Dial's hello and features exchange when ctx has no deadline.
	HandshakeTimeout = 10 * time.Second
	// EchoInterval is how often we send an echo request to the switch.
	EchoInterval = 5 * time.Second
	// DeadPeerTimeout is how long the switch may stay silent (no echo reply, nothing) before
	// the connection is declared dead.
	DeadPeerTimeout = 3 * EchoInterval
	// WriteTimeout bounds one write to the socket.
	WriteTimeout = 30 * time.Second
)

// The echo timing in effect; tests shorten it.
var echoInterval, deadPeerTimeout = EchoInterval, DeadPeerTimeout

// writeChunk is how many bytes of queued messages one socket write carries at most, so that
// a large bundle is not marshalled into one huge buffer first.
const writeChunk = 256 << 10

// ErrClosed is Err's answer after Close.
var ErrClosed = errors.New("openflow: connection closed")

// Conn is an OpenFlow 1.3 session with one switch. Its methods may be called concurrently.
type Conn struct {
	nc   net.Conn
	dpid uint64

	wmu sync.Mutex // serializes writes
	xid atomic.Uint32
	bid atomic.Uint32 // bundle ids

	mu      sync.Mutex
	pending map[uint32]*waiter
	err     error
	pins    *packetInSink // set by ListenPacketIns

	done      chan struct{}
	lastRecv  atomic.Int64 // unix nanoseconds of the last message from the switch
	echoEvery time.Duration
	deadAfter time.Duration
}

// frame is one message read from the switch.
type frame struct {
	typ uint8
	xid uint32
	b   []byte // the whole message, header included
}

// waiter collects the frames for one or more xids of one request.
type waiter struct {
	mu     sync.Mutex
	frames []frame
	ready  chan struct{} // signalled (capacity 1) when frames grows
}

func newWaiter() *waiter { return &waiter{ready: make(chan struct{}, 1)} }

func (w *waiter) put(f frame) {
	w.mu.Lock()
	w.frames = append(w.frames, f)
	w.mu.Unlock()
	select {
	case w.ready <- struct{}{}:
	default:
	}
}

// next returns the next frame for the waiter, in the order the reader delivered them.
func (w *waiter) next(ctx context.Context, c *Conn) (frame, error) {
	for {
		w.mu.Lock()
		if len(w.frames) > 0 {
			f := w.frames[0]
			w.frames = w.frames[1:]
			w.mu.Unlock()
			return f, nil
		}
		w.mu.Unlock()
		select {
		case <-w.ready:
		case <-ctx.Done():
			return frame{}, ctx.Err()
		case <-c.done:
			// Frames that arrived before the drop are still good.
			w.mu.Lock()
			n := len(w.frames)
			w.mu.Unlock()
			if n == 0 {
				return frame{}, c.Err()
			}
		}
	}
}

// Dial connects to a switch at addr ("unix:PATH" or "tcp:HOST:PORT"), negotiates OpenFlow 1.3
// and reads the datapath id. ctx bounds the connection setup only.
func Dial(ctx context.Context, addr string) (*Conn, error) {
	network, address, ok := strings.Cut(addr, ":")
	if !ok || (network != "unix" && network != "tcp") || address == "" {
		return nil, fmt.Errorf("openflow: address %q is not unix:PATH or tcp:HOST:PORT", addr)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("openflow: %w", err)
	}
	c := &Conn{nc: nc, pending: map[uint32]*waiter{}, done: make(chan struct{}),
		echoEvery: echoInterval, deadAfter: deadPeerTimeout}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(HandshakeTimeout)
	}
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	err = c.handshake()
	if !stop() && err == nil {
		err = errors.New("cancelled") // the deadline may already be in the past
	}
	if err != nil {
		nc.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return nil, fmt.Errorf("openflow: %s: %w", addr, err)
	}
	nc.SetDeadline(time.Time{})
	c.lastRecv.Store(time.Now().UnixNano())
	go c.readLoop()
	go c.echoLoop()
	return c, nil
}

// handshake exchanges hellos and reads the features reply, before the reader starts.
func (c *Conn) handshake() error {
	hello, _ := common.NewHello(openflow13.VERSION)
	// libOpenflow's hello offers 1.0 and 1.5 only; offer exactly 1.3.
	hello.Elements[0].(*common.HelloElemVersionBitmap).Bitmaps = []uint32{1 << openflow13.VERSION}
	hello.Xid = c.nextXID()
	if err := c.writeNow(hello); err != nil {
		return err
	}
	f, err := readFrame(c.nc)
	if err != nil {
		return fmt.Errorf("reading hello: %w", err)
	}
	switch {
	case f.typ == openflow13.Type_Error:
		return fmt.Errorf("switch refused hello: %w", parseError(f.b))
	case f.typ != openflow13.Type_Hello:
		return fmt.Errorf("expected hello, got message type %d", f.typ)
	}
	if vers, ok := helloVersions(f.b); !ok {
		return fmt.Errorf("switch does not speak OpenFlow 1.3 (it offers %s)", vers)
	}
	req := openflow13.NewFeaturesRequest()
	req.Xid = c.nextXID()
	if err := c.writeNow(req); err != nil {
		return err
	}
	for {
		f, err := readFrame(c.nc)
		if err != nil {
			return fmt.Errorf("reading features reply: %w", err)
		}
		switch {
		case f.typ == openflow13.Type_EchoRequest:
			c.writeNow(echoReply(f))
		case f.xid != req.Xid:
		case f.typ == openflow13.Type_Error:
			return fmt.Errorf("features request: %w", parseError(f.b))
		case f.typ == openflow13.Type_FeaturesReply && len(f.b) >= 16:
			c.dpid = binary.BigEndian.Uint64(f.b[8:])
			return nil
		}
	}
}

// helloVersions reports whether a switch's hello allows OpenFlow 1.3, and what it offers. With
// a version bitmap that is the bitmap; without, the header version and everything below.
func helloVersions(b []byte) (string, bool) {
	bitmap := uint32(1)<<(b[0]+1) - 1
	for p := 8; p+4 <= len(b); {
		t, l := be16(b[p:]), int(be16(b[p+2:]))
		if l < 4 || p+l > len(b) {
			break
		}
		if t == common.HelloElemType_VersionBitmap && l >= 8 {
			bitmap = be32(b[p+4:])
		}
		p += (l + 7) / 8 * 8
	}
	var vs []string
	for v := 1; v < 32; v++ {
		if bitmap&(1<<v) != 0 {
			vs = append(vs, fmt.Sprintf("1.%d", v-1))
		}
	}
	return "OpenFlow " + strings.Join(vs, ", "), bitmap&(1<<openflow13.VERSION) != 0
}

func readFrame(r io.Reader) (frame, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	l := int(binary.BigEndian.Uint16(h[2:]))
	if l < 8 {
		return frame{}, fmt.Errorf("message length %d < 8", l)
	}
	b := make([]byte, l)
	copy(b, h[:])
	if _, err := io.ReadFull(r, b[8:]); err != nil {
		return frame{}, err
	}
	return frame{typ: h[1], xid: binary.BigEndian.Uint32(h[4:]), b: b}, nil
}

// echoReply answers an echo request with the same xid and payload.
func echoReply(req frame) util.Message {
	b := append([]byte(nil), req.b...)
	b[1] = openflow13.Type_EchoReply
	return util.NewBuffer(b)
}

// readLoop is the only reader of the socket: it answers echo requests, queues packet-ins
// (without waiting: see packetin.go) and hands everything else to the waiter registered for
// its xid (other unsolicited messages are dropped).
func (c *Conn) readLoop() {
	defer c.closePacketIns()
	for {
		f, err := readFrame(c.nc)
		if err != nil {
			c.fail(fmt.Errorf("openflow: connection lost: %w", err))
			return
		}
		c.lastRecv.Store(time.Now().UnixNano())
		if f.typ == openflow13.Type_EchoRequest {
			// Not inline: a write may wait for the switch, which may wait for us to read.
			go c.write(echoReply(f))
			continue
		}
		if isPacketIn(f) {
			c.deliverPacketIn(f)
			continue
		}
		c.mu.Lock()
		w := c.pending[f.xid]
		c.mu.Unlock()
		if w != nil {
			w.put(f)
		}
	}
}

// echoLoop sends echo requests and declares the switch dead when it stays silent.
func (c *Conn) echoLoop() {
	t := time.NewTicker(c.echoEvery)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			if silent := time.Since(time.Unix(0, c.lastRecv.Load())); silent > c.deadAfter {
				c.fail(fmt.Errorf("openflow: switch silent for %s, connection declared dead", silent.Round(time.Millisecond)))
				return
			}
			echo := openflow13.NewEchoRequest()
			echo.Xid = c.nextXID()
			c.write(echo)
		}
	}
}

// fail closes the connection for reason err (the first reason wins).
func (c *Conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	close(c.done)
	c.nc.Close()
}

// Close ends the session.
func (c *Conn) Close() error {
	c.fail(ErrClosed)
	return nil
}

// Done is closed when the connection has dropped or was closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err says why the connection is down; nil while it is up.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// DatapathID is the switch's datapath id from the features reply.
func (c *Conn) DatapathID() uint64 { return c.dpid }

func (c *Conn) nextXID() uint32 {
	for {
		if x := c.xid.Add(1); x != 0 {
			return x
		}
	}
}

func (c *Conn) register(w *waiter, xids ...uint32) {
	c.mu.Lock()
	for _, x := range xids {
		c.pending[x] = w
	}
	c.mu.Unlock()
}

func (c *Conn) unregister(xids ...uint32) {
	c.mu.Lock()
	for _, x := range xids {
		delete(c.pending, x)
	}
	c.mu.Unlock()
}

// writeNow marshals and writes msgs without touching the session state (handshake only).
func (c *Conn) writeNow(msgs ...util.Message) error {
	var buf []byte
	for _, m := range msgs {
		b, err := m.MarshalBinary()
		if err != nil {
			return err
		}
		buf = append(buf, b...)
	}
	_, err := c.nc.Write(buf)
	return err
}

// write sends msgs in order, in chunks of about writeChunk bytes; a failed write drops the
// connection, since a partly written message leaves the stream unusable.
func (c *Conn) write(msgs ...util.Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.Err(); err != nil {
		return err
	}
	buf := make([]byte, 0, writeChunk)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		c.nc.SetWriteDeadline(time.Now().Add(WriteTimeout))
		_, err := c.nc.Write(buf)
		buf = buf[:0]
		if err != nil {
			c.fail(fmt.Errorf("openflow: write: %w", err))
			return c.Err()
		}
		return nil
	}
	for _, m := range msgs {
		b, err := m.MarshalBinary()
		if err != nil {
			return fmt.Errorf("openflow: marshal: %w", err)
		}
		buf = append(buf, b...)
		if len(buf) >= writeChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// request sends one message with a fresh xid and returns the waiter for its replies; the
// caller must unregister xid.
func (c *Conn) request(msg util.Message, hdr *common.Header) (*waiter, uint32, error) {
	x := c.nextXID()
	hdr.Xid = x
	w := newWaiter()
	c.register(w, x)
	if err := c.write(msg); err != nil {
		c.unregister(x)
		return nil, 0, err
	}
	return w, x, nil
}

func newHeader(typ uint8) common.Header {
	h := openflow13.NewOfp13Header()
	h.Type = typ
	return h
}

// Barrier returns when the switch has finished processing every message sent before it.
func (c *Conn) Barrier(ctx context.Context) error {
	h := newHeader(openflow13.Type_BarrierRequest)
	w, x, err := c.request(&h, &h)
	if err != nil {
		return err
	}
	defer c.unregister(x)
	for {
		f, err := w.next(ctx, c)
		if err != nil {
			return err
		}
		switch f.typ {
		case openflow13.Type_BarrierReply:
			return nil
		case openflow13.Type_Error:
			return fmt.Errorf("barrier: %w", parseError(f.b))
		}
	}
}

// multipart sends a multipart request and calls body with the body of every reply part.
func (c *Conn) multipart(ctx context.Context, typ uint16, req util.Message, body func([]byte) error) error {
	mp := &openflow13.MultipartRequest{Header: newHeader(openflow13.Type_MultiPartRequest), Type: typ}
	if req != nil {
		mp.Body = []util.Message{req}
	}
	w, x, err := c.request(mp, &mp.Header)
	if err != nil {
		return err
	}
	defer c.unregister(x)
	for {
		f, err := w.next(ctx, c)
		if err != nil {
			return err
		}
		switch f.typ {
		case openflow13.Type_Error:
			return parseError(f.b)
		case openflow13.Type_MultiPartReply:
			if len(f.b) < 16 || be16(f.b[8:]) != typ {
				return fmt.Errorf("openflow: unexpected multipart reply")
			}
			if err := body(f.b[16:]); err != nil {
				return err
			}
			if be16(f.b[10:])&openflow13.OFPMPF_REPLY_MORE == 0 {
				return nil
			}
		}
	}
}

// DumpFlows reads the flows of one table (nil: all tables) with their counters, sorted by
// table, descending priority and match text.
func (c *Conn) DumpFlows(ctx context.Context, table *uint8) ([]InstalledFlow, error) {
	req := openflow13.NewFlowStatsRequest()
	req.TableId = openflow13.OFPTT_ALL
	if table != nil {
		req.TableId = *table
	}
	flows, err := dumpRecords(ctx, c, openflow13.MultipartType_Flow, req, decodeFlowStats)
	if err != nil {
		return nil, fmt.Errorf("dump flows: %w", err)
	}
	sortByFlow(flows, func(f InstalledFlow) Flow { return f.Flow })
	return flows, nil
}

// DumpFlowsByCookie reads only the flows whose cookie equals cookie in the bits of mask: the
// switch filters, so a reader of a few flows does not pay for a dump of all of them.
func (c *Conn) DumpFlowsByCookie(ctx context.Context, cookie, mask uint64) ([]InstalledFlow, error) {
	req := openflow13.NewFlowStatsRequest()
	req.TableId = openflow13.OFPTT_ALL
	req.Cookie, req.CookieMask = cookie, mask
	flows, err := dumpRecords(ctx, c, openflow13.MultipartType_Flow, req, decodeFlowStats)
	if err != nil {
		return nil, fmt.Errorf("dump flows of cookie %#x/%#x: %w", cookie, mask, err)
	}
	sortByFlow(flows, func(f InstalledFlow) Flow { return f.Flow })
	return flows, nil
}

// AllTables names every table in a flow stats request (OFPTT_ALL).
const AllTables uint8 = openflow13.OFPTT_ALL

// DumpFlowCounters reads the counters of the flows of table (or AllTables) whose cookie equals
// cookie in the bits of mask (the switch filters), unsorted and without their matches and
// actions: a sampler of thousands of flows' counters pays for little more than the transfer.
func (c *Conn) DumpFlowCounters(ctx context.Context, table uint8, cookie, mask uint64) ([]FlowCounters, error) {
	req := openflow13.NewFlowStatsRequest()
	req.TableId = table
	req.Cookie, req.CookieMask = cookie, mask
	counters, err := dumpRecords(ctx, c, openflow13.MultipartType_Flow, req, decodeFlowCounters)
	if err != nil {
		return nil, fmt.Errorf("dump counters of table %d, cookie %#x/%#x: %w", table, cookie, mask, err)
	}
	return counters, nil
}

// DumpFlowsToGroup reads the flows that hand packets to group id, directly or nested in
// another action (clone, write_actions): exactly the flows OpenFlow deletes with the group.
func (c *Conn) DumpFlowsToGroup(ctx context.Context, id uint32) ([]InstalledFlow, error) {
	req := openflow13.NewFlowStatsRequest()
	req.TableId, req.OutGroup = openflow13.OFPTT_ALL, id
	flows, err := dumpRecords(ctx, c, openflow13.MultipartType_Flow, req, decodeFlowStats)
	if err != nil {
		return nil, fmt.Errorf("dump flows to group %d: %w", id, err)
	}
	sortByFlow(flows, func(f InstalledFlow) Flow { return f.Flow })
	return flows, nil
}

// dumpRecords runs a multipart request and decodes every record of every reply part.
func dumpRecords[T any](ctx context.Context, c *Conn, typ uint16, req util.Message, decode func([]byte) (T, int, error)) ([]T, error) {
	var out []T
	err := c.multipart(ctx, typ, req, func(b []byte) error {
		for len(b) > 0 {
			r, n, err := decode(b)
			if err != nil {
				return err
			}
			out = append(out, r)
			b = b[n:]
		}
		return nil
	})
	return out, err
}

// DumpGroups reads every group, sorted by id.
func (c *Conn) DumpGroups(ctx context.Context) ([]Group, error) {
	groups, err := dumpRecords(ctx, c, openflow13.MultipartType_GroupDesc, nil, decodeGroupDesc)
	if err != nil {
		return nil, fmt.Errorf("dump groups: %w", err)
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].ID < groups[j].ID })
	return groups, nil
}

// parseError decodes an OpenFlow error message.
func parseError(b []byte) *OFError {
	e := &OFError{}
	if len(b) < 12 {
		return e
	}
	e.Type, e.Code, e.Data = be16(b[8:]), be16(b[10:]), b[12:]
	if e.Type == 0xffff && len(b) >= 16 {
		e.Experimenter, e.Data = be32(b[12:]), b[16:]
	}
	return e
}

package openflow

import (
	"context"
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"antrea.io/libOpenflow/openflow13"
)

// fakeSwitch is a scripted OpenFlow 1.3 switch on a unix socket: it does the handshake with
// datapath id 0x42 and then runs script on the connection.
func fakeSwitch(t *testing.T, script func(net.Conn)) string {
	t.Helper()
	path := t.TempDir() + "/sw.mgmt"
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		send(nc, msg(openflow13.Type_Hello, 1, []byte{0, 1, 0, 8, 0, 0, 0, 1 << 4}))
		for {
			f, err := readFrame(nc)
			if err != nil {
				return
			}
			if f.typ == openflow13.Type_FeaturesRequest {
				body := make([]byte, 24)
				binary.BigEndian.PutUint64(body, 0x42)
				send(nc, msg(openflow13.Type_FeaturesReply, f.xid, body))
				break
			}
		}
		script(nc)
	}()
	return "unix:" + path
}

func msg(typ uint8, xid uint32, body []byte) []byte {
	b := make([]byte, 8, 8+len(body))
	b[0], b[1] = openflow13.VERSION, typ
	binary.BigEndian.PutUint16(b[2:], uint16(8+len(body)))
	binary.BigEndian.PutUint32(b[4:], xid)
	return append(b, body...)
}

func send(nc net.Conn, b []byte) { nc.Write(b) }

// multipartReply builds one part of a multipart reply.
func multipartReply(xid uint32, typ uint16, more bool, body []byte) []byte {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h, typ)
	if more {
		h[3] = openflow13.OFPMPF_REPLY_MORE
	}
	return msg(openflow13.Type_MultiPartReply, xid, append(h, body...))
}

func groupDesc(t *testing.T, g Group) []byte {
	gm, err := encodeGroupMod(GroupAdd, g)
	if err != nil {
		t.Fatal(err)
	}
	return groupDescOf(marshal(t, gm))
}

// Replies are matched to requests by xid, not by order: the switch answers two concurrent dumps
// in reverse order, one of them in two parts, and echoes its own request to us in between.
func TestRepliesMatchedByXID(t *testing.T) {
	g1, g2 := Group{ID: 1, Type: GroupAll}, Group{ID: 2, Type: GroupIndirect, Buckets: []Bucket{{Actions: []Action{Output{3}}}}}
	f := flow(3, 7, ours, 1)
	fm, _ := encodeFlowMod(FlowAdd, f)
	echoed := make(chan []byte, 1)
	addr := fakeSwitch(t, func(nc net.Conn) {
		var reqs []frame
		for len(reqs) < 2 {
			r, err := readFrame(nc)
			if err != nil {
				return
			}
			if r.typ == openflow13.Type_MultiPartRequest {
				reqs = append(reqs, r)
			}
		}
		send(nc, msg(openflow13.Type_EchoRequest, 999, []byte("ping")))
		for i := len(reqs) - 1; i >= 0; i-- {
			r := reqs[i]
			switch typ := be16(r.b[8:]); typ {
			case openflow13.MultipartType_GroupDesc:
				send(nc, multipartReply(r.xid, typ, true, groupDesc(t, g2)))
				send(nc, multipartReply(r.xid, typ, false, groupDesc(t, g1)))
			case openflow13.MultipartType_Flow:
				send(nc, multipartReply(r.xid, typ, false, flowStatsOf(marshal(t, fm), 5)))
			}
		}
		for {
			r, err := readFrame(nc)
			if err != nil {
				return
			}
			if r.typ == openflow13.Type_EchoReply {
				echoed <- r.b
			}
		}
	})
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.DatapathID() != 0x42 {
		t.Errorf("datapath id %#x", c.DatapathID())
	}
	groupsDone := make(chan []Group)
	go func() {
		gs, err := c.DumpGroups(ctxT(t))
		if err != nil {
			t.Error(err)
		}
		groupsDone <- gs
	}()
	time.Sleep(50 * time.Millisecond) // the groups request goes first
	flows, err := c.DumpFlows(ctxT(t), nil)
	if err != nil || len(flows) != 1 || !flows[0].Equal(f) || flows[0].Packets != 5 {
		t.Fatalf("DumpFlows = %v, %v", flows, err)
	}
	if gs := <-groupsDone; len(gs) != 2 || !gs[0].Equal(g1) || !gs[1].Equal(g2) {
		t.Fatalf("DumpGroups = %v", gs)
	}
	select {
	case b := <-echoed:
		if binary.BigEndian.Uint32(b[4:]) != 999 || string(b[8:]) != "ping" {
			t.Errorf("echo reply %x", b)
		}
	case <-time.After(time.Second):
		t.Error("no echo reply")
	}
}

// A switch that stops answering is declared dead after deadPeerTimeout.
func TestSilentSwitchIsDeclaredDead(t *testing.T) {
	echoInterval, deadPeerTimeout = 20*time.Millisecond, 100*time.Millisecond
	defer func() { echoInterval, deadPeerTimeout = EchoInterval, DeadPeerTimeout }()
	addr := fakeSwitch(t, func(nc net.Conn) {
		for {
			if _, err := readFrame(nc); err != nil { // read, never answer
				return
			}
		}
	})
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("silent switch not declared dead")
	}
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "silent") {
		t.Fatalf("Err = %v", err)
	}
}

func TestDialRejectsBadAddresses(t *testing.T) {
	for _, a := range []string{"", "br0", "ssl:1.2.3.4:6653", "unix:"} {
		if _, err := Dial(context.Background(), a); err == nil {
			t.Errorf("Dial(%q) succeeded", a)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// A listener that accepts and never speaks: Dial gives up when ctx ends.
	path := t.TempDir() + "/mute.mgmt"
	l, _ := net.Listen("unix", path)
	defer l.Close()
	go func() {
		nc, err := l.Accept()
		if err == nil {
			defer nc.Close()
			time.Sleep(time.Second)
		}
	}()
	start := time.Now()
	if _, err := Dial(ctx, "unix:"+path); err == nil || time.Since(start) > 900*time.Millisecond {
		t.Errorf("Dial to a mute switch: %v after %v, want a failure when ctx ends", err, time.Since(start))
	}
}

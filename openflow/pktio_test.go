package openflow

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"antrea.io/libOpenflow/openflow13"
)

// realPacketIn2 is an NXT_PACKET_IN2 ovs-vswitchd 3.1 sent for a host's ARP request (table 1,
// cookie 0x0a00000000000164, in_port 5, reg0=0x2a, reg1=7, userdata "arp").
const realPacketIn2 = "0404008800000000000023200000001e0000002effffffffffff020000000005080600010800060400010200000000050a0900050000000000000a0900030000000300050100000000040010000000000a0000000000016400050005010000000006001c8000000400000005000100040000002a0001020400000007000000000007000761727000"

// of13PacketIn builds an OpenFlow 1.3 OFPT_PACKET_IN with match m and frame data.
func of13PacketIn(t testing.TB, reason uint8, table uint8, cookie uint64, m Match, total int, data []byte) []byte {
	om, err := encodeMatch(m)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := om.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 16)
	binary.BigEndian.PutUint32(body, ofpNoBuffer)
	binary.BigEndian.PutUint16(body[4:], uint16(total))
	body[6], body[7] = reason, table
	binary.BigEndian.PutUint64(body[8:], cookie)
	body = append(append(append(body, mb...), 0, 0), data...)
	return msg(openflow13.Type_PacketIn, 0, body)
}

func TestDecodePacketIn(t *testing.T) {
	real, _ := hex.DecodeString(realPacketIn2)
	arp, _ := hex.DecodeString("ffffffffffff020000000005080600010800060400010200000000050a0900050000000000000a090003")
	regs := Match{}.WithUint(FieldInPort, 5).WithUint(FieldReg0, 0x2a).WithUint(FieldReg1, 7)
	got, err := DecodePacketIn(real)
	if err != nil {
		t.Fatalf("real NXT_PACKET_IN2: %v", err)
	}
	want := PacketIn{Reason: PacketInAction, Table: 1, Cookie: 0x0a00000000000164, Match: regs,
		Userdata: []byte("arp"), Data: arp, TotalLen: 42}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("real NXT_PACKET_IN2:\n got %+v\nwant %+v", got, want)
	}
	if port, ok := got.InPort(); !ok || port != 5 || got.Reg(0) != 0x2a || got.Reg(1) != 7 || got.Reg(3) != 0 {
		t.Errorf("InPort %d %v, regs %#x %#x %#x", port, ok, got.Reg(0), got.Reg(1), got.Reg(3))
	}

	std := of13PacketIn(t, 0, 3, 0xffffffffffffffff, regs, 60, arp)
	got, err = DecodePacketIn(std)
	want = PacketIn{Reason: PacketInNoMatch, Table: 3, Cookie: 0xffffffffffffffff, Match: regs, Data: arp, TotalLen: 60}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("OFPT_PACKET_IN: %v\n got %+v\nwant %+v", err, got, want)
	}

	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"length field disagrees", append(append([]byte{}, real...), 0)},
		{"not a packet-in", msg(openflow13.Type_EchoRequest, 0, nil)},
		{"packet-in2 without packet", nxtMessage(nxtPacketIn2, []byte{0, 3, 0, 5, 1, 0, 0, 0})},
		{"property past the end", nxtMessage(nxtPacketIn2, []byte{0, 0, 0, 40, 1, 2, 3, 4})},
		{"cookie of the wrong length", nxtMessage(nxtPacketIn2, []byte{0, 4, 0, 12, 0, 0, 0, 0, 1, 2, 3, 4})},
		{"total_len below the data", of13PacketIn(t, 1, 0, 0, nil, 10, arp)},
		{"truncated match", msg(openflow13.Type_PacketIn, 0, append(make([]byte, 16), 0, 1, 0, 40))},
	} {
		if p, err := DecodePacketIn(tc.b); err == nil {
			t.Errorf("%s: decoded as %+v, want an error", tc.name, p)
		}
	}
}

// A consumer that does not read loses packet-ins (counted), never replies: the one reader
// goroutine keeps serving barriers while the queue is full.
func TestSlowPacketInConsumerNeverBlocksReplies(t *testing.T) {
	real, _ := hex.DecodeString(realPacketIn2)
	const flood = 50
	addr := fakeSwitch(t, func(nc net.Conn) {
		for {
			r, err := readFrame(nc)
			if err != nil {
				return
			}
			switch r.typ {
			case openflow13.Type_BarrierRequest:
				send(nc, msg(openflow13.Type_BarrierReply, r.xid, nil))
			case openflow13.Type_Experimenter, openflow13.Type_SetConfig:
				continue // packet-in format and miss_send_len: accepted silently
			case openflow13.Type_EchoRequest:
				for i := 0; i < flood; i++ {
					send(nc, real)
				}
				send(nc, msg(openflow13.Type_EchoReply, r.xid, nil))
			}
		}
	})
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pins, err := c.ListenPacketIns(ctxT(t), 4)
	if err != nil {
		t.Fatalf("ListenPacketIns: %v", err)
	}
	// An echo request of ours makes the switch flood us, then a barrier must still complete.
	echo := openflow13.NewEchoRequest()
	echo.Xid = c.nextXID()
	if err := c.write(echo); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Barrier(ctx); err != nil {
		t.Fatalf("Barrier with a full packet-in queue: %v", err)
	}
	if s := c.PacketInStats(); s.Received != 4 || s.Dropped != flood-4 || s.Bad != 0 {
		t.Errorf("PacketInStats = %+v, want 4 received, %d dropped", s, flood-4)
	}
	for i := 0; i < 4; i++ {
		if p := <-pins; string(p.Userdata) != "arp" {
			t.Errorf("queued packet-in %d: %+v", i, p)
		}
	}
	c.Close()
	if _, ok := <-pins; ok {
		t.Error("queue not closed after Close")
	}
}

func TestControllerAndMeterActions(t *testing.T) {
	for _, tc := range []struct {
		a    Action
		text string
		// wire is the encoding as OVS writes it (ovs-ofctl 3.1 add-flow, then dump).
		wire string
	}{
		{Controller{}, "CONTROLLER", "00000010fffffffdffff000000000000"},
		{Controller{MaxLen: 65535}, "CONTROLLER", "00000010fffffffdffff000000000000"},
		{Controller{MaxLen: 100}, "controller(max_len=100)", "00000010fffffffd0064000000000000"},
		{Controller{Userdata: []byte{1, 2}}, "controller(userdata=01.02)", "ffff0018000023200025000000000000" + "0003000601020000"},
		{Controller{MaxLen: 128, Userdata: []byte("dhcp4"), MeterID: 7}, "controller(max_len=128,userdata=64.68.63.70.34,meter_id=7)", ""},
		{MeterAction{ID: 9}, "meter:9", ""},
	} {
		if s := tc.a.String(); s != tc.text {
			t.Errorf("%#v prints %q, want %q", tc.a, s, tc.text)
		}
		parsed, err := parseAction(tc.text)
		if err != nil || parsed.String() != tc.text {
			t.Errorf("parseAction(%q) = %v, %v", tc.text, parsed, err)
		}
		if packActions(nil, []Action{tc.a}) == nil || unpackActions(string(packActions(nil, []Action{tc.a})))[0].String() != tc.text {
			t.Errorf("%s does not survive FlowTable's encoding", tc.text)
		}
		c, ok := tc.a.(Controller)
		if !ok {
			continue
		}
		b, err := encodeController(c)
		if err != nil {
			t.Fatalf("encode %s: %v", tc.text, err)
		}
		if tc.wire != "" && hex.EncodeToString(b) != tc.wire {
			t.Errorf("%s encodes as %x, want %s", tc.text, b, tc.wire)
		}
		if d := decodeAction(b); d.String() != tc.text {
			t.Errorf("%s decodes back as %s", tc.text, d)
		}
	}
	// Whole-frame controllers without extras are outputs to CONTROLLER, in every form.
	if a, _ := parseAction("controller(max_len=65535)"); !reflect.DeepEqual(a, Output{Port: PortController}) {
		t.Errorf("controller(max_len=65535) parses as %#v", a)
	}
	for _, bad := range []string{"controller(max_len=0)", "controller(userdata=)", "controller(userdata=zz)",
		"controller(meter_id=0)", "controller(pause)", "controller(max_len=1,max_len=2)", "meter:x"} {
		if a, err := parseAction(bad); err == nil {
			t.Errorf("parseAction(%q) = %v, want an error", bad, a)
		}
	}
	// A meter instruction comes first; not in buckets or packet-outs.
	if _, err := encodeInstructions([]Action{Output{Port: 1}, MeterAction{ID: 1}}); err == nil || !strings.Contains(err.Error(), "first") {
		t.Errorf("meter after an action: %v", err)
	}
	if _, err := encodeActionList([]Action{MeterAction{ID: 1}}); err == nil {
		t.Error("meter in a bucket accepted")
	}
	if _, err := encodePacketOut(PacketOut{Actions: []Action{MeterAction{ID: 1}}, Data: make([]byte, 60)}); err == nil {
		t.Error("meter in a packet-out accepted")
	}
	if _, err := encodePacketOut(PacketOut{Data: make([]byte, 10)}); err == nil {
		t.Error("a 10-byte frame accepted")
	}
	// Decoding a foreign CONTROLLER2 with a reason keeps its bytes.
	foreign, _ := hex.DecodeString("ffff0018000023200025000000000000" + "0002000501000000")
	if a, ok := decodeAction(foreign).(UnknownAction); !ok || !bytes.Equal(a.Raw, foreign) {
		t.Errorf("controller(reason=...) decodes as %v", decodeAction(foreign))
	}
}

func TestMeterModEncoding(t *testing.T) {
	m := PacketRateMeter(3, 50, 20)
	if s := m.String(); s != "meter=3,pktps,burst,stats,bands=type=drop,rate=50,burst_size=20" {
		t.Errorf("meter prints %q", s)
	}
	b, err := encodeMeterMod(MeterMod{MeterAdd, m})
	if err != nil {
		t.Fatal(err)
	}
	if h := hex.EncodeToString(b); h != "041d002000000000"+"0000000e"+"00000003"+"00010010000000320000001400000000" {
		t.Errorf("meter mod %s", h)
	}
	// The config record OVS sends back is the mod's body behind a length.
	rec := append([]byte{0, byte(len(b) - 8)}, b[10:]...)
	got, n, err := decodeMeterConfig(rec)
	if err != nil || n != len(rec) || !got.Equal(m) {
		t.Errorf("decodeMeterConfig = %v, %d, %v", got, n, err)
	}
	for _, bad := range []MeterMod{
		{MeterAdd, PacketRateMeter(0, 1, 1)},
		{MeterAdd, PacketRateMeter(MaxMeterID+1, 1, 1)},
		{MeterAdd, PacketRateMeter(1, 0, 1)},
		{MeterAdd, Meter{ID: 1, Flags: MeterPktps}},
		{MeterAdd, Meter{ID: 1, Bands: []MeterBand{{Type: MeterBandDrop, Rate: 1}}}},
		{MeterCommand(9), PacketRateMeter(1, 1, 1)},
	} {
		if _, err := encodeMeterMod(bad); err == nil {
			t.Errorf("%s encoded", bad)
		}
	}
	// OVS refuses meter mods in a bundle, so Apply does too, before sending anything.
	if _, err := (MeterMod{MeterAdd, m}).message(1); err == nil || !strings.Contains(err.Error(), "ModMeters") {
		t.Errorf("a meter mod as a bundled change: %v", err)
	}
}

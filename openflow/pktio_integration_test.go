package openflow

// Packet-ins, packet-outs and meters against a real ovs-vswitchd, with a real host namespace
// sending and answering frames on port 5 of the bridge.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/test/testbed"
)

// The pipeline of TestPacketInOutAndMeters: table 0 tags the host's frames with registers (as
// the gateway's classifier tags a VMI's), table 1 sends ARP and ICMP to the controller with a
// purpose in the userdata, ICMP through the per-instance meter 1 (a MeterAction) and the
// shared meter 2 (the Controller action's MeterID); table 2 outputs what a packet-out
// resubmits there with reg2=5 to the host.
const (
	pktHostPort   = 5
	pktVMIMeter   = 1
	pktAllMeter   = 2
	pktMeterRate  = 10 // packets per second
	pktMeterBurst = 10 // packets
)

func pktFlows() []Flow {
	var m Match
	f := func(table uint8, prio uint16, m Match, acts ...Action) Flow {
		return Flow{Table: table, Priority: prio, Cookie: ourCookie | uint64(table)<<8 | uint64(prio), Match: m, Actions: acts}
	}
	return []Flow{
		f(0, 100, m.WithUint(FieldInPort, pktHostPort), SetUint(FieldReg0, 0x2a), SetUint(FieldReg1, 7), GotoTable{1}),
		// A second instance, with its own meter.
		f(0, 90, m.WithUint(FieldInPort, pktHostPort+1).WithUint(FieldEthType, 0x0800).WithUint(FieldIPProto, 1), MeterAction{ID: pktVMIMeter + 2}, SetUint(FieldReg0, 0x2b),
			Controller{Userdata: []byte{0xd1, 0xc9}, MeterID: pktAllMeter}),
		f(1, 100, m.WithUint(FieldEthType, 0x0806), Controller{MaxLen: 32, Userdata: []byte("arp")}),
		f(1, 90, m.WithUint(FieldEthType, 0x0800).WithUint(FieldIPProto, 1),
			MeterAction{ID: pktVMIMeter}, Controller{Userdata: []byte{0xd1, 0xc9}, MeterID: pktAllMeter}),
		f(2, 100, m.WithUint(FieldReg2, 5), Output{Port: pktHostPort}),
	}
}

// arpFrame is an ARP packet (op 1 request, 2 reply) from sha/spa to tha/tpa, sent to dst.
func arpFrame(dst, sha []byte, op uint16, spa, tha, tpa []byte) []byte {
	b := append(append(append([]byte{}, dst...), sha...), 0x08, 0x06)
	b = append(b, 0, 1, 8, 0, 6, 4, byte(op>>8), byte(op))
	return append(append(append(append(b, sha...), spa...), tha...), tpa...)
}

// nextPacketIn waits for the next packet-in for which keep is true, skipping others.
func nextPacketIn(t *testing.T, pins <-chan PacketIn, what string, keep func(PacketIn) bool) PacketIn {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case p, ok := <-pins:
			if !ok {
				t.Fatalf("packet-in queue closed while waiting for %s", what)
			}
			if keep(p) {
				return p
			}
		case <-deadline:
			t.Fatalf("no packet-in for %s within 10 s", what)
		}
	}
}

func TestPacketInOutAndMeters(t *testing.T) {
	node, c := newSwitch(t)
	host := testbed.NewHost(t, "pkt", node, "vpkt", "02:00:00:00:00:05", "10.9.0.5/24")
	node.AddPort(t, "br0", "vpkt", "--", "set", "interface", "vpkt", "ofport_request=5")
	other := testbed.NewHost(t, "pkt2", node, "vpkt2", "02:00:00:00:00:06", "10.9.0.6/24")
	node.AddPort(t, "br0", "vpkt2", "--", "set", "interface", "vpkt2", "ofport_request=6")
	pins, err := c.ListenPacketIns(ctxT(t), 1024)
	if err != nil {
		t.Fatalf("ListenPacketIns: %v", err)
	}
	if _, err := c.ListenPacketIns(ctxT(t), 1); err == nil {
		t.Errorf("a second ListenPacketIns on one connection succeeded")
	}
	meters := []Meter{PacketRateMeter(pktVMIMeter, pktMeterRate, pktMeterBurst), PacketRateMeter(pktAllMeter, 1000, 1000),
		PacketRateMeter(pktVMIMeter+2, pktMeterRate, pktMeterBurst)}
	if err := c.ModMeters(ctxT(t), MeterMod{MeterAdd, meters[0]}, MeterMod{MeterAdd, meters[1]}, MeterMod{MeterAdd, meters[2]}); err != nil {
		t.Fatalf("ModMeters: %v", err)
	}
	flows := pktFlows()
	if err := c.Apply(ctxT(t), addAll(flows)); err != nil {
		t.Fatalf("Apply: %v", err)
	}

	t.Run("flows and meters dump back identically", func(t *testing.T) {
		requireState(t, c, flows, nil)
		got, err := c.DumpMeters(ctxT(t))
		if err != nil || len(got) != 3 || !got[0].Equal(meters[0]) || !got[1].Equal(meters[1]) || !got[2].Equal(meters[2]) {
			t.Fatalf("DumpMeters = %v, %v; want %v", got, err, meters)
		}
		// ovs-ofctl reads the canonical text of both and prints the same actions.
		out := node.MustOfctl(t, "-O", "OpenFlow13", "dump-flows", "br0")
		for _, want := range []string{"controller(max_len=32,userdata=61.72.70)", "meter:1,controller(userdata=d1.c9,meter_id=2)"} {
			if !strings.Contains(out, want) {
				t.Errorf("ovs-ofctl dump-flows lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("a packet-in carries the registers, userdata and frame", func(t *testing.T) {
		// The host looks for 10.9.0.3: its ARP request is the packet-in.
		host.Exec("ping", "-c", "1", "-W", "1", "10.9.0.3")
		p := nextPacketIn(t, pins, "the host's ARP request", func(p PacketIn) bool { return string(p.Userdata) == "arp" })
		if port, ok := p.InPort(); !ok || port != pktHostPort {
			t.Errorf("in_port %d (%v), want %d", port, ok, pktHostPort)
		}
		if p.Reg(0) != 0x2a || p.Reg(1) != 7 || p.Reg(2) != 0 {
			t.Errorf("registers reg0=%#x reg1=%d reg2=%d, want 0x2a, 7, 0 (match %s)", p.Reg(0), p.Reg(1), p.Reg(2), p.Match)
		}
		if p.Reason != PacketInAction || p.Table != 1 || p.Cookie != flows[2].Cookie {
			t.Errorf("reason %s table %d cookie %#x, want action, 1, %#x", p.Reason, p.Table, p.Cookie, flows[2].Cookie)
		}
		hostMAC, _ := net.ParseMAC(host.MAC)
		// In the NXT_PACKET_IN2 format OVS sends the whole frame whatever the max_len.
		if len(p.Data) != 42 || p.TotalLen != 42 || !bytes.Equal(p.Data[6:12], hostMAC) || binary.BigEndian.Uint16(p.Data[12:]) != 0x0806 {
			t.Errorf("frame %x (total %d), want the 42-byte ARP frame from %s", p.Data, p.TotalLen, host.MAC)
		}
	})

	t.Run("packet-outs reach the host, by output and by resubmit", func(t *testing.T) {
		router := mac("02:00:00:00:00:fe")
		for i, acts := range [][]Action{
			{Output{Port: pktHostPort}},
			{SetUint(FieldReg2, 5), Resubmit{Table: 2}},
		} {
			// "Who has 10.9.0.5? Tell 10.9.0.x": the host answers with an ARP reply to us.
			asker := ip("10.9.0.1")
			asker[3] += byte(i)
			req := arpFrame(mac("ff:ff:ff:ff:ff:ff"), router, 1, asker, make([]byte, 6), ip(host.IP))
			if err := c.SendPackets(ctxT(t), PacketOut{Actions: acts, Data: req}); err != nil {
				t.Fatalf("SendPackets(%s): %v", actionsString(acts), err)
			}
			p := nextPacketIn(t, pins, "the host's ARP reply to "+net.IP(asker).String(), func(p PacketIn) bool {
				return string(p.Userdata) == "arp" && len(p.Data) >= 22 && binary.BigEndian.Uint16(p.Data[20:]) == 2 && bytes.Equal(p.Data[:6], router)
			})
			t.Logf("%s: the host answered (%d-byte reply, in_port reg0=%#x)", actionsString(acts), p.TotalLen, p.Reg(0))
		}
		// A packet-out the switch refuses is an error naming it.
		err := c.SendPackets(ctxT(t), PacketOut{Actions: []Action{Resubmit{Table: 2}, Output{Port: 0xffffff00}}, Data: make([]byte, 60)})
		if err == nil || !strings.Contains(err.Error(), "packet-out") {
			t.Errorf("a packet-out to an invalid port: %v, want an error naming it", err)
		} else {
			t.Log(err)
		}
	})

	t.Run("a meter limits a burst of packet-ins to its rate", func(t *testing.T) {
		// The host sends 400 ICMP echo requests back to back from a raw socket: a flood.
		const sent = 400
		hostMAC, _ := net.ParseMAC(host.MAC)
		frame := append(append(mac("02:00:00:00:00:02"), hostMAC...), 0x08, 0x00,
			0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 10, 9, 0, 5, 10, 9, 0, 2, // IPv4, ICMP
			8, 0, 0xf7, 0xff, 0, 0, 0, 0) // echo request
		script := fmt.Sprintf("import socket\ns = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\ns.bind((%q, 0))\n"+
			"for _ in range(%d):\n    s.send(bytes.fromhex(%q))\n", testbed.HostIf, sent, hex.EncodeToString(frame))
		before := c.PacketInStats()
		start := time.Now()
		host.MustExec(t, testbed.SystemPython, "-c", script)
		elapsed := time.Since(start)
		// Right after the flood, the other instance sends 5: its own meter lets them through.
		otherMAC, _ := net.ParseMAC(other.MAC)
		other.MustExec(t, testbed.SystemPython, "-c", strings.Replace(strings.Replace(script, hex.EncodeToString(hostMAC), hex.EncodeToString(otherMAC), 1), "range(400)", "range(5)", 1))
		var got, otherGot int
		quiet := time.NewTimer(2 * time.Second)
	collect:
		for {
			select {
			case p := <-pins:
				switch {
				case !bytes.Equal(p.Userdata, []byte{0xd1, 0xc9}):
				case p.Reg(0) == 0x2a:
					got++
				case p.Reg(0) == 0x2b:
					otherGot++
				default:
					t.Errorf("metered packet-in lost its registers: %s", p.Match)
				}
			case <-quiet.C:
				break collect
			}
		}
		// A token bucket of pktMeterBurst packets, refilled at pktMeterRate a second while the
		// burst lasted (python's start-up included, so an upper bound).
		limit := int(pktMeterRate*elapsed.Seconds()) + pktMeterBurst + 1
		t.Logf("%d echo requests sent in %v: %d packet-ins (limit %d)", sent, elapsed.Round(time.Millisecond), got, limit)
		if got == 0 || got > limit {
			t.Errorf("%d packet-ins, want 1..%d for a meter of %d/s with a burst of %d", got, limit, pktMeterRate, pktMeterBurst)
		}
		if otherGot != 5 {
			t.Errorf("the other instance got %d of its 5 packet-ins through during the flood, want all", otherGot)
		}
		stats, err := c.DumpMeterStats(ctxT(t))
		if err != nil || len(stats) != 3 {
			t.Fatalf("DumpMeterStats = %+v, %v", stats, err)
		}
		vmi, all := stats[0], stats[1]
		t.Logf("meter %d: %d in, %d dropped; meter %d: %d in, %d dropped", vmi.ID, vmi.Packets, vmi.Dropped(), all.ID, all.Packets, all.Dropped())
		// The bridge's socket on the veth may miss some of a back-to-back burst, so the meter
		// sees at most what was sent, and accounts for each packet it saw: passed or dropped.
		if vmi.ID != pktVMIMeter || vmi.Flows != 1 || vmi.Packets > sent || vmi.Packets <= uint64(limit) ||
			vmi.Packets != uint64(got)+vmi.Dropped() {
			t.Errorf("meter %d stats %+v: want 1 flow, %d..%d packets in, of which the %d packet-ins passed and the rest dropped",
				pktVMIMeter, vmi, limit+1, sent, got)
		}
		if all.ID != pktAllMeter || all.Packets != uint64(got+otherGot) || all.Dropped() != 0 {
			t.Errorf("meter %d stats %+v: want the %d packets the instances' meters let through, none dropped", pktAllMeter, all, got+otherGot)
		}
		after := c.PacketInStats()
		if after.Dropped != 0 || after.Bad != 0 || after.Received-before.Received < uint64(got) {
			t.Errorf("packet-in stats %+v (before %+v): want no drops, nothing undecodable", after, before)
		}
	})

	t.Run("deleting a meter removes its flows", func(t *testing.T) {
		if err := c.ModMeters(ctxT(t), MeterMod{MeterDelete, Meter{ID: pktVMIMeter}}); err != nil {
			t.Fatalf("ModMeters delete: %v", err)
		}
		requireState(t, c, []Flow{flows[0], flows[1], flows[2], flows[4]}, nil)
		err := c.ModMeters(ctxT(t), MeterMod{MeterModify, PacketRateMeter(pktVMIMeter, 5, 5)})
		var ce *ChangeError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "OFPMMFC_UNKNOWN_METER") {
			t.Errorf("modifying a deleted meter: %v, want a ChangeError naming OFPMMFC_UNKNOWN_METER", err)
		}
	})

	// The queue closes with the connection.
	c.Close()
	closed := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-pins:
			if !ok {
				return
			}
		case <-closed:
			t.Fatal("the packet-in queue is still open 5 s after Close")
		}
	}
}

package rstp

import (
	"net"
	"testing"
	"time"
)

var (
	torMAC   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x70}
	groupMAC = net.HardwareAddr{0x02, 0, 0, 0, 0xff, 0x01}
	torID    = uint64(32768)<<48 | 0x020000000070
)

// fromToR is what the ToR's port number n sends: designated, with flags.
func fromToR(n uint16, flags uint8) []byte {
	return BPDU{Type: TypeRST, Flags: uint8(RoleDesignated)<<roleShift | flags, Root: torID, Bridge: torID,
		Port: 0x8000 | n, MaxAge: 20 * 256, Hello: 2 * 256, FwdDelay: 15 * 256}.Frame(torMAC)
}

func TestParseFrameRoundTrip(t *testing.T) {
	in := BPDU{Type: TypeRST, Flags: FlagProposal | uint8(RoleDesignated)<<roleShift, Root: torID, Cost: 7, Bridge: torID + 1,
		Port: 0x8002, MessageAge: 256, MaxAge: 6 * 256, Hello: 512, FwdDelay: 1024}
	out, err := Parse(in.Frame(torMAC))
	if err != nil || out != in {
		t.Fatalf("round trip: %+v, %v; want %+v", out, err, in)
	}
	if _, err := Parse([]byte{1, 2, 3}); err == nil {
		t.Fatal("a 3-byte frame parsed")
	}
	if GroupBridge(groupMAC) != uint64(GroupPriority)<<48|0x02000000ff01 {
		t.Fatalf("group bridge id %x", GroupBridge(groupMAC))
	}
}

// must fails the test (by panicking: it takes a call's two results) on a parse error.
func must(a Actions, err error) Actions {
	if err != nil {
		panic(err)
	}
	return a
}

// TestLinkCutFailover: gw1's port (ToR port 1) forwards; gw2's (ToR port 2) is backup and gets
// port 1's BPDUs through the hub. gw1's link goes down: gw1 withdraws port 1's information,
// gw2 forgets it and answers the ToR's proposal on port 2 at once.
func TestLinkCutFailover(t *testing.T) {
	now := time.Unix(1000, 0)
	gw1, gw2 := NewPort(groupMAC, 1, false), NewPort(groupMAC, 2, false)
	gw1.SetLink(true, now)
	gw2.SetLink(true, now)
	must(gw1.FromSwitch(fromToR(1, FlagLearning|FlagForwarding), now))
	must(gw2.FromGroup(fromToR(1, FlagLearning|FlagForwarding), now))
	if fwd, why := gw1.Verdict(now); !fwd {
		t.Fatalf("gw1: %s", why)
	}
	if fwd, why := gw2.Verdict(now); fwd {
		t.Fatalf("gw2 forwards: %s", why)
	}
	now = now.Add(300 * time.Millisecond)
	a := gw1.SetLink(false, now)
	if a.Withdrawal == nil {
		t.Fatal("no withdrawal on link down")
	}
	w, _ := Parse(a.Withdrawal)
	if !w.Expired() || w.Has(FlagLearning) || w.Key() != "32768.020000000070/0x8001" {
		t.Fatalf("withdrawal %s", w)
	}
	if fwd, _ := gw1.Verdict(now); fwd {
		t.Fatal("gw1 forwards with its link down")
	}
	// The ToR proposes on port 2 before gw2 got the withdrawal: no answer yet.
	if a := must(gw2.FromSwitch(fromToR(2, FlagProposal), now)); a.Agreement != nil {
		t.Fatal("gw2 agreed while port 1's information was live")
	}
	a = must(gw2.FromGroup(w.Frame(torMAC), now))
	if a.Agreement == nil {
		t.Fatal("gw2 did not agree once port 1 was withdrawn")
	}
	ag, _ := Parse(a.Agreement)
	if ag.Role() != RoleRoot || !ag.Has(FlagAgreement) || ag.Bridge != GroupBridge(groupMAC) {
		t.Fatalf("agreement %s", ag)
	}
	if !(BPDU{Root: torID, Cost: 0, Bridge: torID, Port: 0x8002}).Vector().Better(ag.Vector()) {
		t.Fatalf("the agreement's vector %+v is not worse than the ToR port's", ag.Vector())
	}
	if fwd, why := gw2.Verdict(now); !fwd {
		t.Fatalf("gw2 after agreeing: %s", why)
	}
}

// TestFailbackHandshake: gw2 forwards; gw1's link returns and the ToR proposes on port 1. The
// hub brings port 1's proposal to gw2 (port 2 blocks on receipt), gw2 withdraws port 2's
// information, and only then does gw1 agree.
func TestFailbackHandshake(t *testing.T) {
	now := time.Unix(1000, 0)
	gw1, gw2 := NewPort(groupMAC, 1, false), NewPort(groupMAC, 2, false)
	gw1.SetLink(true, now)
	gw2.SetLink(true, now)
	must(gw2.FromSwitch(fromToR(2, FlagLearning|FlagForwarding), now))
	must(gw1.FromGroup(fromToR(2, FlagLearning|FlagForwarding), now))
	if a := must(gw1.FromSwitch(fromToR(1, FlagProposal), now)); a.Agreement != nil {
		t.Fatal("gw1 agreed while port 2 forwards")
	}
	if fwd, _ := gw1.Verdict(now); fwd {
		t.Fatal("gw1 forwards before port 2 is blocked")
	}
	a := must(gw2.FromGroup(fromToR(1, FlagProposal), now))
	if a.Withdrawal == nil {
		t.Fatal("gw2 did not withdraw port 2 on a superior vector")
	}
	if fwd, _ := gw2.Verdict(now); fwd {
		t.Fatal("gw2 still forwards after a superior vector reached its port")
	}
	a = must(gw1.FromGroup(a.Withdrawal, now))
	if a.Agreement == nil {
		t.Fatal("gw1 did not agree after port 2's withdrawal")
	}
}

// TestLostRelayIsRefreshed: port 2 lost port 1's information (relays lost) and proposes; gw1,
// forwarding, sends port 1's BPDU again, and gw2 does not agree while port 1's is live.
func TestLostRelayIsRefreshed(t *testing.T) {
	now := time.Unix(1000, 0)
	gw1, gw2 := NewPort(groupMAC, 1, false), NewPort(groupMAC, 2, false)
	gw1.SetLink(true, now)
	gw2.SetLink(true, now)
	must(gw1.FromSwitch(fromToR(1, FlagLearning|FlagForwarding), now))
	must(gw2.FromGroup(fromToR(1, FlagLearning|FlagForwarding), now))
	now = now.Add(6500 * time.Millisecond) // the ToR aged port 1's copy on port 2 (3 hellos); gw2 has not (4)
	must(gw1.FromSwitch(fromToR(1, FlagLearning|FlagForwarding), now))
	if a := must(gw2.FromSwitch(fromToR(2, FlagProposal), now)); a.Agreement != nil {
		t.Fatal("gw2 agreed within the margin")
	}
	if a := must(gw1.FromGroup(fromToR(2, FlagProposal), now)); a.Refresh == nil {
		t.Fatal("gw1 did not refresh port 1's information")
	}
	// Node death instead: nothing comes; after 4 hellos gw2 agrees.
	if a := gw2.Tick(now.Add(2 * time.Second)); a.Agreement == nil {
		t.Fatal("gw2 did not agree once port 1's information aged out")
	}
}

// TestPassivePortOnlyWatches: with the handshake off (ha_rapid = false), a port sends nothing
// and forwards only when the switch's BPDUs say its port forwards.
func TestPassivePortOnlyWatches(t *testing.T) {
	now := time.Unix(1000, 0)
	p := NewPort(groupMAC, 1, true)
	p.SetLink(true, now)
	if a := must(p.FromSwitch(fromToR(1, FlagProposal), now)); a.Agreement != nil || a.Withdrawal != nil {
		t.Fatalf("a passive port sent %+v", a)
	}
	if fwd, _ := p.Verdict(now); fwd {
		t.Fatal("a passive port forwards on a proposal")
	}
	must(p.FromSwitch(fromToR(1, FlagLearning|FlagForwarding), now))
	if fwd, why := p.Verdict(now); !fwd {
		t.Fatalf("passive: %s", why)
	}
	if a := p.SetLink(false, now); a.Withdrawal != nil {
		t.Fatal("a passive port withdrew")
	}
}

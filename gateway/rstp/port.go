package rstp

import (
	"fmt"
	"net"
	"sort"
	"time"
)

// The group's logical bridge and its BPDUs.
const (
	// GroupPriority is the bridge priority the gateways of a group answer with: the worst one
	// 802.1D-2004 allows (Table 17-2: 0 to 61440 in steps of 4096), so that nothing ever takes
	// the group for a root.
	GroupPriority = 61440
	// GroupPathCost is the root path cost the group's agreement adds to the switch's: the
	// 802.1D-2004 recommendation for a 10 Gb/s link (Table 17-3).
	GroupPathCost = 2000
	// remoteMargin is how much longer than the switch a gateway keeps another gateway's
	// information: one more hello time. When a relayed BPDU is lost the switch ages its copy
	// first and proposes; the gateway that sent it sees that proposal through the hub and sends
	// its BPDU again (Refresh) before this gateway would agree.
	remoteMargin = 1
)

// GroupBridge is the bridge id of a group's logical bridge: GroupPriority and the address of the
// group's BPDU VMI (the same on every gateway of the group).
func GroupBridge(mac net.HardwareAddr) uint64 {
	id := uint64(GroupPriority) << 48
	for i := 0; i < 6 && i < len(mac); i++ {
		id |= uint64(mac[i]) << (8 * (5 - i))
	}
	return id
}

// seen is one BPDU and when it arrived.
type seen struct {
	b     BPDU
	frame []byte
	at    time.Time
}

// Actions are what a Port asks its caller to send.
type Actions struct {
	Agreement  []byte // out of this port, to the switch
	Withdrawal []byte // into the group's BPDU network, to the other gateways' ports
	Refresh    []byte // into the group's BPDU network: this port's last BPDU from the switch
}

// Port is one gateway port of an HA group, as the switch's spanning tree sees it. Not safe for
// concurrent use.
type Port struct {
	bridge    uint64 // the group's logical bridge
	id        uint16 // this port's id in it
	src       net.HardwareAddr
	up        bool
	local     *seen            // the switch's last BPDU on this port
	remote    map[string]*seen // designated BPDUs of other gateways' ports, by sender
	agreed    bool             // an agreement answered the switch's current proposal
	withdrawn bool             // the local information was withdrawn since it arrived
	heard     bool             // the switch sent a BPDU on this port since NewPort
	passive   bool
}

// Heard reports whether the switch has sent a BPDU on this port since NewPort.
func (p *Port) Heard() bool { return p.heard }

// Contested reports whether live information of another gateway's port is better than this
// one's, or learns or forwards.
func (p *Port) Contested(now time.Time) bool {
	for _, s := range p.remote {
		if s.live(now, remoteMargin) && (s.b.Has(FlagLearning) || s.b.Has(FlagForwarding) ||
			p.local == nil || s.b.Vector().Better(p.local.b.Vector())) {
			return true
		}
	}
	return false
}

// NewPort returns a port of the group whose BPDU VMI has address mac; id is the port's id in
// the group's logical bridge (priority 128 and a number unique in the group). A passive port
// only watches: it sends no agreement, withdrawal or refresh, and the switch's timers rule.
func NewPort(mac net.HardwareAddr, number uint16, passive bool) *Port {
	return &Port{bridge: GroupBridge(mac), id: 0x8000 | number&0x0fff, src: mac, remote: map[string]*seen{}, passive: passive}
}

// quiet drops what a passive port would send.
func (p *Port) quiet(a Actions) Actions {
	if p.passive {
		return Actions{}
	}
	return a
}

func (s *seen) live(now time.Time, extra int) bool {
	return s != nil && now.Sub(s.at) < time.Duration(3+extra)*s.b.HelloTime()
}

// SetLink records the port's link state. A link that goes down withdraws the switch's
// information this port carried to the others.
func (p *Port) SetLink(up bool, now time.Time) Actions {
	var a Actions
	if p.up && !up {
		a.Withdrawal = p.withdraw()
		p.local, p.agreed = nil, false
	}
	p.up = up
	return p.quiet(a)
}

// FromSwitch takes a frame the switch sent on this port.
func (p *Port) FromSwitch(frame []byte, now time.Time) (Actions, error) {
	b, err := Parse(frame)
	if err != nil || b.Type == TypeTCN {
		return Actions{}, err
	}
	// Every proposal gets its answer: the switch repeats one whose agreement it did not get.
	if p.local == nil || b.Key() != p.local.b.Key() || (b.Has(FlagProposal) && !b.Has(FlagForwarding)) {
		p.agreed = false
	}
	p.local, p.withdrawn, p.heard = &seen{b: b, frame: append([]byte(nil), frame...), at: now}, false, true
	var a Actions
	if s := p.superior(now); s != nil {
		a.Withdrawal = p.withdraw()
	}
	a.Agreement = p.agree(now)
	return p.quiet(a), nil
}

// FromGroup takes a BPDU the group's BPDU network brought to this port from another gateway's.
func (p *Port) FromGroup(frame []byte, now time.Time) (Actions, error) {
	b, err := Parse(frame)
	if err != nil || b.Type == TypeTCN || b.Role() != RoleDesignated {
		return Actions{}, err
	}
	var a Actions
	if b.Expired() {
		delete(p.remote, b.Key())
	} else {
		p.remote[b.Key()] = &seen{b: b, frame: append([]byte(nil), frame...), at: now}
		if l := p.local; l.live(now, 0) && p.up && l.b.Role() == RoleDesignated {
			if b.Vector().Better(l.b.Vector()) {
				a.Withdrawal = p.withdraw()
			} else if !p.withdrawn {
				// That port of the switch has lost this one's information: give it again.
				a.Refresh = append([]byte(nil), l.frame...)
			}
		}
	}
	a.Agreement = p.agree(now)
	return p.quiet(a), nil
}

// Tick ages the other gateways' information; an answer the switch waits for may follow.
func (p *Port) Tick(now time.Time) Actions {
	for k, s := range p.remote {
		if !s.live(now, remoteMargin) {
			delete(p.remote, k)
		}
	}
	return p.quiet(Actions{Agreement: p.agree(now)})
}

// withdraw returns the local information, expired, once per arrival.
func (p *Port) withdraw() []byte {
	if p.local == nil || p.withdrawn {
		return nil
	}
	p.withdrawn = true
	b := p.local.b
	b.MessageAge = b.MaxAge
	b.Flags = 0
	if b.Type == TypeRST {
		b.Flags = uint8(RoleDesignated) << roleShift
	}
	return b.Frame(net.HardwareAddr(p.local.frame[6:12]))
}

// superior is the live information of another gateway's port that beats this port's.
func (p *Port) superior(now time.Time) *seen {
	if p.local == nil {
		return nil
	}
	for _, k := range p.remoteKeys() {
		if s := p.remote[k]; s.live(now, remoteMargin) && s.b.Vector().Better(p.local.b.Vector()) {
			return s
		}
	}
	return nil
}

// elsewhere is the live information of another gateway's port that beats this one or learns or
// forwards already: while there is one, this port's switch port must not be hurried.
func (p *Port) elsewhere(now time.Time) *seen {
	if s := p.superior(now); s != nil {
		return s
	}
	for _, k := range p.remoteKeys() {
		if s := p.remote[k]; s.live(now, remoteMargin) && (s.b.Has(FlagLearning) || s.b.Has(FlagForwarding)) {
			return s
		}
	}
	return nil
}

func (p *Port) remoteKeys() []string {
	keys := make([]string, 0, len(p.remote))
	for k := range p.remote {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// agree answers the switch's live proposal when no other port of the hub can forward.
func (p *Port) agree(now time.Time) []byte {
	l := p.local
	if p.passive || !p.up || p.agreed || !l.live(now, 0) || l.b.Type != TypeRST || l.b.Role() != RoleDesignated ||
		!l.b.Has(FlagProposal) || l.b.Has(FlagForwarding) || p.elsewhere(now) != nil {
		return nil
	}
	p.agreed = true
	ans := BPDU{Type: TypeRST, Flags: uint8(RoleRoot)<<roleShift | FlagAgreement | FlagLearning | FlagForwarding,
		Root: l.b.Root, Cost: l.b.Cost + GroupPathCost, Bridge: p.bridge, Port: p.id,
		MessageAge: l.b.MessageAge + 256, MaxAge: l.b.MaxAge, Hello: l.b.Hello, FwdDelay: l.b.FwdDelay}
	return ans.Frame(p.src)
}

// Verdict says whether the switch forwards to this port, and why, from the BPDUs.
func (p *Port) Verdict(now time.Time) (bool, string) {
	l := p.local
	switch {
	case !p.up:
		return false, "link down"
	case !l.live(now, 0):
		return false, "no BPDU from the switch for three hello times: its port is backup, alternate or down"
	case l.b.Role() != RoleDesignated:
		return false, fmt.Sprintf("the switch's port is %s: %s", l.b.Role(), l.b)
	}
	if s := p.superior(now); s != nil {
		return false, fmt.Sprintf("the switch blocks its port: a better BPDU reaches it through the group (%s)", s.b)
	}
	switch {
	case l.b.Type == TypeConfig || l.b.Has(FlagForwarding):
		return true, fmt.Sprintf("the switch's port is designated and forwarding: %s", l.b)
	case l.b.Type == TypeConfig || l.b.Has(FlagForwarding) || p.agreed:
		// The other port blocks when this one's information reaches it; until its gateway
		// withdraws it (or it ages out) both could forward for a moment: wait.
		if s := p.elsewhere(now); s != nil {
			return false, fmt.Sprintf("the switch's port is designated and forwarding, but so is another gateway's until it withdraws (%s)", s.b)
		}
		if p.agreed && !l.b.Has(FlagForwarding) {
			return true, fmt.Sprintf("the group agreed to the switch's proposal, its port forwards: %s", l.b)
		}
		return true, fmt.Sprintf("the switch's port is designated and forwarding: %s", l.b)
	}
	return false, fmt.Sprintf("the switch's port is designated, discarding: %s", l.b)
}

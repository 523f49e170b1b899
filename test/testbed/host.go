package testbed

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"time"
)

// Host is a namespace standing for a server or VM. Its one interface,
// "eth0", is a veth whose peer sits in a Node's namespace, ready to be
// added to a bridge there.
type Host struct {
	*NS
	IP     string // address without prefix length, "" if none
	CIDR   string // address with prefix length as given to NewHost
	MAC    string // eth0's MAC address
	Node   *Node  // the node holding the peer interface
	PeerIf string // the peer interface's name in Node's namespace
}

// HostIf is the name of a Host's interface.
const HostIf = "eth0"

// NewHost creates a host namespace linked to node: eth0 in the host,
// peerIf in node's namespace (not yet on any bridge; see [Node.AddPort]).
// mac "" keeps the kernel's random address; cidr ("10.0.0.1/24") "" leaves
// eth0 without an IPv4 address.
func NewHost(t T, name string, node *Node, peerIf, mac, cidr string) *Host {
	t.Helper()
	h := &Host{NS: NewNS(t, name), CIDR: cidr, Node: node, PeerIf: peerIf}
	Link(t, h.NS, HostIf, node.NS, peerIf)
	if mac != "" {
		h.MustExec(t, "ip", "link", "set", HostIf, "address", mac)
	}
	if cidr != "" {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			t.Fatalf("testbed: host %s: bad cidr: %v", name, err)
		}
		h.IP = p.Addr().String()
		h.MustExec(t, "ip", "addr", "add", cidr, "dev", HostIf)
	}
	m := linkEther.FindStringSubmatch(h.MustExec(t, "ip", "-o", "link", "show", "dev", HostIf))
	if m == nil {
		t.Fatalf("testbed: host %s: no MAC on %s", name, HostIf)
	}
	h.MAC = m[1]
	return h
}

var linkEther = regexp.MustCompile(`link/ether ([0-9a-f:]{17})`)

// Ping sends ICMP echo requests every 0.2 s until count replies have come
// back or timeout has passed, so early losses (ARP, MAC learning) are
// tolerated. It fails unless count replies arrived; the output is ping's.
func (h *Host) Ping(dst string, count int, timeout time.Duration) (string, error) {
	deadline := strconv.Itoa(int(math.Ceil(timeout.Seconds())))
	return h.ExecTimeout(timeout+10*time.Second,
		"ping", "-n", "-c", strconv.Itoa(count), "-i", "0.2", "-w", deadline, dst)
}

// MustPing fails the test unless dst answers 3 pings within 10 seconds.
func (h *Host) MustPing(t T, dst string) {
	t.Helper()
	if _, err := h.Ping(dst, 3, 10*time.Second); err != nil {
		t.Fatalf("testbed: ping %s -> %s failed: %v", h.Name, dst, err)
	}
}

// MustNotPing fails the test if dst answers any of 3 pings (for checking
// isolation, e.g. across VLANs).
func (h *Host) MustNotPing(t T, dst string) {
	t.Helper()
	sent, received, out := h.PingCount(dst, 3, 200*time.Millisecond, time.Second)
	if received > 0 {
		t.Fatalf("testbed: %s reached %s (%d/%d replies), want none:\n%s", h.Name, dst, received, sent, out)
	}
}

var pingStats = regexp.MustCompile(`(\d+) packets transmitted, (\d+) (?:packets )?received`)

// PingCount sends exactly count echo requests, interval apart, waiting up
// to wait for the last reply, and reports how many were sent and answered;
// for measuring loss, e.g. across a failover. sent is 0 when ping could not
// send at all (no route); output then says why.
func (h *Host) PingCount(dst string, count int, interval, wait time.Duration) (sent, received int, output string) {
	sec := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
	limit := time.Duration(count)*interval + wait + 10*time.Second
	out, err := h.ExecTimeout(limit, "ping", "-n", "-c", strconv.Itoa(count), "-i", sec(interval), "-W", sec(wait), dst)
	if m := pingStats.FindStringSubmatch(out); m != nil {
		sent, _ = strconv.Atoi(m[1])
		received, _ = strconv.Atoi(m[2])
	} else if err != nil {
		out = fmt.Sprintf("%s\n%v", out, err)
	}
	return sent, received, out
}

// MustTCP fails the test unless a short message sent by h over TCP reaches
// a listener on server's port. That needs correct TCP checksums end to end,
// which ICMP does not show (see [Link]). It uses netcat-openbsd.
func (h *Host) MustTCP(t T, server *Host, port int) {
	t.Helper()
	if err := h.TCP(t, server, port); err != nil {
		// A silent nc timeout here usually means dropped segments, e.g.
		// bad checksums from a veth with tx offload left on.
		t.Fatalf("testbed: %v", err)
	}
}

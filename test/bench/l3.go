package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// The services section (--sections l3): one gateway node in file mode whose VN blue has many
// remote instances behind VLANs of one trunk, and VNs blue and red on logical router r1 with
// local VMs; through real packets on the real switch, with the agent answering:
//
//   - DHCPv4 leases answered per second: clients, each a remote instance with its own VLAN and
//     MAC, run DISCOVER → OFFER → REQUEST → ACK over and over from one raw socket on the
//     trunk's far end, all at once; a lease counts when its ACK arrives. The meters bound the
//     figure (pipeline.VMIMeterRate per instance, pipeline.SharedMeterRate for the node, two
//     packet-ins a lease), and the table prints that bound beside it.
//   - A TCP stream between two local VMs with iperf3, switched (both in blue) and routed (blue
//     to red through r1), alternately, in the same run.
const (
	l3Host = "gw1"
	// l3FirstVLAN is the VLAN of the first DHCP client; client i has VLAN l3FirstVLAN+i.
	l3FirstVLAN = 100
	// l3MaxClients keeps the clients' VLANs below 4095 and their interfaces within the default
	// budget (model.DefaultMaxInterfaces: 2,176 remote instances).
	l3MaxClients = 2000
	// dhcpRetry is how long a client waits for an OFFER or ACK before starting over with a new
	// DISCOVER. RFC 2131 clients wait 4 s at first; a shorter wait keeps a client that lost a
	// packet to a meter from idling out a whole window.
	dhcpRetry = time.Second
	// dhcpWarmup runs the clients before the window opens, so that the meters' bursts are mostly
	// spent and the figure is near the steady rate; dhcpRest lets the buckets refill between two
	// runs, so that each run starts alike.
	dhcpWarmup = 2 * time.Second
	dhcpRest   = 3 * time.Second
	// iperfPort is where the iperf3 servers listen.
	iperfPort = 5201
	// A lease is two packet-ins (DISCOVER, REQUEST).
	packetsPerLease = 2
)

// Defaults of the section's flags.
const (
	defaultDHCPClients = "16,256"
	defaultDHCPWindow  = 10 * time.Second
	defaultIperfTime   = 5 * time.Second
	defaultIperfRounds = 3
)

// The local VMs of the TCP streams: sw1 sends, to sw2 (switched) and to rt (routed).
var l3VMs = []struct{ name, network, mac, ip, prefix, gw string }{
	{"sw1", "blue", "02:00:00:20:00:01", "10.1.250.11", "/16", "10.1.0.1"},
	{"sw2", "blue", "02:00:00:20:00:02", "10.1.250.12", "/16", "10.1.0.1"},
	{"rt", "red", "02:00:00:20:00:03", "10.2.0.13", "/24", "10.2.0.1"},
}

// dhcpClientMAC and dhcpClientIP are client i's VMI.
func dhcpClientMAC(i int) net.HardwareAddr {
	return net.HardwareAddr{2, 0, 0, 0x10, byte(i >> 8), byte(i)}
}
func dhcpClientIP(i int) string { return fmt.Sprintf("10.1.%d.%d", 1+i/200, 10+i%200) }

// l3YAML is the section's config with n DHCP clients.
func l3YAML(n int) string {
	var b strings.Builder
	b.WriteString(`virtualNetworks:
  - {name: blue, vni: 5001, subnets: [{cidr: 10.1.0.0/16, dnsServers: [10.1.0.2], domainName: bench.example, dhcp: true}]}
  - {name: red, vni: 5002, subnets: ["10.2.0.0/24"]}
logicalRouters:
  - {name: r1, networks: [blue, red]}
physicalRouters:
  - name: ` + l3Host + `
    physicalInterfaces:
      - name: eth1
        logicalInterfaces:
`)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "          - {name: eth1-%d, vlan: %d, vmi: c%d}\n", l3FirstVLAN+i, l3FirstVLAN+i, i)
	}
	b.WriteString("virtualMachineInterfaces:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - {name: c%d, network: blue, mac: %q, instanceIPs: [{address: %s}]}\n", i, dhcpClientMAC(i), dhcpClientIP(i))
	}
	for _, v := range l3VMs {
		fmt.Fprintf(&b, "  - {name: %s, network: %s, mac: %q, instanceIPs: [{address: %s}]}\n", v.name, v.network, v.mac, v.ip)
	}
	return b.String()
}

// dhcpRun is one DHCP measurement: clients at once over a window.
type dhcpRun struct {
	clients     int
	window      time.Duration
	leases      int     // ACKs received within the window
	timeouts    int     // exchanges started over for want of an answer within dhcpRetry
	naks        int     // should stay 0: every client asks for its own address
	cpu         float64 // agent CPU seconds over the window
	packetIns   uint64  // received by the agent over the window
	vmiDrops    uint64  // dropped by the instances' meters over the window
	sharedDrops uint64  // dropped by the shared meter over the window
	queueDrops  uint64  // dropped by the agent's packet-in queue over the window
}

func (d dhcpRun) perSecond() float64 { return float64(d.leases) / d.window.Seconds() }

// meterBound is the lease rate the meters allow clients at once over a window: sustained
// (their rates), and at most (their rates, plus full buckets spent within the window: the
// warm-up may not empty the shared meter's when the clients ask little more than its rate).
func meterBound(clients int, window time.Duration) (sustained, most float64) {
	n := uint32(clients)
	rate := min(n*pipeline.VMIMeterRate, pipeline.SharedMeterRate)
	burst := min(n*pipeline.VMIMeterBurst, pipeline.SharedMeterBurst)
	return float64(rate) / packetsPerLease, (float64(rate) + float64(burst)/window.Seconds()) / packetsPerLease
}

// l3Result is what the section measured.
type l3Result struct {
	dhcp     []dhcpRun
	switched []float64 // Gbit/s of each round
	routed   []float64
	retrans  map[string]int // TCP retransmissions over all rounds, by path
	err      string
}

// l3Options are the section's flags.
type l3Options struct {
	clients     []int
	window      time.Duration
	iperfTime   time.Duration
	iperfRounds int
}

// measureL3 builds the node, starts the agent and measures; a fatal error ends the goroutine
// (the result keeps what was measured before it).
func (b *bench) measureL3(t *runT, r *l3Result) {
	o := b.opts.l3
	n := 0
	for _, c := range o.clients {
		n = max(n, c)
	}
	gw := testbed.NewNode(t, l3Host)
	clients := testbed.NewNS(t, "dhcpc")
	testbed.Link(t, clients, "eth0", gw.NS, "eth1")
	var hosts []*testbed.Host
	for _, v := range l3VMs {
		hosts = append(hosts, testbed.NewHost(t, v.name, gw, v.name+"p", v.mac, v.ip+v.prefix))
	}
	a := testbed.NewAgent(t, b.opts.bin, gw, testbed.AgentOptions{Hostname: l3Host, GatewayMode: true}, l3YAML(n))
	deadline := time.Now().Add(syncTimeout)
	for {
		if _, err := gw.Vsctl("br-exists", bridge); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent made no %s within %v:\n%s", bridge, syncTimeout, lastLines(a.LogText(), 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, v := range l3VMs {
		gw.MustVsctl(t, "add-port", bridge, v.name+"p", "--", "set", "interface", v.name+"p", "external_ids:iface-id="+v.name)
		hosts[i].MustExec(t, "ip", "route", "replace", "default", "via", v.gw)
	}
	waitSynced(t, a, n+len(l3VMs), 1)
	fmt.Fprintf(os.Stderr, "  agent synced: %d DHCP clients, %d local VMs\n", n, len(l3VMs))

	servicesCounters(t, a) // the agent is connected to the switch
	sock := packetSocket(t, clients.Name, "eth0")
	defer unix.Close(sock)
	for i, c := range o.clients {
		if i > 0 {
			time.Sleep(dhcpRest)
		}
		fmt.Fprintf(os.Stderr, "  DHCP: %d clients for %v\n", c, o.window)
		r.dhcp = append(r.dhcp, measureDHCP(t, a, sock, c, o.window))
	}
	b.measureTCP(t, r, hosts[0], hosts[1], hosts[2])
}

// packetSocket opens a raw packet socket on ifname inside namespace ns: the socket belongs to
// the namespace it was made in, whatever thread uses it later. The thread that makes it enters
// the namespace and goes back to its own before it serves other goroutines again; it must not
// end instead (a thread that ends kills the processes it started: testbed's Pdeathsig), so if
// it cannot go back, the bench stops.
func packetSocket(t *runT, ns, ifname string) int {
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		own, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, err}
			return
		}
		defer own.Close()
		fd, err := func() (int, error) {
			f, err := os.Open(filepath.Join("/var/run/netns", ns))
			if err != nil {
				return -1, err
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				return -1, fmt.Errorf("enter namespace %s: %w", ns, err)
			}
			ifi, err := net.InterfaceByName(ifname)
			if err != nil {
				return -1, err
			}
			proto := int(htons(unix.ETH_P_ALL))
			fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, proto)
			if err != nil {
				return -1, err
			}
			if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
				unix.Close(fd)
				return -1, err
			}
			// The receiver checks whether the run is over this often.
			tv := unix.NsecToTimeval((200 * time.Millisecond).Nanoseconds())
			if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
				unix.Close(fd)
				return -1, err
			}
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
			return fd, nil
		}()
		if serr := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); serr != nil {
			fmt.Fprintf(os.Stderr, "bench: cannot return to the bench's network namespace: %v\n", serr)
			os.Exit(1)
		}
		runtime.UnlockOSThread()
		ch <- result{fd, err}
	}()
	res := <-ch
	if res.err != nil {
		t.Fatalf("raw socket in %s: %v", ns, res.err)
	}
	return res.fd
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// dhcpFrame is a client's DHCP message as its remote instance sends it: broadcast, from
// 0.0.0.0, tagged with its VLAN (what the ToR would add).
func dhcpFrame(mac net.HardwareAddr, vlan int, msg []byte) []byte {
	udp := make([]byte, 8+len(msg))
	binary.BigEndian.PutUint16(udp[0:], 68)
	binary.BigEndian.PutUint16(udp[2:], 67)
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	copy(udp[8:], msg)
	src, dst := []byte{0, 0, 0, 0}, []byte{255, 255, 255, 255}
	// UDP checksum over the pseudo-header.
	pseudo := append(append(append([]byte{}, src...), dst...), 0, 17, byte(len(udp)>>8), byte(len(udp)))
	binary.BigEndian.PutUint16(udp[6:], onesComplement(pseudo, udp))
	ip := make([]byte, 20, 20+len(udp))
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
	copy(ip[12:], src)
	copy(ip[16:], dst)
	binary.BigEndian.PutUint16(ip[10:], onesComplement(ip))
	frame := make([]byte, 0, 18+len(ip)+len(udp))
	frame = append(frame, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	frame = append(frame, mac...)
	frame = binary.BigEndian.AppendUint16(frame, 0x8100)
	frame = binary.BigEndian.AppendUint16(frame, uint16(vlan))
	frame = binary.BigEndian.AppendUint16(frame, 0x0800)
	return append(append(frame, ip...), udp...)
}

func onesComplement(parts ...[]byte) uint16 {
	var s uint32
	for _, p := range parts {
		for i := 0; i+1 < len(p); i += 2 {
			s += uint32(p[i])<<8 | uint32(p[i+1])
		}
		if len(p)%2 == 1 {
			s += uint32(p[len(p)-1]) << 8
		}
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	if c := ^uint16(s); c != 0 {
		return c
	}
	return 0xffff
}

// dhcpReply reads a DHCP server's message out of a received frame (802.1Q tag or not: a veth
// may hand the tag over out of band), or nil.
func dhcpReply(frame []byte) *dhcpv4.DHCPv4 {
	if len(frame) < 14 {
		return nil
	}
	typ, off := binary.BigEndian.Uint16(frame[12:]), 14
	if typ == 0x8100 && len(frame) >= 18 {
		typ, off = binary.BigEndian.Uint16(frame[16:]), 18
	}
	if typ != 0x0800 || len(frame) < off+20 {
		return nil
	}
	ip := frame[off:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[9] != 17 || len(ip) < ihl+8 || binary.BigEndian.Uint16(ip[ihl:]) != 67 {
		return nil
	}
	m, err := dhcpv4.FromBytes(ip[ihl+8:])
	if err != nil {
		return nil
	}
	return m
}

// measureDHCP runs n clients at once over a window (after a warm-up) and counts the leases.
func measureDHCP(t *runT, a *testbed.Agent, sock, n int, window time.Duration) dhcpRun {
	inbox := make([]chan *dhcpv4.DHCPv4, n)
	byMAC := map[string]int{}
	for i := range inbox {
		inbox[i] = make(chan *dhcpv4.DHCPv4, 8)
		byMAC[dhcpClientMAC(i).String()] = i
	}
	var stop atomic.Bool
	// The clients stop with the run, also when a fatal error ends it (deferred calls run).
	defer stop.Store(true)
	var leases, timeouts, naks atomic.Int64
	var counting atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the receiver: each reply to its client's inbox
		defer wg.Done()
		buf := make([]byte, 4096)
		for !stop.Load() {
			k, from, err := unix.Recvfrom(sock, buf, 0)
			if err != nil || k <= 0 {
				continue
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				continue
			}
			if m := dhcpReply(buf[:k]); m != nil {
				if i, ok := byMAC[m.ClientHWAddr.String()]; ok {
					select {
					case inbox[i] <- m:
					default:
					}
				}
			}
		}
	}()
	send := func(i int, m *dhcpv4.DHCPv4) {
		frame := dhcpFrame(dhcpClientMAC(i), l3FirstVLAN+i, m.ToBytes())
		if err := unix.Send(sock, frame, 0); err != nil {
			fmt.Fprintf(os.Stderr, "  DHCP client %d: send: %v\n", i, err)
			time.Sleep(dhcpRetry)
		}
	}
	// await waits for a message of type typ with xid from client i's inbox.
	await := func(i int, xid dhcpv4.TransactionID, types ...dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		timer := time.NewTimer(dhcpRetry)
		defer timer.Stop()
		for {
			select {
			case m := <-inbox[i]:
				if m.TransactionID != xid {
					continue // an answer to an exchange given up on
				}
				for _, typ := range types {
					if m.MessageType() == typ {
						return m
					}
				}
			case <-timer.C:
				if counting.Load() {
					timeouts.Add(1)
				}
				return nil
			}
		}
	}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mac := dhcpClientMAC(i)
			for !stop.Load() {
				d, err := dhcpv4.NewDiscovery(mac, dhcpv4.WithBroadcast(false))
				if err != nil {
					t.Logf("DHCP client %d: %v", i, err)
					return
				}
				send(i, d)
				offer := await(i, d.TransactionID, dhcpv4.MessageTypeOffer)
				if offer == nil {
					continue
				}
				req, err := dhcpv4.NewRequestFromOffer(offer, dhcpv4.WithBroadcast(false))
				if err != nil {
					t.Logf("DHCP client %d: %v", i, err)
					return
				}
				send(i, req)
				switch ack := await(i, req.TransactionID, dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak); {
				case ack == nil:
				case !counting.Load():
				case ack.MessageType() == dhcpv4.MessageTypeAck && ack.YourIPAddr.String() == dhcpClientIP(i):
					leases.Add(1)
				default:
					naks.Add(1)
				}
			}
		}()
	}
	time.Sleep(dhcpWarmup)
	st0 := servicesCounters(t, a)
	_, cpu0 := procStats(t, a.Proc.Pid)
	counting.Store(true)
	began := time.Now()
	time.Sleep(window)
	counting.Store(false)
	took := time.Since(began)
	_, cpu1 := procStats(t, a.Proc.Pid)
	st1 := servicesCounters(t, a)
	stop.Store(true)
	wg.Wait()
	return dhcpRun{clients: n, window: took, leases: int(leases.Load()), timeouts: int(timeouts.Load()), naks: int(naks.Load()),
		cpu: cpu1 - cpu0, packetIns: st1.PacketIns - st0.PacketIns, vmiDrops: st1.VMIMeterDrops - st0.VMIMeterDrops,
		sharedDrops: st1.SharedMeterDrops - st0.SharedMeterDrops, queueDrops: st1.PacketInsDropped - st0.PacketInsDropped}
}

// servicesCounters reads the agent's services counters (with the meters' drops: the status
// with counters). The status has none while the agent redials the switch, which may happen
// after its first sync (OVS resets a controller connection when it reconfigures the bridge):
// it is asked again then.
func servicesCounters(t *runT, a *testbed.Agent) control.ServicesStatus {
	deadline := time.Now().Add(syncTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
		s, err := control.NewClient(a.Socket).Status(ctx, true)
		cancel()
		switch {
		case err != nil:
			t.Fatalf("status: %v", err)
		case s.Services != nil:
			return *s.Services
		case time.Now().After(deadline):
			t.Fatalf("the agent's status has had no services for %v (no OpenFlow connection?)\n%s", syncTimeout, lastLines(a.LogText(), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// measureTCP runs iperf3 from src to dst (switched: the same VN) and to routed (the other VN,
// through r1), alternately, iperfRounds each.
func (b *bench) measureTCP(t *runT, r *l3Result, src, dst, routed *testbed.Host) {
	o := b.opts.l3
	// The routed path is routed: the reply comes back with its TTL less one hop.
	if out, err := src.Ping(routed.IP, 3, 10*time.Second); err != nil || !strings.Contains(out, "ttl=63") {
		t.Fatalf("%s -> %s is not routed once: %v\n%s", src.Name, routed.IP, err, out)
	}
	src.MustPing(t, dst.IP)
	dir, err := os.MkdirTemp("", "ovsgw-bench-iperf-")
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, h := range []*testbed.Host{dst, routed} {
		h.Start(t, filepath.Join(dir, h.Name+".log"), nil, "iperf3", "-s", "-p", fmt.Sprint(iperfPort))
	}
	r.retrans = map[string]int{}
	for round := 0; round < o.iperfRounds; round++ {
		for _, p := range []struct {
			path string
			to   *testbed.Host
			into *[]float64
		}{{"switched", dst, &r.switched}, {"routed", routed, &r.routed}} {
			gbps, retrans := iperf(t, src, p.to.IP, o.iperfTime)
			*p.into = append(*p.into, gbps)
			r.retrans[p.path] += retrans
			fmt.Fprintf(os.Stderr, "  TCP %s, round %d: %.2f Gbit/s\n", p.path, round+1, gbps)
		}
	}
}

// iperf runs one iperf3 client for d and returns the receiver's Gbit/s and the retransmissions;
// it retries while the server is not listening yet.
func iperf(t *runT, from *testbed.Host, to string, d time.Duration) (float64, int) {
	var out string
	var err error
	for try := 0; try < 20; try++ {
		out, err = from.ExecTimeout(d+30*time.Second, "iperf3", "-c", to, "-p", fmt.Sprint(iperfPort), "-t", fmt.Sprint(int(d.Seconds())), "-J")
		if err == nil || !strings.Contains(out, "refused") {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("iperf3 %s -> %s: %v\n%s", from.Name, to, err, lastLines(out, 10))
	}
	var res struct {
		End struct {
			SumSent     struct{ Retransmits int } `json:"sum_sent"`
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Error != "" || res.End.SumReceived.BitsPerSecond == 0 {
		t.Fatalf("iperf3 %s -> %s: %v %s\n%s", from.Name, to, err, res.Error, lastLines(out, 10))
	}
	return res.End.SumReceived.BitsPerSecond / 1e9, res.End.SumSent.Retransmits
}

// printL3 prints the section's table and notes.
func (b *bench) printL3(took time.Duration) {
	r := b.l3
	var out strings.Builder
	fmt.Fprintf(&out, "\nnode services and routing: one gateway node, %s, userspace datapath, %d CPUs\n", ovsVersion(), runtime.NumCPU())
	tb := &table{}
	tb.rows = append(tb.rows, []string{"", "measured", "beside it"})
	tb.section("DHCPv4: DISCOVER → OFFER → REQUEST → ACK, remote instances at once, each on its VLAN")
	for _, d := range r.dhcp {
		sustained, most := meterBound(d.clients, d.window)
		tb.add(fmt.Sprintf("%d clients: leases answered per second", d.clients), []string{fmt.Sprintf("%.0f /s", d.perSecond())},
			fmt.Sprintf("meters allow %.0f /s (min(%d × %d, %d) pps / %d), ≤ %.0f /s with full buckets", sustained, d.clients, pipeline.VMIMeterRate, pipeline.SharedMeterRate, packetsPerLease, most))
		tb.add("  packet-ins received / dropped by VMI meters / shared meter / queue", []string{fmt.Sprintf("%d / %d / %d / %d", d.packetIns, d.vmiDrops, d.sharedDrops, d.queueDrops)}, "")
		tb.add(fmt.Sprintf("  exchanges started over (no answer in %v) / NAKs", dhcpRetry), []string{fmt.Sprintf("%d / %d", d.timeouts, d.naks)}, "")
		tb.add("  agent CPU, % of a core", []string{fmt.Sprintf("%.1f %%", 100*d.cpu/d.window.Seconds())}, "")
	}
	if len(r.switched)+len(r.routed) > 0 {
		tb.section("TCP stream, iperf3, two local VMs on the node: median (each round)")
		rounds := func(xs []float64, path string) string {
			var each []string
			for _, x := range xs {
				each = append(each, fmt.Sprintf("%.2f", x))
			}
			return fmt.Sprintf("rounds %s; %d retransmits", strings.Join(each, ", "), r.retrans[path])
		}
		gbit := func(xs []float64) string { return fmt.Sprintf("%.2f Gbit/s", median(xs)) }
		tb.add("switched: sw1 → sw2, both in blue", []string{gbit(r.switched)}, rounds(r.switched, "switched"))
		if len(r.routed) > 0 && median(r.switched) > 0 {
			tb.add("routed: sw1 (blue) → rt (red) through r1", []string{gbit(r.routed)}, rounds(r.routed, "routed"))
			tb.add("  routed / switched", []string{fmt.Sprintf("%.2f", median(r.routed)/median(r.switched))}, "")
		}
	}
	tb.print(&out)
	fmt.Print(out.String())
	o := b.opts.l3
	notes := []string{
		fmt.Sprintf("DHCP: the clients are remote instances of VN blue, instance i on VLAN %d+i of the node's trunk eth1, whose far end (a namespace) sends every client's frames tagged from one raw socket and reads the answers; each client runs DISCOVER → OFFER → REQUEST → ACK in a loop, over again after %v without an answer. A lease counts when its ACK, with the instance's address, arrives within the %v window, which opens after %v of warm-up. The warm-up spends most of the meters' bursts, not always all (a bucket drains only by what clients ask beyond its rate, and refills while a client waits out a drop), so the window may hold some of them: hence the bound with full buckets beside the sustained one. The agent's counters (status) are read at both ends of the window. Meters: %d packets/s (burst %d) per instance, %d/s (burst %d) for the node.",
			l3FirstVLAN, dhcpRetry, o.window, dhcpWarmup, pipeline.VMIMeterRate, pipeline.VMIMeterBurst, pipeline.SharedMeterRate, pipeline.SharedMeterBurst),
		fmt.Sprintf("TCP: iperf3 -t %d from sw1 to an iperf3 server in sw2 (same VN: switched) and in rt (VN red on router r1 with blue: routed, TTL less one, checked by a ping before), alternately, %d rounds each; the receiver's rate. No security groups: the pipeline's conntrack is not involved. veth tx checksum offload is off (testbed.Link); the kernel's TCP and the userspace datapath share the cores.", int(o.iperfTime.Seconds()), o.iperfRounds),
	}
	if r.err != "" {
		notes = append(notes, "The section failed: "+firstLine(r.err))
	}
	notes = append(notes, fmt.Sprintf("Section run: %s.", took.Round(time.Second)))
	fmt.Println()
	for _, n := range notes {
		fmt.Println(wrap("- "+n, 100))
	}
}

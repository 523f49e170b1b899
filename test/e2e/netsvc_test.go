package e2e

// The node's services (gateway/netsvc) against real clients: udhcpc and ISC dhclient get
// their address and options from ServeDHCPv4, and a Linux kernel configures IPv6 by SLAAC
// from ServeICMPv6's router advertisement and resolves the gateway from its neighbour
// advertisement. No OVS: a veth pair joins the client's namespace to a "server" namespace,
// where the test reads and writes frames with an AF_PACKET socket, as the agent will through
// packet-ins and packet-outs.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ovsgw/ovsgw/gateway/netsvc"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// rawSocketIn opens an AF_PACKET socket on ifname inside namespace ns (the socket stays in
// it when this thread returns to its own namespace).
func rawSocketIn(t testing.TB, ns *testbed.NS, ifname string) int {
	t.Helper()
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("own namespace: %v", err)
	}
	defer unix.Close(orig)
	target, err := unix.Open(filepath.Join("/var/run/netns", ns.Name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("namespace %s: %v", ns.Name, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("setns %s: %v", ns.Name, err)
	}
	fd, serr := func() (int, error) {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return -1, err
		}
		proto := int(htons(unix.ETH_P_ALL))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return -1, err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return -1, err
		}
		return fd, nil
	}()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		// This thread is in the wrong namespace: keep it locked so that it dies with the
		// goroutine, and fail.
		t.Fatalf("setns back: %v", err)
	}
	runtime.UnlockOSThread()
	if serr != nil {
		t.Fatalf("AF_PACKET socket on %s in %s: %v", ifname, ns.Name, serr)
	}
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// servicesServer answers every frame on fd with the netsvc function its kind calls for, as
// the agent will, and counts the outcomes.
type servicesServer struct {
	fd   int
	ifc  netsvc.Interface
	mu   sync.Mutex
	seen netsvc.Counters
	errs []string
}

func (s *servicesServer) run(stop <-chan struct{}) {
	buf := make([]byte, 9000)
	for {
		select {
		case <-stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(s.fd, buf, 0)
		if err != nil {
			continue // the receive timeout: look at stop again
		}
		frame := append([]byte(nil), buf[:n]...)
		var reply []byte
		var outcome netsvc.Outcome
		switch {
		case n >= 14 && binary.BigEndian.Uint16(frame[12:]) == 0x0800:
			reply, outcome, err = netsvc.ServeDHCPv4(frame, s.ifc)
		case n >= 14 && binary.BigEndian.Uint16(frame[12:]) == 0x86dd:
			reply, outcome, err = netsvc.ServeICMPv6(frame, s.ifc)
		default:
			continue
		}
		s.mu.Lock()
		if !errors.Is(err, netsvc.ErrNotForUs) {
			s.seen.Add(outcome)
		}
		if err != nil && !errors.Is(err, netsvc.ErrNotForUs) {
			s.errs = append(s.errs, err.Error())
		}
		s.mu.Unlock()
		if reply != nil {
			unix.Write(s.fd, reply)
		}
	}
}

func (s *servicesServer) counters() (map[string]uint64, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen.Map(), append([]string(nil), s.errs...)
}

func TestNodeServicesWithRealClients(t *testing.T) {
	testbed.Require(t)
	server := testbed.NewNS(t, "svc")
	client := testbed.NewNS(t, "svccl")
	testbed.Link(t, server, "srv0", client, "eth0")
	vmMAC := "02:00:00:00:10:05"
	client.MustExec(t, "ip", "link", "set", "eth0", "address", vmMAC)
	mac, _ := net.ParseMAC(vmMAC)
	routerMAC, _ := net.ParseMAC("02:00:5e:00:00:01")
	ifc := netsvc.Interface{
		MAC:       mac,
		IPv4:      netip.MustParsePrefix("10.77.0.5/24"),
		Gateway4:  netip.MustParseAddr("10.77.0.1"),
		DNS4:      []netip.Addr{netip.MustParseAddr("10.77.0.2")},
		Domain:    "vn77.example",
		Lease:     3 * time.Hour,
		IPv6:      []netip.Prefix{netip.MustParsePrefix("2001:db8:77::5/64")},
		Gateway6:  []netip.Addr{netip.MustParseAddr("2001:db8:77::1")},
		DNS6:      []netip.Addr{netip.MustParseAddr("2001:db8:77::53")},
		MTU:       1450,
		RouterMAC: routerMAC,
	}
	srv := &servicesServer{fd: rawSocketIn(t, server, "srv0"), ifc: ifc}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { srv.run(stop); close(done) }()
	t.Cleanup(func() { close(stop); <-done })
	dir := t.TempDir()
	want := "ip=10.77.0.5 mask=24 router=10.77.0.1 dns=10.77.0.2 domain=vn77.example mtu=1450 lease=10800 server=10.77.0.1"

	t.Run("udhcpc gets the VMI's address and options", func(t *testing.T) {
		script := filepath.Join(dir, "udhcpc.sh")
		// udhcpc hands the lease to its script in the environment; this one only prints it.
		os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = bound ] && echo \"ip=$ip mask=$mask router=$router dns=$dns domain=$domain mtu=$mtu lease=$lease server=$serverid\"\nexit 0\n"), 0o755)
		out, err := client.ExecTimeout(30*time.Second, "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "2", "-s", script)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("udhcpc: %v\n%s\nwant a lease with %s", err, out, want)
		}
	})

	t.Run("ISC dhclient gets the VMI's address and options", func(t *testing.T) {
		script := filepath.Join(dir, "dhclient.sh")
		leases := filepath.Join(dir, "dhclient.out")
		// dhclient runs its script with reason=BOUND and the lease in new_* variables.
		os.WriteFile(script, []byte(fmt.Sprintf("#!/bin/sh\n[ \"$reason\" = BOUND ] && echo \"ip=$new_ip_address mask=$new_subnet_mask router=$new_routers dns=$new_domain_name_servers domain=$new_domain_name mtu=$new_interface_mtu lease=$new_dhcp_lease_time server=$new_dhcp_server_identifier\" >> %s\nexit 0\n", leases)), 0o755)
		// With -1 it tries once; bound, it goes to the background: stop it by its pid file.
		pidFile := filepath.Join(dir, "dhclient.pid")
		t.Cleanup(func() {
			if b, err := os.ReadFile(pidFile); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
					syscall.Kill(pid, syscall.SIGTERM)
				}
			}
		})
		out, err := client.ExecTimeout(60*time.Second, "dhclient", "-1", "-v", "-sf", script,
			"-lf", filepath.Join(dir, "dhclient.leases"), "-pf", pidFile, "eth0")
		got, _ := os.ReadFile(leases)
		wantISC := strings.Replace(want, "mask=24", "mask=255.255.255.0", 1)
		if !strings.Contains(string(got), wantISC) {
			t.Fatalf("dhclient (%v) bound %q, want %s\n%s", err, got, wantISC, out)
		}
	})

	t.Run("a Linux kernel configures IPv6 by SLAAC and resolves the gateway", func(t *testing.T) {
		// Restarting the link makes the kernel solicit a router now.
		client.MustExec(t, "ip", "link", "set", "eth0", "down")
		client.MustExec(t, "ip", "link", "set", "eth0", "up")
		slaac := netsvc.SLAACAddress(netip.MustParsePrefix("2001:db8:77::/64"), mac).String()
		routerLL := netsvc.RouterLinkLocal(routerMAC).String()
		var addrs, routes, mtu string
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			addrs, _ = client.Exec("ip", "-6", "addr", "show", "dev", "eth0")
			routes, _ = client.Exec("ip", "-6", "route", "show", "default")
			mtu, _ = client.Exec("cat", "/proc/sys/net/ipv6/conf/eth0/mtu")
			if strings.Contains(addrs, slaac+"/64") && strings.Contains(routes, "via "+routerLL) && strings.TrimSpace(mtu) == "1450" {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if !strings.Contains(addrs, slaac+"/64") || !strings.Contains(routes, "via "+routerLL) || strings.TrimSpace(mtu) != "1450" {
			t.Fatalf("after the router advertisement: addresses\n%s\ndefault route %q, IPv6 MTU %q; want %s/64, via %s, 1450",
				addrs, routes, mtu, slaac, routerLL)
		}
		// The gateway's address resolves to the router MAC (the echo itself goes unanswered).
		client.ExecTimeout(10*time.Second, "ping", "-6", "-c", "1", "-W", "2", "2001:db8:77::1")
		neigh, _ := client.Exec("ip", "-6", "neigh", "show", "2001:db8:77::1", "dev", "eth0")
		if !strings.Contains(neigh, "lladdr "+routerMAC.String()) || !strings.Contains(neigh, "router") {
			t.Errorf("neighbour entry of the gateway %q, want lladdr %s and router", neigh, routerMAC)
		}
	})

	counts, errs := srv.counters()
	t.Logf("server outcomes: %v", counts)
	if counts["offered"] < 2 || counts["acked"] < 2 || counts["router-advertised"] < 1 || counts["neighbor-advertised"] < 1 || counts["naked"] != 0 {
		t.Errorf("server outcomes %v: want offers and acks to both clients, an advertisement of each kind, no NAK", counts)
	}
	for _, e := range errs {
		// Frames the client sends that are not requests for the node (its own DAD, MLD
		// reports) are ignored with a reason; none of them may be a DHCP request ignored.
		if strings.Contains(e, "DHCP") {
			t.Errorf("the server ignored a DHCP frame: %s", e)
		}
	}
}

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/netsvc"
	"github.com/ovsgw/ovsgw/test/lab"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// The node's services in the one-gateway lab: VN blue's IPv4 subnet has DNS servers and a
// domain, DHCP on by default, and an IPv6 subnet for SLAAC; vm1 holds its SLAAC address.
const (
	servicesPrefix6 = "2001:db8:1::/64"
	blueSubnets     = `{name: blue, vni: 5001, subnets: ["10.1.0.0/24"]}`
	blueServices    = `{name: blue, vni: 5001, subnets: [{cidr: 10.1.0.0/24, dnsServers: [10.1.0.2], domainName: blue.example, dhcp: true}, "` + servicesPrefix6 + `"]}`
)

// servicesYAML is the gateway lab's config with blue's services.
func servicesYAML(t *testing.T) string {
	mac, _ := net.ParseMAC("02:00:00:00:02:01")
	slaac := netsvc.SLAACAddress(netip.MustParsePrefix(servicesPrefix6), mac)
	vm1 := `{address: 10.1.0.20}]}`
	y := strings.Replace(lab.GatewayYAML, blueSubnets, blueServices, 1)
	y = strings.Replace(y, `"02:00:00:00:02:01", instanceIPs: [`+vm1, `"02:00:00:00:02:01", instanceIPs: [{address: 10.1.0.20}, {address: "`+slaac.String()+`"}]}`, 1)
	if !strings.Contains(y, "dnsServers") || !strings.Contains(y, slaac.String()) {
		t.Fatalf("the lab's config changed: cannot add the services to\n%s", lab.GatewayYAML)
	}
	return y
}

// udhcpcLease runs udhcpc on a host's eth0 with a script that only prints the lease.
func udhcpcLease(h *testbed.Host, dir string) (string, error) {
	script := filepath.Join(dir, "udhcpc.sh")
	os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = bound ] && echo \"ip=$ip mask=$mask router=$router dns=$dns domain=$domain mtu=$mtu\"\nexit 0\n"), 0o755)
	return h.ExecTimeout(30*time.Second, "udhcpc", "-i", testbed.HostIf, "-f", "-q", "-n", "-t", "5", "-T", "2", "-s", script)
}

// dhcpFlood is a DHCPDISCOVER loop from one MAC, as fast as a raw socket sends, for secs.
const dhcpFlood = `
import socket, struct, sys, time, os
ifname, mac, secs = sys.argv[1], bytes.fromhex(sys.argv[2].replace(':', '')), float(sys.argv[3])
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
bootp = struct.pack('!BBBBIHH4s4s4s4s16s64s128s', 1, 1, 6, 0, 0x1234, 0, 0x8000, bytes(4), bytes(4), bytes(4), bytes(4), mac + bytes(10), bytes(64), bytes(128))
bootp += bytes([99, 130, 83, 99, 53, 1, 1, 255])
udp = struct.pack('!HHHH', 68, 67, 8 + len(bootp), 0) + bootp
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes(4), b'\xff' * 4)
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
frame = b'\xff' * 6 + mac + b'\x08\x00' + ip + udp
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
n, end = 0, time.time() + secs
while time.time() < end:
    for _ in range(50):
        s.send(frame)
    n += 50
    time.sleep(0.005)
print(n)
`

// cpuTicks is a process's user + system time, in clock ticks (/proc/<pid>/stat).
func cpuTicks(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

func servicesStatus(t *testing.T, a *testbed.Agent) *control.ServicesStatus {
	out, err := a.CLI("status", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var s control.Status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if s.Services == nil {
		t.Fatalf("status has no services: %s", out)
	}
	return s.Services
}

// testServices checks DHCPv4, SLAAC and the packet-in rate limits through the agent.
func testServices(t *testing.T, l *lab.Gateway) {
	dir := t.TempDir()
	want := func(ip string) string {
		return "ip=" + ip + " mask=24 router=10.1.0.1 dns=10.1.0.2 domain=blue.example mtu=1500"
	}
	t.Run("DHCPv4: a remote instance behind its VLAN and a local VM get address, router and DNS, and ping the router", func(t *testing.T) {
		for _, c := range []struct {
			h  *testbed.Host
			ip string
		}{{l.BMS1, "10.1.0.10"}, {l.VM, "10.1.0.20"}} {
			out, err := udhcpcLease(c.h, dir)
			if err != nil || !strings.Contains(out, want(c.ip)) {
				t.Errorf("udhcpc in %s: %v\n%s\nwant a lease with %s", c.h.Name, err, out, want(c.ip))
			}
			// The router the lease names answers (ARP and echo, by the switch).
			c.h.MustPing(t, "10.1.0.1")
		}
	})
	t.Run("SLAAC: a local VM's kernel takes its address and a default route via the router link-local", func(t *testing.T) {
		mac, _ := net.ParseMAC(l.VM.MAC)
		addr := netsvc.SLAACAddress(netip.MustParsePrefix(servicesPrefix6), mac).String()
		router, _ := net.ParseMAC(model.RouterMAC)
		ll := netsvc.RouterLinkLocal(router).String()
		// A link that comes up solicits a router.
		l.VM.MustExec(t, "ip", "link", "set", testbed.HostIf, "down")
		l.VM.MustExec(t, "ip", "link", "set", testbed.HostIf, "up")
		lab.Eventually(t, 20*time.Second, "vm1 has its SLAAC address and default route", func() error {
			a, _ := l.VM.Exec("ip", "-6", "addr", "show", "dev", testbed.HostIf)
			r, _ := l.VM.Exec("ip", "-6", "route", "show", "default")
			if !strings.Contains(a, addr+"/64") || !strings.Contains(r, "via "+ll) {
				return fmt.Errorf("addresses:\n%s\ndefault route: %q (want %s and via %s)", a, r, addr, ll)
			}
			return nil
		})
	})
	t.Run("a DHCP flood from one instance is rate-limited; another gets its lease and pings", func(t *testing.T) {
		before := servicesStatus(t, l.Agent)
		pid := l.Agent.Proc.Pid
		t0, c0 := time.Now(), cpuTicks(t, pid)
		const secs = 6
		type result struct {
			out string
			err error
		}
		flood := make(chan result, 1)
		go func() {
			out, err := l.BMS2.ExecInput(dhcpFlood, (secs+20)*time.Second, "/usr/bin/python3", "-", testbed.HostIf, l.BMS2.MAC, strconv.Itoa(secs))
			flood <- result{out, err}
		}()
		time.Sleep(time.Second)
		out, err := udhcpcLease(l.BMS1, dir)
		if err != nil || !strings.Contains(out, want("10.1.0.10")) {
			t.Errorf("during the flood, udhcpc in bms1: %v\n%s\nwant a lease with %s", err, out, want("10.1.0.10"))
		}
		l.BMS1.MustPing(t, l.VM.IP)
		r := <-flood
		if r.err != nil {
			t.Fatalf("flood: %v\n%s", r.err, r.out)
		}
		elapsed, ticks := time.Since(t0), cpuTicks(t, pid)-c0
		sent, _ := strconv.Atoi(strings.TrimSpace(r.out))
		after := servicesStatus(t, l.Agent)
		cpu := float64(ticks) / 100 / elapsed.Seconds() * 100
		t.Logf("FIGURE agent CPU during a DHCP flood of %d DISCOVERs in %ds from one instance: %.1f%% of one core (%d packet-ins received, %d dropped by the VMI meter, %d by the shared one)",
			sent, secs, cpu, after.PacketIns-before.PacketIns, after.VMIMeterDrops-before.VMIMeterDrops, after.SharedMeterDrops-before.SharedMeterDrops)
		if text, err := l.Agent.CLI("status", "--no-bindings"); err == nil {
			for _, line := range strings.Split(text, "\n") {
				if strings.HasPrefix(line, "services:") || strings.HasPrefix(line, "packet-ins:") || strings.HasPrefix(line, "meters:") {
					t.Log(line)
				}
			}
		}
		if after.VMIMeterDrops-before.VMIMeterDrops == 0 || after.FloodingVMIs == 0 {
			t.Errorf("the flooding instance's meter dropped nothing: before %+v after %+v", before, after)
		}
		// The VMI's meter lets 20/s through, with a burst of 40: a flood's packet-ins are bounded.
		if got, limit := after.PacketIns-before.PacketIns, uint64(40+20*(secs+30)); got > limit {
			t.Errorf("%d packet-ins during the flood, more than the meter allows (%d)", got, limit)
		}
		if after.Outcomes["offered"] == 0 || after.Outcomes["acked"] == 0 {
			t.Errorf("status counts no offers or acks: %v", after.Outcomes)
		}
	})
}

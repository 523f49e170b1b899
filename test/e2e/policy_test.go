package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/test/lab"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// policyYAML is the lab's config with security groups, a network policy, and a VMI "ghost"
// whose address no host answers for. The subject VMI gets groups; with denyPort the VN blue
// gets a policy denying that TCP port.
func policyYAML(subject string, groups []string, serverPorts string, denyPort int) string {
	c := lab.GatewayYAML + `  - {name: ghost, network: blue, mac: "02:00:00:00:05:05", instanceIPs: [{address: 10.1.0.55}]}
securityGroups:
  - name: server
    rules:
      - {direction: ingress, protocol: tcp, ports: "` + serverPorts + `"}
      - {direction: ingress, protocol: icmp, remoteCIDR: 10.1.0.0/24}
      - {direction: egress}
  - name: client
    rules:
      - {direction: egress, protocol: tcp}
`
	if len(groups) > 0 {
		c = strings.Replace(c, "{name: "+subject+", network: blue,", "{name: "+subject+", securityGroups: ["+strings.Join(groups, ", ")+"], network: blue,", 1)
	}
	if denyPort != 0 {
		c = strings.Replace(c, `{name: blue, vni: 5001, subnets: ["10.1.0.0/24"]}`, `{name: blue, vni: 5001, subnets: ["10.1.0.0/24"], networkPolicies: [deny-port]}`, 1)
		c += fmt.Sprintf("networkPolicies:\n  - name: deny-port\n    rules:\n      - {action: deny, protocol: tcp, destinationPorts: \"%d\"}\n", denyPort)
	}
	return c
}

// remoteGroupYAML gives subject a group "members" that admits TCP 7000 from the VMIs of group
// "friends"; bms2, the peer, is in "friends" when peerIsFriend.
func remoteGroupYAML(subject string, peerIsFriend bool) string {
	c := lab.GatewayYAML + `securityGroups:
  - name: members
    rules:
      - {direction: ingress, protocol: tcp, ports: "7000", remoteGroup: friends}
      - {direction: egress}
  - name: friends
    rules:
      - {direction: ingress}
      - {direction: egress}
`
	c = strings.Replace(c, "{name: "+subject+", network: blue,", "{name: "+subject+", securityGroups: [members], network: blue,", 1)
	if peerIsFriend {
		c = strings.Replace(c, "{name: bms2, network: blue,", "{name: bms2, securityGroups: [friends], network: blue,", 1)
	}
	return c
}

// TestPoliciesTreatRemoteAndLocalAlike runs one matrix of policy and port-security checks over a
// remote instance (behind the ToR, on a VLAN) and a local VM, with bms2 as their peer: the
// outcomes must be identical.
func TestPoliciesTreatRemoteAndLocalAlike(t *testing.T) {
	l := lab.NewGateway(t, ovsgwBin, lab.GatewayYAML, true)
	peer := l.BMS2 // VMI bms2
	// The peer accepts unsolicited ARP, so a forged announcement that got through would show.
	peer.MustExec(t, "sysctl", "-qw", "net.ipv4.conf.eth0.arp_accept=1")
	t.Run("metrics: promtool accepts them; traffic, spoofed frames and config changes move them", func(t *testing.T) { testMetrics(t, l) })
	for _, sub := range []struct {
		kind, vmi string
		host      *testbed.Host
		via       string // how the switch reaches it, as ovsgw trace says
	}{{"remote instance", "bms1", l.BMS1, "eth1 VLAN 100"}, {"local VM", "vm1", l.VM, "port vm1p"}} {
		s := sub.host
		drops := func(reason string) uint64 {
			st := l.Status(t)
			if st.Drops == nil {
				t.Fatal("status has no drop counters")
			}
			return st.Drops.ByVMI[sub.vmi][reason]
		}
		t.Run(sub.kind, func(t *testing.T) {
			l.SetConfig(t, policyYAML(sub.vmi, nil, "8080", 0))
			t.Run("ARP for a known address is answered by the switch", func(t *testing.T) {
				out, err := s.ExecTimeout(10*time.Second, "arping", "-c", "1", "-w", "3", "-I", "eth0", "10.1.0.55")
				if err != nil || !strings.Contains(strings.ToLower(out), "02:00:00:00:05:05") {
					t.Fatalf("no ARP reply for the ghost address (no host has it; only the switch can answer): %v\n%s", err, out)
				}
			})
			t.Run("forged source MAC is dropped", func(t *testing.T) {
				before := drops("spoofing")
				s.MustExec(t, "ip", "link", "set", "eth0", "address", "02:00:00:00:0f:0f")
				defer s.MustExec(t, "ip", "link", "set", "eth0", "address", s.MAC)
				s.MustNotPing(t, peer.IP)
				if after := drops("spoofing"); after <= before {
					t.Errorf("spoofing drops of %s did not grow: %d -> %d", sub.vmi, before, after)
				}
			})
			t.Run("forged source IP is dropped", func(t *testing.T) {
				s.MustPing(t, peer.IP) // own address works, and the peer's MAC is known now
				before := drops("spoofing")
				s.MustExec(t, "ip", "addr", "add", "10.1.0.77/32", "dev", "eth0")
				defer s.MustExec(t, "ip", "addr", "del", "10.1.0.77/32", "dev", "eth0")
				if _, err := s.Exec("ping", "-c", "3", "-i", "0.2", "-W", "1", "-I", "10.1.0.77", peer.IP); err == nil {
					t.Fatal("ping from a forged source address got an answer")
				}
				if after := drops("spoofing"); after <= before {
					t.Errorf("spoofing drops of %s did not grow: %d -> %d", sub.vmi, before, after)
				}
			})
			t.Run("forged ARP is dropped", func(t *testing.T) {
				before := drops("spoofing")
				s.MustExec(t, "ip", "addr", "add", "10.1.0.78/32", "dev", "eth0")
				defer s.MustExec(t, "ip", "addr", "del", "10.1.0.78/32", "dev", "eth0")
				s.ExecTimeout(10*time.Second, "arping", "-U", "-c", "2", "-I", "eth0", "-s", "10.1.0.78", "10.1.0.78")
				if out, _ := peer.Exec("ip", "neigh", "show", "10.1.0.78"); strings.TrimSpace(out) != "" {
					t.Errorf("the peer learnt the forged address: %s", out)
				}
				if after := drops("spoofing"); after < before+2 {
					t.Errorf("spoofing drops of %s grew by %d, want at least the 2 forged ARPs", sub.vmi, after-before)
				}
			})

			l.SetConfig(t, policyYAML(sub.vmi, []string{"server"}, "8080", 0))
			t.Run("allowed TCP port connects", func(t *testing.T) {
				if err := peer.TCP(t, s, 8080); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("denied TCP port does not", func(t *testing.T) {
				before := drops("security-group-deny")
				if err := peer.TCPBlocked(t, s, 8081); err != nil {
					t.Fatal(err)
				}
				if after := drops("security-group-deny"); after <= before {
					t.Errorf("security group drops of %s did not grow: %d -> %d", sub.vmi, before, after)
				}
			})
			t.Run("ovsgw trace names the security groups that drop it", func(t *testing.T) {
				r := traceOK(t, l.Agent, "--vmi", "bms2", "--dst-ip", s.IP, "--proto", "tcp", "--dst-port", "8081")
				want := fmt.Sprintf("dropped by the security groups of VMI %s: no ingress rule of server allows it", sub.vmi)
				if d := r.Verdict.Dropped; r.Verdict.Text != want || d == nil || d.TableName != "ingress-acl" || d.Direction != "ingress" ||
					!slices.Equal(d.SecurityGroups, []string{"server"}) {
					t.Errorf("verdict %+v, want %q\n%s", r.Verdict, want, r.OfprotoTrace)
				}
				r = traceOK(t, l.Agent, "--vmi", "bms2", "--dst-ip", s.IP, "--proto", "tcp", "--dst-port", "8080")
				if want := "delivered to VMI " + sub.vmi + " via " + sub.via; r.Verdict.Text != want {
					t.Errorf("verdict %q, want %q\n%s", r.Verdict.Text, want, r.OfprotoTrace)
				}
			})
			t.Run("allowed ICMP passes", func(t *testing.T) { peer.MustPing(t, s.IP) })
			t.Run("IPv6 neighbour discovery reaches a VMI with security groups", func(t *testing.T) {
				ll := linkLocal(t, s)
				peer.Exec("ip", "-6", "neigh", "flush", "dev", "eth0")
				lab.Eventually(t, 10*time.Second, "the peer resolves "+sub.vmi+"'s link-local address", func() error {
					peer.Exec("ping", "-6", "-c", "1", "-W", "1", ll+"%eth0") // the echo itself no rule allows
					out, _ := peer.Exec("ip", "-6", "neigh", "show", ll, "dev", "eth0")
					if !strings.Contains(strings.ToLower(out), "lladdr "+strings.ToLower(s.MAC)) {
						return fmt.Errorf("neighbour entry: %q", out)
					}
					return nil
				})
			})
			t.Run("changing a rule keeps the established connections it still allows", func(t *testing.T) {
				sess, err := peer.OpenSession(t, s, 8080)
				if err != nil {
					t.Fatal(err)
				}
				sess.Send("before")
				if err := sess.Received("before", 5*time.Second); err != nil {
					t.Fatal(err)
				}
				l.SetConfig(t, policyYAML(sub.vmi, []string{"server"}, "8080-8090", 0))
				sess.Send("after")
				if err := sess.Received("after", 5*time.Second); err != nil {
					t.Fatalf("established connection broken by the rule change: %v", err)
				}
				if err := peer.TCP(t, s, 8085); err != nil {
					t.Fatalf("the widened rule does not allow 8085: %v", err)
				}
				if err := peer.TCPBlocked(t, s, 8091); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("network policy deny wins over a security group allow", func(t *testing.T) {
				l.SetConfig(t, policyYAML(sub.vmi, []string{"server"}, "8080", 8080))
				st := l.Status(t)
				before := st.Drops.ByReason["policy-deny"]
				if err := peer.TCPBlocked(t, s, 8080); err != nil {
					t.Fatal(err)
				}
				if after := l.Status(t).Drops.ByReason["policy-deny"]; after <= before {
					t.Errorf("policy-deny drops did not grow: %d -> %d", before, after)
				}
				r := traceOK(t, l.Agent, "--vmi", "bms2", "--dst-ip", s.IP, "--proto", "tcp", "--dst-port", "8080")
				if d := r.Verdict.Dropped; d == nil || d.Policy != "deny-port" || d.Rule == nil || *d.Rule != 0 ||
					r.Verdict.Text != "dropped by rule 0 of network policy deny-port (VN blue)" {
					t.Errorf("trace verdict %+v\n%s", r.Verdict, r.OfprotoTrace)
				}
			})

			l.SetConfig(t, policyYAML(sub.vmi, []string{"client"}, "8080", 0))
			t.Run("reply to an allowed outbound connection gets back in", func(t *testing.T) {
				if err := s.TCP(t, peer, 9000); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("unsolicited inbound connection does not", func(t *testing.T) {
				if err := peer.TCPBlocked(t, s, 9000); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("ICMP no rule allows is dropped", func(t *testing.T) { peer.MustNotPing(t, s.IP) })
			t.Run("ovsgw trace names the egress rules that drop it", func(t *testing.T) {
				r := traceOK(t, l.Agent, "--vmi", sub.vmi, "--dst-ip", peer.IP)
				want := fmt.Sprintf("dropped by the security groups of VMI %s: no egress rule of client allows it", sub.vmi)
				if d := r.Verdict.Dropped; r.Verdict.Text != want || d == nil || d.TableName != "egress-acl" {
					t.Errorf("verdict %+v, want %q\n%s", r.Verdict, want, r.OfprotoTrace)
				}
			})

			// A remote-group rule (compiled as a conjunctive match) admits the group's members
			// and follows the group's membership.
			l.SetConfig(t, remoteGroupYAML(sub.vmi, true))
			t.Run("remote-group rule admits a member", func(t *testing.T) {
				if err := peer.TCP(t, s, 7000); err != nil {
					t.Fatal(err)
				}
				if err := peer.TCPBlocked(t, s, 7001); err != nil {
					t.Fatal(err)
				}
			})
			l.SetConfig(t, remoteGroupYAML(sub.vmi, false))
			t.Run("remote-group rule refuses a VMI that left the group", func(t *testing.T) {
				if err := peer.TCPBlocked(t, s, 7000); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

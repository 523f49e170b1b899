package trace

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/ovsgw/ovsgw/gateway/pipeline"
)

// explain annotates ofproto/trace's output for packet p and reaches a verdict.
func explain(text string, p *Packet, s *Snapshot) *Result {
	raw := parse(text)
	r := &Result{Node: s.Node, Bridge: s.Bridge, Packet: *p, Resumed: raw.resumes, DatapathActions: raw.datapath, OfprotoTrace: text}
	for _, rs := range raw.steps {
		r.Steps = append(r.Steps, annotate(rs, p, s))
	}
	r.Verdict = verdict(raw.steps, r.Steps, p, s)
	return r
}

// annotate names a step's table, owner and drop reason, and what its flow stands for.
func annotate(rs *rawStep, p *Packet, s *Snapshot) Step {
	st := Step{Pass: rs.pass, Depth: rs.depth, Bridge: rs.bridge, Table: rs.table, Priority: rs.priority,
		Match: rs.match, NoMatch: rs.noMatch, Actions: rs.actions}
	if rs.cookie != 0 {
		st.Cookie = fmt.Sprintf("%#x", rs.cookie)
	}
	if rs.bridge != s.Bridge {
		return st // another bridge's (a tunnel's underlay): not ovsgw's pipeline
	}
	st.TableName = pipeline.TableNames[rs.table]
	kind, purpose, id, ok := pipeline.ParseCookie(rs.cookie)
	if !ok {
		if rs.noMatch == "" {
			st.OwnerKind = "foreign"
		}
		return st
	}
	st.OwnerKind, st.OwnerName, st.Drop = kind.String(), s.Names[kind][id], pipeline.DropReasons[purpose]
	switch {
	case kind == pipeline.KindNetworkPolicy:
		if policy, rule, ok := pipeline.PolicyRuleAt(s.Index, p.VN, uint16(rs.priority)); ok {
			action := "pass"
			if purpose == pipeline.DropPolicy {
				action = "deny"
			}
			st.Why = fmt.Sprintf("rule %d of network policy %s (%s)", rule, policy, action)
		}
	case purpose == pipeline.DropSecurityGrp && s.Index.VMIs[st.OwnerName] != nil:
		st.Why = fmt.Sprintf("no %s rule of security groups %s of VMI %s allows it", direction(rs.table), groupsOf(s, st.OwnerName), st.OwnerName)
	case purpose == pipeline.DropSpoofing:
		st.Why = fmt.Sprintf("port security of VMI %s: the source MAC, IP or ARP claim is not the VMI's", st.OwnerName)
	case purpose == pipeline.DropUnknownVLAN:
		st.Why = fmt.Sprintf("no logical interface of physical interface %s claims %s", st.OwnerName, vlanText(p.VLAN))
	case kind == pipeline.KindSecurityGroup && purpose == pipeline.Forward:
		st.Why = fmt.Sprintf("allowed by a rule of security group %s", st.OwnerName)
	}
	return st
}

// verdict finds where the packet went: every copy that left the bridge, or else the step that
// dropped it.
func verdict(raw []*rawStep, steps []Step, p *Packet, s *Snapshot) Verdict {
	var out []Delivery
	for i, rs := range raw {
		if rs.bridge == s.Bridge {
			out = append(out, deliveries(rs, steps[i], p, s)...)
		}
	}
	if len(out) > 0 {
		texts := make([]string, len(out))
		for i, d := range out {
			texts[i] = d.Text
		}
		text := "delivered to " + texts[0]
		if len(out) > 1 {
			text = fmt.Sprintf("delivered to %d destinations: %s", len(out), strings.Join(texts, "; "))
		}
		return Verdict{Delivered: out, Text: text}
	}
	for i, rs := range raw {
		if d := dropOf(rs, steps[i], p, s); d != nil {
			return Verdict{Dropped: d, Text: d.Text}
		}
	}
	d := &Drop{Reason: "no-output", Text: "dropped: no flow sent it anywhere"}
	if len(raw) > 0 {
		last := steps[len(steps)-1]
		d.Table, d.TableName = last.Table, last.TableName
	}
	return Verdict{Dropped: d, Text: d.Text}
}

var (
	outputAction = regexp.MustCompile(`^(?:output:(\S+)|(IN_PORT)|(LOCAL))$`)
	tunDstAction = regexp.MustCompile(`^set_field:([0-9.]+)->tun_dst$`)
	tunIDAction  = regexp.MustCompile(`^set_field:(0x[0-9a-f]+|\d+)->tun_id$`)
)

// deliveries are the copies a step sends out of the bridge. Within a step (or a group
// bucket), the tunnel fields set before an output say where a tunnel port's copy goes.
func deliveries(rs *rawStep, st Step, p *Packet, s *Snapshot) []Delivery {
	var out []Delivery
	var tunDst string
	var vni uint32
	for _, a := range rs.actions {
		if strings.HasPrefix(a, "bucket ") {
			tunDst, vni = "", 0
			continue
		}
		if m := tunDstAction.FindStringSubmatch(a); m != nil {
			tunDst = m[1]
			continue
		}
		if m := tunIDAction.FindStringSubmatch(a); m != nil {
			n, _ := strconv.ParseUint(strings.TrimPrefix(m[1], "0x"), base(m[1]), 32)
			vni = uint32(n)
			continue
		}
		m := outputAction.FindStringSubmatch(a)
		if m == nil {
			continue
		}
		port := m[1]
		if m[2] != "" {
			port = p.InPort // IN_PORT: back where it came in
		}
		out = append(out, delivery(st, port, tunDst, vni, s))
	}
	return out
}

// delivery describes one output: to the VMI the output table's flow serves, by the way it is
// bound (port, physical interface and VLAN, tunnel to its node), or else by port or tunnel.
func delivery(st Step, port, tunDst string, vni uint32, s *Snapshot) Delivery {
	d := Delivery{Via: "port", Port: port, TunnelIP: tunDst, VNI: vni}
	if tunDst != "" {
		d.Via, d.Port, d.Node = "tunnel", "", s.Nodes[tunDst]
	}
	tunnel := fmt.Sprintf("the tunnel to %s (VNI %d)", tunDst, vni)
	if st.Table == pipeline.TableOutput && st.OwnerKind == pipeline.KindVMI.String() {
		d.VMI = st.OwnerName
		for _, b := range s.Bindings {
			if b.VMI != d.VMI {
				continue
			}
			switch b.Kind {
			case pipeline.BindingLocal:
				d.Port, d.Text = b.Port, fmt.Sprintf("VMI %s via port %s", d.VMI, b.Port)
			case pipeline.BindingRemote:
				d.Via, d.Port, d.VLAN = "vlan", b.PhysicalInterface, int(b.VLAN)
				d.Text = fmt.Sprintf("VMI %s via %s VLAN %d", d.VMI, b.PhysicalInterface, b.VLAN)
				if b.VLAN == 0 {
					d.Text = fmt.Sprintf("VMI %s via %s, untagged", d.VMI, b.PhysicalInterface)
				}
			case pipeline.BindingPeer:
				d.Node = b.Node
				d.Text = fmt.Sprintf("VMI %s on node %s via %s", d.VMI, b.Node, tunnel)
			default:
				continue
			}
			return d
		}
	}
	if st.OwnerKind == pipeline.KindTor.String() {
		d.Tor = st.OwnerName
		d.Text = fmt.Sprintf("a server behind ToR switch %s via %s", st.OwnerName, tunnel)
		return d
	}
	switch {
	case tunDst != "" && d.Node != "":
		d.Text = fmt.Sprintf("node %s via %s", d.Node, tunnel)
	case tunDst != "":
		d.Text = tunnel
	default:
		d.Text = "port " + port
	}
	if st.Table == pipeline.TableL2Lookup && st.OwnerKind == pipeline.KindVN.String() {
		d.Text += fmt.Sprintf(", flooded in VN %s", st.OwnerName)
	}
	return d
}

// dropOf is the drop a step stands for, if it drops: one of ovsgw's drop flows, a table where
// nothing matched, or a foreign flow that does nothing but drop.
func dropOf(rs *rawStep, st Step, p *Packet, s *Snapshot) *Drop {
	if rs.bridge != s.Bridge {
		return nil
	}
	d := &Drop{Table: st.Table, TableName: st.TableName, OwnerKind: st.OwnerKind, OwnerName: st.OwnerName, Reason: st.Drop}
	where := fmt.Sprintf("table %d", st.Table)
	if st.TableName != "" {
		where += " (" + st.TableName + ")"
	}
	switch {
	case st.NoMatch != "":
		d.Reason, d.Text = "no-match", fmt.Sprintf("dropped: no flow of %s matched", where)
	case st.Drop == "" && st.OwnerKind == "foreign" && len(rs.actions) == 1 && rs.actions[0] == "drop":
		d.Reason, d.Text = "foreign-flow", fmt.Sprintf("dropped by a flow of someone else's in %s (cookie %s, priority %d)", where, st.Cookie, st.Priority)
	case st.Drop == "":
		return nil
	case st.OwnerKind == pipeline.KindNetworkPolicy.String():
		d.Text = fmt.Sprintf("dropped by network policy %s", st.OwnerName)
		if policy, rule, ok := pipeline.PolicyRuleAt(s.Index, p.VN, uint16(st.Priority)); ok {
			d.Policy, d.Rule = policy, &rule
			d.Text = fmt.Sprintf("dropped by rule %d of network policy %s (VN %s)", rule, policy, p.VN)
		}
	case st.Drop == pipeline.DropReasons[pipeline.DropSecurityGrp] && s.Index.VMIs[st.OwnerName] != nil:
		d.SecurityGroups, d.Direction = s.Index.VMIs[st.OwnerName].SecurityGroups, direction(st.Table)
		d.Text = fmt.Sprintf("dropped by the security groups of VMI %s: no %s rule of %s allows it", st.OwnerName, d.Direction, groupsOf(s, st.OwnerName))
	case st.Drop == pipeline.DropReasons[pipeline.DropSpoofing]:
		d.Text = fmt.Sprintf("dropped by port security of VMI %s: the source MAC, IP or ARP claim is not the VMI's", st.OwnerName)
	case st.Drop == pipeline.DropReasons[pipeline.DropUnknownVLAN]:
		d.Text = fmt.Sprintf("dropped: unknown VLAN: no logical interface of physical interface %s claims %s", st.OwnerName, vlanText(p.VLAN))
	case st.Drop == pipeline.DropReasons[pipeline.DropHairpin]:
		d.Text = fmt.Sprintf("dropped: it would go back to VMI %s, where it came from", st.OwnerName)
	case st.OwnerName == "": // an owner the config in force no longer has
		d.Text = fmt.Sprintf("dropped in %s by a flow of %s (cookie %s, no longer in the config): %s", where, st.OwnerKind, st.Cookie, st.Drop)
	default:
		d.Text = fmt.Sprintf("dropped in %s by %s %s (%s)", where, st.OwnerKind, st.OwnerName, st.Drop)
	}
	return d
}

// direction is the security group direction a table checks.
func direction(table uint8) string {
	if table == pipeline.TableEgressACL {
		return "egress"
	}
	return "ingress"
}

// groupsOf lists a VMI's security groups for a sentence.
func groupsOf(s *Snapshot, vmi string) string {
	if v := s.Index.VMIs[vmi]; v != nil && len(v.SecurityGroups) > 0 {
		return strings.Join(v.SecurityGroups, ", ")
	}
	return "(none)"
}

func vlanText(vlan *int) string {
	if vlan == nil {
		return "untagged frames"
	}
	return fmt.Sprintf("VLAN %d", *vlan)
}

func base(n string) int {
	if strings.HasPrefix(n, "0x") {
		return 16
	}
	return 10
}

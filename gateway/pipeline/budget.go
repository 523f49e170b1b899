package pipeline

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/ovsgw/ovsgw/gateway/model"
)

// FlowEstimate is an upper bound of the flows a config compiles to on one node, computed from
// the config alone (no compile): the rule expansions exactly (port ranges as masks, per bound
// VMI, per address of a remote group), everything else by a bound per object. What a ToR switch
// learned is not counted (the config does not say).
type FlowEstimate struct {
	Flows   int
	Largest []FlowCost // the rules that cost the most, most first (at most three)
}

// FlowCost is what one rule costs on the node.
type FlowCost struct {
	Object string // as validation names it: securityGroups[web].rules[0]
	Flows  int
}

// Per-object bounds of the flows that do not depend on rules (see compile.go, security.go).
const (
	estPipeline     = 40 // table misses, conntrack shared, IPv6 control, routing shared
	estVN           = 12 // conntrack, tunnel ingress, flood flows
	estPerSubnet    = 2  // a served VN's gateway answers per subnet: ARP and echo
	estRouterVN     = 1  // a served VN on a router: its router MAC into the routing table
	estReachedVMI   = 2  // a VMI of a VN only routed to: its outputs into the tunnel
	estVMIHere      = 18 // classify, port security's fixed flows, hairpin, outputs, default denies, member clauses, DHCPv4 and router solicitation punts
	estPerSource    = 3  // port security per address (+ its ARP), its ARP-own; an IPv6 address: its gateway's neighbour solicitation punt
	estPerMAC       = 2  // port security L2 and the L2 lookup, per MAC
	estVMIElsewhere = 4  // a VMI of a served VN bound on another node: its L2 lookup and outputs
)

// EstimateFlows bounds the flows of node host with the VMIs named in bound bound there (its
// remote instances, the local VMs it has): those VMIs' own flows and security groups, and, for
// every VN they are in, the VN's flows, policies and every VMI of it; for a VN on a logical
// router, its route-classify flows and a route per instance IP of every VMI of the router's VNs
// (and the tunnel outputs of those in VNs the node only routes to).
func EstimateFlows(x *model.Index, bound []string) FlowEstimate {
	groups := map[string]*model.SecurityGroup{}
	for i := range x.Config.SecurityGroups {
		groups[x.Config.SecurityGroups[i].Name] = &x.Config.SecurityGroups[i]
	}
	policies := map[string]*model.NetworkPolicy{}
	for i := range x.Config.NetworkPolicies {
		policies[x.Config.NetworkPolicies[i].Name] = &x.Config.NetworkPolicies[i]
	}
	// Costs are kept by rule, named only at the end: formatting a name per bound VMI and rule
	// made this check a good part of every config change's cost at 4K instances.
	costs := map[ruleRef]int{}
	masks := map[ruleRef]int{} // a rule's port masks, parsed once
	maskCount := func(k ruleRef, ports string) int {
		n, ok := masks[k]
		if !ok {
			n = portMaskCount(ports)
			masks[k] = n
		}
		return n
	}
	total := estPipeline
	served := map[string]bool{}
	here := map[string]bool{}
	for _, name := range bound {
		v := x.VMIs[name]
		if v == nil || here[name] {
			continue
		}
		here[name] = true
		served[v.Network] = true
		sources := len(vmiSources(v)) + 2 // + link-local and unspecified
		macs := 1 + len(v.AllowedAddressPairs)
		total += estVMIHere + estPerSource*sources + estPerMAC*macs
		for _, g := range v.SecurityGroups {
			sg := groups[g]
			if sg == nil {
				continue
			}
			for i, r := range sg.Rules {
				if r.RemoteGroup != "" {
					continue // conjunctions, counted once per rule below
				}
				k := ruleRef{list: "securityGroups", name: g, i: i}
				costs[k] += maskCount(k, r.Ports)
			}
		}
	}
	reached := map[string]bool{} // VNs of the routers of served VNs
	for _, vn := range x.Config.VirtualNetworks {
		if !served[vn.Name] {
			continue
		}
		total += estVN + estPerSubnet*len(vn.Subnets)
		if r := x.RouterOf[vn.Name]; r != nil {
			total += estRouterVN
			for _, n := range r.Networks {
				reached[n] = true
				if d := x.VNs[n]; d != nil && n != vn.Name {
					total += len(d.Subnets) // route-classify
				}
			}
		}
		for _, pname := range vn.NetworkPolicies {
			pol := policies[pname]
			if pol == nil {
				continue
			}
			for i, r := range pol.Rules {
				costs[ruleRef{list: "networkPolicies", name: pname, i: i}] += len(policyMatches(x, vn, r))
			}
		}
	}
	for _, v := range x.Config.VirtualMachineInterfaces {
		switch {
		case served[v.Network] && !here[v.Name]:
			total += estVMIElsewhere + len(v.AllowedAddressPairs) + len(v.InstanceIPs)
		case reached[v.Network] && !here[v.Name]:
			total += estReachedVMI
		}
		if reached[v.Network] {
			total += len(v.InstanceIPs) // routes
		}
	}
	// Remote-group rules of the bound VMIs' groups: the rule's flow, and a clause per host
	// address of the remote group's members and port mask (members' clauses are in estVMIHere).
	members := map[string][]*model.VirtualMachineInterface{}
	for i := range x.Config.VirtualMachineInterfaces {
		v := &x.Config.VirtualMachineInterfaces[i]
		for _, g := range v.SecurityGroups {
			members[g] = append(members[g], v)
		}
	}
	for _, g := range usedGroups(x, here, groups) {
		for i, r := range groups[g].Rules {
			if r.RemoteGroup == "" {
				continue
			}
			k := ruleRef{list: "securityGroups", name: g, i: i}
			n := 1
			for _, m := range members[r.RemoteGroup] {
				n += len(vmiAddrs(m, r.Ethertype == model.EthertypeIPv6)) * maskCount(k, r.Ports)
			}
			costs[k] += n
		}
	}
	var list []FlowCost
	for k, n := range costs {
		total += n
		list = append(list, FlowCost{fmt.Sprintf("%s[%s].rules[%d]", k.list, k.name, k.i), n})
	}
	slices.SortFunc(list, func(a, b FlowCost) int { return cmp.Or(cmp.Compare(b.Flows, a.Flows), cmp.Compare(a.Object, b.Object)) })
	return FlowEstimate{Flows: total, Largest: list[:min(3, len(list))]}
}

// ruleRef is one rule of a security group or network policy.
type ruleRef struct {
	list, name string // securityGroups or networkPolicies, and the object's name
	i          int
}

// portMaskCount is how many value/mask pairs a rule's port range compiles to (1 without ports).
func portMaskCount(ports string) int {
	r, err := model.ParsePorts(ports)
	if err != nil {
		return 1
	}
	return max(1, len(portMasks(r)))
}

// usedGroups are the security groups of the VMIs in here, sorted.
func usedGroups(x *model.Index, here map[string]bool, groups map[string]*model.SecurityGroup) []string {
	seen := map[string]bool{}
	for name := range here {
		for _, g := range x.VMIs[name].SecurityGroups {
			if groups[g] != nil {
				seen[g] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for g := range seen {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// CheckFlowBudget refuses a config whose estimated flows on node host (with the VMIs in bound
// bound there) exceed max, naming the rules that cost the most.
func CheckFlowBudget(x *model.Index, host string, bound []string, max int) error {
	est := EstimateFlows(x, bound)
	if est.Flows <= max {
		return nil
	}
	reason := fmt.Sprintf("the config compiles to up to %d flows on this node (%d VMIs bound here), more than max_flows = %d allows", est.Flows, len(bound), max)
	for i, c := range est.Largest {
		if i == 0 {
			reason += "; the most:"
		} else {
			reason += ","
		}
		reason += fmt.Sprintf(" %s %d", c.Object, c.Flows)
	}
	return model.Errors{{Object: fmt.Sprintf("node %s", host), Reason: reason}}
}

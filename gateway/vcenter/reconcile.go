package vcenter

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ovsgw/ovsgw/gateway/model"
)

// Inventory is what the sync saw of vCenter: the port groups of its DVS and
// every VM with a NIC on one of them.
type Inventory struct {
	// PortGroups are the DVS's port groups, key → name.
	PortGroups map[string]string
	VMs        []VM
}

// VM is one virtual machine. UUID is its instance UUID (config.instanceUuid),
// unique in a vCenter and kept across a vMotion and a vCenter restart.
type VM struct {
	UUID, Name string
	Host       string // the ESXi host it runs on (informative: a vMotion changes nothing)
	NICs       []NIC
}

// NIC is one virtual ethernet card of a VM on a DVS port.
type NIC struct {
	Key          int32  // the device key, unique in its VM
	MAC          string // as vCenter gives it
	PortgroupKey string
	PortKey      string       // the DVS port it is connected to; "" before vCenter assigned one
	IPs          []netip.Addr // what guest tools report for this NIC
}

// NICID names a VM NIC across restarts: the VM's instance UUID and the device key.
func NICID(vm string, key int32) string { return vm + "/" + strconv.Itoa(int(key)) }

// Uplink is a gateway node's physical interface the DVS's uplinks reach.
// The sync's uplinks are one HA group: each generated NIC gets a logical
// interface with the same VLAN on every one of them.
type Uplink struct{ Router, Interface string }

func (u Uplink) String() string { return u.Router + "/" + u.Interface }

// State is what the config DB holds that a plan depends on.
type State struct {
	// Networks are the VNs by name, with their subnets.
	Networks map[string][]model.Subnet
	// Interfaces are the physical interfaces that exist.
	Interfaces map[Uplink]bool
	LIs        []LI
	VMIs       []VMI
	// Limits are the interface budgets the nodes published (interfaces_limit), by node.
	Limits map[string]int
}

// LI is a logical interface row. Owner and NIC are its external_ids (owner,
// vcenter-nic); Owner is empty for a hand-written one.
type LI struct {
	UUID, Router, Interface, Name string
	VLAN                          int
	VMI                           string
	Owner, NIC                    string
}

// VMI is a VMI row with the external_ids of a generated one (see LI).
type VMI struct {
	UUID, Name, Network, MAC string
	IPs                      []string // sorted
	Owner, NIC, VM           string
}

// Params are the sync's settings a plan depends on.
type Params struct {
	// Owner marks the rows this sync generates ("vcenter:NAME"); Prefix starts their names.
	Owner, Prefix string
	Uplinks       []Uplink
	// VLANMin..VLANMax is the range the sync hands VLANs out of.
	VLANMin, VLANMax int
	// Network maps a port group's name to a VN; ok false: its NICs are not the sync's.
	Network func(portGroup string) (vn string, ok bool)
	// MaxInterfaces is a node's budget when it has published none.
	MaxInterfaces int
}

// Plan is the rows the sync wants, and what it saw.
type Plan struct {
	// VMIs and LIs are every row the sync wants, UUID set where one of its own rows stays.
	VMIs []VMI
	LIs  []LI
	// PortVLANs is the VLAN each DVS port of a mapped NIC must carry, by port key.
	PortVLANs map[string]int
	// Reports say what was left out or moved, and why, one line each, sorted.
	Reports []string
	// Counts for the status.
	VMsSeen, NICsMapped, VLANsUsed, VLANsFree int
}

// candidate is a NIC the sync maps, while planning.
type candidate struct {
	vm     *VM
	nic    *NIC
	id     string // NICID
	name   string // of its VMI and logical interfaces
	vn     string
	vlan   int
	mine   *VMI // its current VMI, if any
	ipList []netip.Addr
}

// Reconcile plans the rows of the sync from the inventory and the config
// DB. It is pure: the same inputs give the same plan. A NIC keeps the VLAN
// and the allocated address its rows have while they stay valid; a new NIC
// gets the lowest free VLAN of the range on every uplink, and an address from
// guest tools when one lies in its VN's subnets, else the lowest free one of
// the VN's first IPv4 subnet. A VM whose NICs would take a node over its
// interface budget is left out whole, VMs already mapped first. Hand-written
// rows are never changed: one in the way (a VMI or logical interface of the
// generated name, a VMI of the NIC's MAC in its VN) leaves the NIC out, and
// a VLAN taken by hand moves the sync's NIC to a free one; each is reported.
func Reconcile(p Params, inv Inventory, st State) Plan {
	plan := Plan{PortVLANs: map[string]int{}}
	report := func(format string, args ...any) { plan.Reports = append(plan.Reports, fmt.Sprintf(format, args...)) }

	mineVMI := map[string]*VMI{} // by NIC
	othersVMIByName := map[string]*VMI{}
	macs := map[string]map[string]string{}  // VN → MAC → VMI name, of rows not the sync's
	ips := map[string]map[netip.Addr]bool{} // VN → addresses of rows not the sync's
	for i := range st.VMIs {
		v := &st.VMIs[i]
		if v.Owner == p.Owner {
			mineVMI[v.NIC] = v
			continue
		}
		othersVMIByName[v.Name] = v
		if macs[v.Network] == nil {
			macs[v.Network], ips[v.Network] = map[string]string{}, map[netip.Addr]bool{}
		}
		macs[v.Network][normMAC(v.MAC)] = v.Name
		for _, s := range v.IPs {
			if a, err := netip.ParseAddr(s); err == nil {
				ips[v.Network][a] = true
			}
		}
	}
	onUplink := map[Uplink]bool{}
	for _, u := range p.Uplinks {
		onUplink[u] = true
		if !st.Interfaces[u] {
			report("uplink %s: no such physical interface in the config DB; nothing is mapped until it exists", u)
		}
	}
	mineVLAN := map[string]int{}      // NIC → VLAN of its logical interfaces
	taken := map[int]string{}         // VLAN → a row of another writer holding it on an uplink
	othersLIName := map[string]bool{} // router/name
	used := map[string]int{}          // router → interfaces of rows not the sync's
	for _, li := range st.LIs {
		if li.Owner == p.Owner {
			if onUplink[Uplink{li.Router, li.Interface}] {
				mineVLAN[li.NIC] = li.VLAN
			}
			continue
		}
		othersLIName[li.Router+"/"+li.Name] = true
		used[li.Router] += model.InterfacesPerRemoteVMI
		if onUplink[Uplink{li.Router, li.Interface}] {
			taken[li.VLAN] = li.Router + "/" + li.Name
		}
	}
	for _, u := range p.Uplinks {
		if !st.Interfaces[u] {
			return finish(p, plan)
		}
	}

	// Candidates: VMs already mapped first (they keep their place in the budget), then by UUID.
	vms := make([]*VM, len(inv.VMs))
	for i := range inv.VMs {
		vms[i] = &inv.VMs[i]
	}
	mapped := func(vm *VM) bool {
		for _, n := range vm.NICs {
			if mineVMI[NICID(vm.UUID, n.Key)] != nil {
				return true
			}
		}
		return false
	}
	slices.SortStableFunc(vms, func(a, b *VM) int {
		ma, mb := mapped(a), mapped(b)
		if ma != mb {
			if ma {
				return -1
			}
			return 1
		}
		return strings.Compare(a.UUID, b.UUID)
	})
	plan.VMsSeen = len(vms)
	routers := routersOf(p.Uplinks)
	var cands []*candidate
	seenMAC := map[string]map[string]string{} // VN → MAC → NIC, among the candidates
	for _, vm := range vms {
		var mine []*candidate
		for i := range vm.NICs {
			n := &vm.NICs[i]
			pg, onDVS := inv.PortGroups[n.PortgroupKey]
			if !onDVS {
				continue
			}
			c := &candidate{vm: vm, nic: n, id: NICID(vm.UUID, n.Key), name: p.Prefix + vm.UUID + "-" + strconv.Itoa(int(n.Key))}
			vn, ok := p.Network(pg)
			switch {
			case !ok:
				continue // a port group the sync does not map
			case st.Networks[vn] == nil:
				report("VM %s NIC %d: port group %s maps to VN %s, which is not in the config DB; left out", vm.Name, n.Key, pg, vn)
				continue
			case othersVMIByName[c.name] != nil:
				report("VM %s NIC %d: a VMI named %s exists, not written by this sync; left out", vm.Name, n.Key, c.name)
				continue
			case anyTaken(othersLIName, routers, c.name):
				report("VM %s NIC %d: a logical interface named %s exists, not written by this sync; left out", vm.Name, n.Key, c.name)
				continue
			}
			mac := normMAC(n.MAC)
			if other, dup := macs[vn][mac]; dup {
				report("VM %s NIC %d: MAC %s is VMI %s's in VN %s (not written by this sync); left out", vm.Name, n.Key, n.MAC, other, vn)
				continue
			}
			if other, dup := seenMAC[vn][mac]; dup {
				report("VM %s NIC %d: MAC %s is also NIC %s's in VN %s; left out", vm.Name, n.Key, n.MAC, other, vn)
				continue
			}
			c.vn, c.mine = vn, mineVMI[c.id]
			mine = append(mine, c)
		}
		if len(mine) == 0 {
			continue
		}
		cost := model.InterfacesPerRemoteVMI * len(mine)
		over := ""
		for _, r := range routers {
			limit := cmp.Or(st.Limits[r], p.MaxInterfaces)
			if used[r]+cost > limit {
				over = fmt.Sprintf("node %s would use %d of its %d interfaces", r, used[r]+cost, limit)
				break
			}
		}
		if over != "" {
			report("VM %s: its %d NICs exceed the interface budget (%s); left out", vm.Name, len(mine), over)
			continue
		}
		for _, r := range routers {
			used[r] += cost
		}
		for _, c := range mine {
			if seenMAC[c.vn] == nil {
				seenMAC[c.vn] = map[string]string{}
			}
			seenMAC[c.vn][normMAC(c.nic.MAC)] = c.id
		}
		cands = append(cands, mine...)
	}
	place(p, &plan, cands, mineVLAN, taken, ips, st.Networks, report)
	return finish(p, plan)
}

// place gives the candidates their VLANs and addresses and builds their rows.
func place(p Params, plan *Plan, cands []*candidate, mineVLAN map[string]int, taken map[int]string,
	ips map[string]map[netip.Addr]bool, nets map[string][]model.Subnet, report func(string, ...any)) {
	inUse := map[int]bool{}
	for v := range taken {
		inUse[v] = true
	}
	// Keep first, allocate after: a new NIC never takes a VLAN a mapped one holds.
	for _, c := range cands {
		v, ok := mineVLAN[c.id]
		switch {
		case !ok:
		case v < p.VLANMin || v > p.VLANMax:
			report("VM %s NIC %d: VLAN %d is outside the range %d-%d; moved", c.vm.Name, c.nic.Key, v, p.VLANMin, p.VLANMax)
		case taken[v] != "":
			report("VM %s NIC %d: VLAN %d is taken by logical interface %s (not written by this sync); moved", c.vm.Name, c.nic.Key, v, taken[v])
		case inUse[v]:
		default:
			c.vlan, inUse[v] = v, true
		}
	}
	next := p.VLANMin
	for _, c := range cands {
		if c.vlan != 0 {
			continue
		}
		for next <= p.VLANMax && inUse[next] {
			next++
		}
		if next > p.VLANMax {
			report("VM %s NIC %d: no VLAN left in %d-%d; left out", c.vm.Name, c.nic.Key, p.VLANMin, p.VLANMax)
			continue
		}
		c.vlan, inUse[next] = next, true
	}
	// Addresses: guest tools' in the VN's subnets, else the ones kept, else allocated.
	alloc := map[string]*allocator{}
	var need []*candidate
	for _, c := range cands {
		if c.vlan == 0 {
			continue
		}
		if ips[c.vn] == nil {
			ips[c.vn] = map[netip.Addr]bool{}
		}
		got := guestAddrs(c.nic.IPs, nets[c.vn], ips[c.vn])
		if len(got) == 0 && c.mine != nil {
			got = keptAddrs(c.mine.IPs, nets[c.vn], ips[c.vn])
		}
		for _, a := range got {
			ips[c.vn][a] = true
		}
		if len(got) == 0 {
			need = append(need, c)
		}
		c.mineAddrs(got)
	}
	for _, c := range need {
		a := alloc[c.vn]
		if a == nil {
			a = newAllocator(nets[c.vn], ips[c.vn])
			alloc[c.vn] = a
		}
		if addr, ok := a.next(); ok {
			c.mineAddrs([]netip.Addr{addr})
		} else if a.prefix.IsValid() {
			report("VM %s NIC %d: no free address in %s of VN %s; its VMI has none", c.vm.Name, c.nic.Key, a.prefix, c.vn)
		}
	}
	for _, c := range cands {
		if c.vlan == 0 {
			continue
		}
		vmi := VMI{Name: c.name, Network: c.vn, MAC: c.nic.MAC, IPs: c.addrs(), Owner: p.Owner, NIC: c.id, VM: c.vm.Name}
		if c.mine != nil {
			vmi.UUID = c.mine.UUID
		}
		plan.VMIs = append(plan.VMIs, vmi)
		for _, u := range p.Uplinks {
			plan.LIs = append(plan.LIs, LI{Router: u.Router, Interface: u.Interface, Name: c.name, VLAN: c.vlan,
				VMI: c.name, Owner: p.Owner, NIC: c.id})
		}
		plan.NICsMapped++
		if c.nic.PortKey != "" {
			plan.PortVLANs[c.nic.PortKey] = c.vlan
		}
	}
	for v := range inUse {
		if v >= p.VLANMin && v <= p.VLANMax {
			plan.VLANsUsed++
		}
	}
}

// finish completes the plan: counts and sorts.
func finish(p Params, plan Plan) Plan {
	plan.VLANsFree = max(0, p.VLANMax-p.VLANMin+1-plan.VLANsUsed)
	slices.Sort(plan.Reports)
	slices.SortFunc(plan.VMIs, func(a, b VMI) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(plan.LIs, func(a, b LI) int {
		return cmp.Or(strings.Compare(a.Router, b.Router), strings.Compare(a.Name, b.Name))
	})
	return plan
}

func (c *candidate) mineAddrs(a []netip.Addr) { c.ipList = append(c.ipList, a...) }

func (c *candidate) addrs() []string {
	out := make([]string, len(c.ipList))
	for i, a := range c.ipList {
		out[i] = a.String()
	}
	slices.Sort(out)
	return out
}

func routersOf(us []Uplink) []string {
	var out []string
	for _, u := range us {
		if !slices.Contains(out, u.Router) {
			out = append(out, u.Router)
		}
	}
	return out
}

func anyTaken(names map[string]bool, routers []string, name string) bool {
	for _, r := range routers {
		if names[r+"/"+name] {
			return true
		}
	}
	return false
}

// normMAC is a MAC in one spelling for comparisons (vCenter writes lower case, a YAML file may not).
func normMAC(m string) string { return strings.ToLower(m) }

// guestAddrs are the guest's addresses that lie in one of the VN's subnets and no other row
// holds, sorted.
func guestAddrs(guest []netip.Addr, subnets []model.Subnet, taken map[netip.Addr]bool) []netip.Addr {
	var out []netip.Addr
	for _, a := range guest {
		if a.IsLinkLocalUnicast() || taken[a] || !inSubnets(a, subnets) {
			continue
		}
		out = append(out, a.Unmap())
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return slices.Compact(out)
}

// keptAddrs are the VMI's current addresses while all still fit the VN and no other row holds one.
func keptAddrs(list []string, subnets []model.Subnet, taken map[netip.Addr]bool) []netip.Addr {
	var out []netip.Addr
	for _, s := range list {
		a, err := netip.ParseAddr(s)
		if err != nil || taken[a] || !inSubnets(a, subnets) {
			return nil
		}
		out = append(out, a)
	}
	return out
}

func inSubnets(a netip.Addr, subnets []model.Subnet) bool {
	for _, s := range subnets {
		if p, ok := s.Prefix(); ok && p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// allocator hands out the free host addresses of a VN's first IPv4 subnet in order: not the
// network or broadcast address, nor the subnet's gateway, nor any address already taken.
type allocator struct {
	prefix netip.Prefix
	gw     netip.Addr
	cur    netip.Addr
	taken  map[netip.Addr]bool
}

func newAllocator(subnets []model.Subnet, taken map[netip.Addr]bool) *allocator {
	a := &allocator{taken: taken}
	for _, s := range subnets {
		if p, ok := s.Prefix(); ok && p.Addr().Is4() && p.Bits() <= 30 {
			a.prefix, a.cur = p, p.Addr()
			a.gw, _ = s.GatewayAddr()
			break
		}
	}
	return a
}

func (a *allocator) next() (netip.Addr, bool) {
	if !a.prefix.IsValid() {
		return netip.Addr{}, false
	}
	for {
		a.cur = a.cur.Next()
		if !a.prefix.Contains(a.cur) || !a.prefix.Contains(a.cur.Next()) { // the last is broadcast
			return netip.Addr{}, false
		}
		if a.cur != a.gw && !a.taken[a.cur] {
			a.taken[a.cur] = true
			return a.cur, true
		}
	}
}

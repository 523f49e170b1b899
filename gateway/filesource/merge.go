package filesource

import (
	"slices"

	"github.com/ovsgw/ovsgw/gateway/model"
)

// merge joins the parts of a directory-form config, in the order given (file-name order).
// Physical routers of one name in several parts become one, and so do their physical
// interfaces of one name, whose logical interfaces are concatenated; every other list is
// concatenated. Names repeated within one part are left as they are, for Validate to report.
// The parts are not modified, and the result shares no array with them.
//
// It runs on every change of a directory of thousands of files, so it makes two passes: the
// first sizes every list and finds where each part's interfaces go, the second copies into
// lists allocated once at their final size. Routers and interfaces are looked up in a map
// only when they differ from the previous part's (one file per instance repeats the same
// router and interface in file after file), and the bookkeeping holds indexes, not
// pointers, to spare the garbage collector.
func merge(parts []*model.Config) *model.Config {
	out, _ := mergeLayout(parts)
	return out
}

// mergeLayout is merge, which also returns where each part's objects went.
func mergeLayout(parts []*model.Config) (*model.Config, *layout) {
	var m merger
	var nVN, nVMI, nSG, nNP, nTor int
	for p, c := range parts {
		nVN += len(c.VirtualNetworks)
		nVMI += len(c.VirtualMachineInterfaces)
		nSG += len(c.SecurityGroups)
		nNP += len(c.NetworkPolicies)
		nTor += len(c.TorSwitches)
		for i := range c.PhysicalRouters {
			m.addRouter(int32(p), &c.PhysicalRouters[i])
		}
	}
	out := &model.Config{
		VirtualNetworks:          makeList[model.VirtualNetwork](nVN),
		VirtualMachineInterfaces: makeList[model.VirtualMachineInterface](nVMI),
		SecurityGroups:           makeList[model.SecurityGroup](nSG),
		NetworkPolicies:          makeList[model.NetworkPolicy](nNP),
		TorSwitches:              makeList[model.TorSwitch](nTor),
		PhysicalRouters:          makeList[model.PhysicalRouter](len(m.routers)),
	}
	lis := make([][]model.LogicalInterface, len(m.ifaces)) // each interface's, full length
	fill := make([]int, len(m.ifaces))                     // how much of it the second pass filled
	for i := range m.ifaces {
		lis[i] = m.ifaces[i].empty[:0:0] // nil or empty, as its first part had it
		if n := m.ifaces[i].n; n > 0 {
			lis[i] = make([]model.LogicalInterface, n)
		}
	}
	lay := &layout{occ: m.occ, partOcc: make([]int32, 0, len(parts)+1),
		liOff: make([]int32, len(m.occ)), ifaceAt: make([]ifaceAt, len(m.ifaces))}
	for l := range lay.start {
		lay.start[l] = make([]int32, 0, len(parts)+1)
	}
	starts := func() {
		lay.start[listVN] = append(lay.start[listVN], int32(len(out.VirtualNetworks)))
		lay.start[listVMI] = append(lay.start[listVMI], int32(len(out.VirtualMachineInterfaces)))
		lay.start[listSG] = append(lay.start[listSG], int32(len(out.SecurityGroups)))
		lay.start[listNP] = append(lay.start[listNP], int32(len(out.NetworkPolicies)))
		lay.start[listTor] = append(lay.start[listTor], int32(len(out.TorSwitches)))
	}
	next := 0 // into m.occ
	for _, c := range parts {
		starts()
		lay.partOcc = append(lay.partOcc, int32(next))
		out.VirtualNetworks = append(out.VirtualNetworks, c.VirtualNetworks...)
		out.VirtualMachineInterfaces = append(out.VirtualMachineInterfaces, c.VirtualMachineInterfaces...)
		out.SecurityGroups = append(out.SecurityGroups, c.SecurityGroups...)
		out.NetworkPolicies = append(out.NetworkPolicies, c.NetworkPolicies...)
		out.TorSwitches = append(out.TorSwitches, c.TorSwitches...)
		for _, r := range c.PhysicalRouters {
			for _, pi := range r.PhysicalInterfaces {
				i := m.occ[next]
				lay.liOff[next] = int32(fill[i])
				fill[i] += copy(lis[i][fill[i]:], pi.LogicalInterfaces)
				next++
			}
		}
	}
	starts()
	lay.partOcc = append(lay.partOcc, int32(next))
	for r, acc := range m.routers {
		for j, i := range acc.ifaces {
			lay.ifaceAt[i] = ifaceAt{router: int32(r), pos: int32(j)}
		}
	}
	for _, r := range m.routers {
		pr := model.PhysicalRouter{Name: r.name, PhysicalInterfaces: r.empty[:0:0]} // nil or empty, as its part had it
		if r.ifaces != nil {
			pr.PhysicalInterfaces = make([]model.PhysicalInterface, len(r.ifaces))
		}
		for j, i := range r.ifaces {
			pr.PhysicalInterfaces[j] = model.PhysicalInterface{Name: m.ifaces[i].name, LogicalInterfaces: lis[i]}
		}
		out.PhysicalRouters = append(out.PhysicalRouters, pr)
	}
	return out, lay
}

// makeList allocates a list of its final size, or nil when it stays empty.
func makeList[T any](n int) []T {
	if n == 0 {
		return nil
	}
	return make([]T, 0, n)
}

// merger collects routers and interfaces in their order of first appearance.
type merger struct {
	routers []routerAcc
	ifaces  []ifaceAcc       // of every router
	byName  map[string]int32 // the first router of each name
	last    int32            // the previous part's router, + 1 (0: none) when first of its name
	occ     []int32          // the interface each part's interfaces go to, in part order
}

type routerAcc struct {
	name     string
	lastPart int32 // the last part that had it: a second time in one part is a duplicate
	ifaces   []int32
	empty    []model.PhysicalInterface // its part's list when that had none (nil or empty)
	byName   map[string]int32          // the first interface of each name
	last     int32                     // the previous part's interface, + 1, when first of its name
}

type ifaceAcc struct {
	name     string
	lastPart int32                    // the last part that had it: a second time in one part is a duplicate
	n        int                      // logical interfaces from all parts
	empty    []model.LogicalInterface // its first part's list when that had none (nil or empty)
}

func (m *merger) addRouter(p int32, r *model.PhysicalRouter) {
	i := int32(-1) // the first router of that name
	if m.last > 0 && m.routers[m.last-1].name == r.Name {
		i = m.last - 1
	} else if j, ok := m.byName[r.Name]; ok {
		i = j
	}
	first := i >= 0
	if i < 0 || m.routers[i].lastPart == p { // new, or repeated within one part: Validate reports it
		first = i < 0
		i = int32(len(m.routers))
		m.routers = append(m.routers, routerAcc{name: r.Name})
		if len(r.PhysicalInterfaces) == 0 {
			m.routers[i].empty = r.PhysicalInterfaces
		}
		if first {
			if m.byName == nil {
				m.byName = map[string]int32{}
			}
			m.byName[r.Name] = i
		}
	}
	acc := &m.routers[i]
	acc.lastPart = p
	for k := range r.PhysicalInterfaces {
		m.occ = append(m.occ, m.addInterface(acc, p, &r.PhysicalInterfaces[k]))
	}
	m.last = 0
	if first {
		m.last = i + 1
	}
}

// addInterface adds a part's interface to its router: merged into the interface of that
// name from an earlier part, otherwise as a new one. It returns its index in m.ifaces.
func (m *merger) addInterface(r *routerAcc, p int32, pi *model.PhysicalInterface) int32 {
	i := int32(-1) // the router's first interface of that name
	if r.last > 0 && m.ifaces[r.last-1].name == pi.Name {
		i = r.last - 1
	} else if j, ok := r.byName[pi.Name]; ok {
		i = j
	}
	first := i >= 0
	if i < 0 || m.ifaces[i].lastPart == p { // new, or repeated within one part: Validate reports it
		first = i < 0
		i = int32(len(m.ifaces))
		m.ifaces = append(m.ifaces, ifaceAcc{name: pi.Name})
		if len(pi.LogicalInterfaces) == 0 {
			m.ifaces[i].empty = pi.LogicalInterfaces
		}
		r.ifaces = append(r.ifaces, i)
		if first {
			if r.byName == nil {
				r.byName = map[string]int32{}
			}
			r.byName[pi.Name] = i
		}
	}
	m.ifaces[i].lastPart = p
	m.ifaces[i].n += len(pi.LogicalInterfaces)
	r.last = 0
	if first {
		r.last = i + 1
	}
	return i
}

// The plain lists of a config, as indexes of layout.start.
const (
	listVN = iota
	listVMI
	listSG
	listNP
	listTor
	plainLists
)

// layout says where each part's objects sit in a merged config, so that a change to parts
// that keeps their shape (sameShape) can be patched into a copy of the merged config
// instead of merging every part again.
type layout struct {
	start   [plainLists][]int32 // [list][part]: the part's first object in that list; [len(parts)]: the length
	occ     []int32             // each part's interfaces, in part order: their index in ifaceAt
	partOcc []int32             // [part]: its first entry in occ (and liOff); [len(parts)]: len(occ)
	liOff   []int32             // for each entry of occ: where its logical interfaces start in the interface's list
	ifaceAt []ifaceAt           // each merged interface's place
}

// ifaceAt is a merged interface's place: PhysicalRouters[router].PhysicalInterfaces[pos].
type ifaceAt struct{ router, pos int32 }

// patch returns prev, the merged config that lay describes, with the parts in next (by
// index) replaced; each must have the shape of the part it replaces. Only the lists holding objects
// of those parts are copied; the others are shared with prev, which stays as it was.
func (lay *layout) patch(prev *model.Config, next map[int]*model.Config) *model.Config {
	out := *prev
	var cloned [plainLists]bool
	var routersCloned bool
	ifacesCloned := map[int32]bool{} // by router
	lisCloned := map[int32]bool{}    // by merged interface
	for k, c := range next {
		patchList(&out.VirtualNetworks, &cloned[listVN], lay.start[listVN][k], c.VirtualNetworks)
		patchList(&out.VirtualMachineInterfaces, &cloned[listVMI], lay.start[listVMI][k], c.VirtualMachineInterfaces)
		patchList(&out.SecurityGroups, &cloned[listSG], lay.start[listSG][k], c.SecurityGroups)
		patchList(&out.NetworkPolicies, &cloned[listNP], lay.start[listNP][k], c.NetworkPolicies)
		patchList(&out.TorSwitches, &cloned[listTor], lay.start[listTor][k], c.TorSwitches)
		o := lay.partOcc[k]
		for _, r := range c.PhysicalRouters {
			for _, pi := range r.PhysicalInterfaces {
				if len(pi.LogicalInterfaces) > 0 {
					i := lay.occ[o]
					at := lay.ifaceAt[i]
					if !routersCloned {
						out.PhysicalRouters, routersCloned = slices.Clone(out.PhysicalRouters), true
					}
					pr := &out.PhysicalRouters[at.router]
					if !ifacesCloned[at.router] {
						pr.PhysicalInterfaces, ifacesCloned[at.router] = slices.Clone(pr.PhysicalInterfaces), true
					}
					dst := &pr.PhysicalInterfaces[at.pos]
					if !lisCloned[i] {
						dst.LogicalInterfaces, lisCloned[i] = slices.Clone(dst.LogicalInterfaces), true
					}
					copy(dst.LogicalInterfaces[lay.liOff[o]:], pi.LogicalInterfaces)
				}
				o++
			}
		}
	}
	return &out
}

// patchList copies a part's objects over its slot in a merged list, copying the list first
// (once per patch) so that the previous merged config stays as it was.
func patchList[T any](list *[]T, cloned *bool, start int32, objs []T) {
	if len(objs) == 0 {
		return
	}
	if !*cloned {
		*list, *cloned = slices.Clone(*list), true
	}
	copy((*list)[start:], objs)
}

// sameShape reports whether b can replace a in a layout: the same number of objects in every
// list (and nil where a has nil), the same routers and interfaces by name and in order.
func sameShape(a, b *model.Config) bool {
	if !sameLen(a.VirtualNetworks, b.VirtualNetworks) || !sameLen(a.VirtualMachineInterfaces, b.VirtualMachineInterfaces) ||
		!sameLen(a.SecurityGroups, b.SecurityGroups) || !sameLen(a.NetworkPolicies, b.NetworkPolicies) ||
		!sameLen(a.TorSwitches, b.TorSwitches) || !sameLen(a.PhysicalRouters, b.PhysicalRouters) {
		return false
	}
	for i, ra := range a.PhysicalRouters {
		rb := b.PhysicalRouters[i]
		if ra.Name != rb.Name || !sameLen(ra.PhysicalInterfaces, rb.PhysicalInterfaces) {
			return false
		}
		for j, pa := range ra.PhysicalInterfaces {
			pb := rb.PhysicalInterfaces[j]
			if pa.Name != pb.Name || !sameLen(pa.LogicalInterfaces, pb.LogicalInterfaces) {
				return false
			}
		}
	}
	return true
}

func sameLen[T any](a, b []T) bool { return len(a) == len(b) && (a == nil) == (b == nil) }

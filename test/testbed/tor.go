package testbed

import (
	"strconv"
	"strings"
)

// ToRBridge is the name of a ToR's bridge.
const ToRBridge = "tor"

// ToR is a top-of-rack switch: a Node whose bridge "tor" is a plain
// learning switch (fail_mode standalone, no controller, so its only flow
// is NORMAL). It does the VLAN tagging the kernel cannot here: hosts sit on
// access ports, and trunk ports carry 802.1Q frames to other nodes.
type ToR struct {
	*Node
}

// NewToR starts a Node and creates its "tor" bridge.
func NewToR(t T, name string) *ToR {
	t.Helper()
	s := &ToR{Node: NewNode(t, name)}
	s.AddBridge(t, ToRBridge, "fail_mode=standalone")
	return s
}

// AccessPort adds ifname (in the ToR's namespace) as an access port of
// vlan: frames from it are tagged, frames to it untagged.
func (s *ToR) AccessPort(t T, ifname string, vlan int) {
	t.Helper()
	s.AddPort(t, ToRBridge, ifname, "tag="+strconv.Itoa(vlan))
}

// TrunkPort adds ifname as a trunk carrying vlans tagged, or every VLAN
// when none are given.
func (s *ToR) TrunkPort(t T, ifname string, vlans ...int) {
	t.Helper()
	var settings []string
	if len(vlans) > 0 {
		ids := make([]string, len(vlans))
		for i, v := range vlans {
			ids[i] = strconv.Itoa(v)
		}
		settings = append(settings, "trunks="+strings.Join(ids, ","))
	}
	s.AddPort(t, ToRBridge, ifname, settings...)
}

// AddHost creates a host linked to the ToR on an access port of vlan. The
// ToR-side interface is named after the host, which must therefore fit in
// 15 characters.
func (s *ToR) AddHost(t T, name string, vlan int, mac, cidr string) *Host {
	t.Helper()
	h := NewHost(t, name, s.Node, name, mac, cidr)
	s.AccessPort(t, name, vlan)
	return h
}

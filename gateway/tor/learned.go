package tor

import (
	"net"

	"github.com/ovsgw/ovsgw/gateway/model"
)

// usableLearnedMAC returns the canonical form of a MAC a switch reported as learned, and whether
// it may be used at all. A switch reports what its servers send, so a server could otherwise
// take over a VMI's MAC or the broadcast address, or break the programming of every switch with
// a malformed address (net.ParseMAC also accepts 8- and 20-byte forms): only 6-byte unicast,
// non-zero addresses that no VMI owns are used.
func usableLearnedMAC(mac string, vmiMACs map[string]bool) (string, bool) {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 || hw[0]&1 == 1 {
		return "", false
	}
	if string(hw) == string(make(net.HardwareAddr, 6)) {
		return "", false
	}
	s := hw.String()
	return s, !vmiMACs[s]
}

// vmiMACs is the set of the config's VMI MACs, in canonical form.
func vmiMACs(c *model.Config) map[string]bool {
	out := make(map[string]bool, len(c.VirtualMachineInterfaces))
	for _, v := range c.VirtualMachineInterfaces {
		if hw, err := net.ParseMAC(v.MAC); err == nil {
			out[hw.String()] = true
		}
	}
	return out
}

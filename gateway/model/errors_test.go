package model

import "testing"

// Log lines name objects with ObjectPath and its helpers; they must read exactly as
// validation's errors name the same objects.
func TestObjectPathNamesAsValidationDoes(t *testing.T) {
	pr := loc{list: ListPhysicalRouters, name: "gw1"}
	pi := loc{parent: &pr, list: ListPhysicalInterfaces, name: "eth1"}
	for _, tc := range []struct{ got, want string }{
		{VMIPath("bms1"), (&loc{list: ListVirtualMachineInterfaces, i: 3, name: "bms1"}).String()},
		{TorSwitchPath("tor1"), (&loc{list: ListTorSwitches, name: "tor1"}).String()},
		{PhysicalInterfacePath("gw1", "eth1"), pi.String()},
		{ObjectPath(ListVirtualNetworks, "blue"), "virtualNetworks[blue]"},
		{ObjectPath(ListVirtualNetworks, "a\x00b"), `virtualNetworks["a\x00b"]`},
	} {
		if tc.got != tc.want {
			t.Errorf("%q, want %q", tc.got, tc.want)
		}
	}
	// The errors themselves, through validation.
	c := &Config{VirtualMachineInterfaces: []VirtualMachineInterface{{Name: "bms1", Network: "nowhere", MAC: "02:00:00:00:01:0a"}}}
	_, err := c.ValidateIndex()
	errs, _ := err.(Errors)
	if len(errs) == 0 || errs[0].Object != VMIPath("bms1") {
		t.Errorf("validation named the VMI %v, log lines name it %s", errs, VMIPath("bms1"))
	}
}

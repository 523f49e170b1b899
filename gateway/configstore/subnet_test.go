package configstore

import (
	"testing"

	"github.com/ovsgw/ovsgw/gateway/model"
)

// A subnet's options travel in the subnets column as key=value words after its CIDR; a plain
// subnet is its CIDR alone (schema 1.2.0's form), and a word that does not decode leaves the
// whole string as the CIDR, for validation to refuse naming the VN.
func TestSubnetColumnRoundTrip(t *testing.T) {
	off := false
	for _, s := range []model.Subnet{
		{CIDR: "10.1.0.0/24"},
		{CIDR: "10.2.0.0/24", Gateway: "10.2.0.254", DNSServers: []string{"10.2.0.53", "10.2.0.54"}, DomainName: "blue.example", DHCP: &off},
		{CIDR: "2001:db8::/64", Gateway: model.NoGateway},
	} {
		row := subnetRow(s)
		if back := subnetObject(row); !back.Equal(s) {
			t.Errorf("%+v → %q → %+v", s, row, back)
		}
	}
	if got := subnetRow(model.Subnet{CIDR: "10.1.0.0/24"}); got != "10.1.0.0/24" {
		t.Errorf("a plain subnet is written %q", got)
	}
	for _, bad := range []string{"10.1.0.0/24 gw=10.1.0.1", "10.1.0.0/24 dhcp=maybe", "10.1.0.0/24 domain=", "10.1.0.0/24 gateway=a gateway=b"} {
		if s := subnetObject(bad); s.CIDR != bad || s.Gateway != "" {
			t.Errorf("%q decoded as %+v, want it whole as the CIDR", bad, s)
		}
		c := &model.Config{VirtualNetworks: []model.VirtualNetwork{{Name: "blue", VNI: 1, Subnets: []model.Subnet{subnetObject(bad)}}}}
		if err := c.Validate(); err == nil {
			t.Errorf("%q: validation accepted it", bad)
		}
	}
}

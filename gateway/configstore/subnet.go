package configstore

import (
	"fmt"
	"strings"

	"github.com/ovsgw/ovsgw/gateway/model"
)

// A subnet in the config DB is one string of Virtual_Network's subnets set: its CIDR, then its
// options as space-separated key=value pairs, as an allowed address pair is "PREFIX MAC":
//
//	10.2.0.0/24 gateway=10.2.0.254 dns=10.2.0.53,10.2.0.54 domain=blue.example dhcp=false
//
// A plain subnet is its CIDR alone, as in schema 1.2.0. A binary older than the options reads a
// subnet with options as a malformed CIDR and refuses the config: it never serves a subnet
// without the options given.

// subnetRow encodes a subnet for the subnets column.
func subnetRow(s model.Subnet) string {
	var b strings.Builder
	b.WriteString(s.CIDR)
	if s.Gateway != "" {
		b.WriteString(" gateway=" + s.Gateway)
	}
	if len(s.DNSServers) > 0 {
		b.WriteString(" dns=" + strings.Join(s.DNSServers, ","))
	}
	if s.DomainName != "" {
		b.WriteString(" domain=" + s.DomainName)
	}
	if s.DHCP != nil {
		fmt.Fprintf(&b, " dhcp=%t", *s.DHCP)
	}
	return b.String()
}

// subnetObject decodes a subnets column string. What it cannot decode stays in the CIDR, whole,
// so that validation refuses it naming the VN and the subnet.
func subnetObject(row string) model.Subnet {
	fields := strings.Fields(row)
	if len(fields) == 0 {
		return model.Subnet{CIDR: row}
	}
	s := model.Subnet{CIDR: fields[0]}
	for _, f := range fields[1:] {
		key, val, ok := strings.Cut(f, "=")
		switch {
		case !ok || val == "":
			return model.Subnet{CIDR: row}
		case key == "gateway" && s.Gateway == "":
			s.Gateway = val
		case key == "dns" && s.DNSServers == nil:
			s.DNSServers = strings.Split(val, ",")
		case key == "domain" && s.DomainName == "":
			s.DomainName = val
		case key == "dhcp" && s.DHCP == nil && (val == "true" || val == "false"):
			on := val == "true"
			s.DHCP = &on
		default:
			return model.Subnet{CIDR: row}
		}
	}
	return s
}

// subnetRows encodes a VN's subnets, as a set.
func subnetRows(list []model.Subnet) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = subnetRow(s)
	}
	return set(out)
}

// subnetObjects decodes a VN's subnets column, in its canonical (sorted) order.
func subnetObjects(rows []string) []model.Subnet {
	if len(rows) == 0 {
		return nil
	}
	sorted := set(rows)
	out := make([]model.Subnet, len(sorted))
	for i, r := range sorted {
		out[i] = subnetObject(r)
	}
	return out
}

// SubnetsOfColumn decodes a Virtual_Network row's subnets column, as the agents read it (for
// writers that place addresses in a VN, such as the vCenter sync).
func SubnetsOfColumn(rows []string) []model.Subnet { return subnetObjects(rows) }

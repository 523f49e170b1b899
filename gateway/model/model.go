package model

import "slices"

// Config is one whole gateway configuration, as written in YAML.
type Config struct {
	VirtualNetworks          []VirtualNetwork          `yaml:"virtualNetworks" json:"virtualNetworks"`
	PhysicalRouters          []PhysicalRouter          `yaml:"physicalRouters" json:"physicalRouters"`
	VirtualMachineInterfaces []VirtualMachineInterface `yaml:"virtualMachineInterfaces" json:"virtualMachineInterfaces"`
	SecurityGroups           []SecurityGroup           `yaml:"securityGroups,omitempty" json:"securityGroups,omitempty"`
	NetworkPolicies          []NetworkPolicy           `yaml:"networkPolicies,omitempty" json:"networkPolicies,omitempty"`
	TorSwitches              []TorSwitch               `yaml:"torSwitches,omitempty" json:"torSwitches,omitempty"`
	LogicalRouters           []LogicalRouter           `yaml:"logicalRouters,omitempty" json:"logicalRouters,omitempty"`
}

// TorSwitch is a VXLAN top-of-rack switch that speaks OVSDB with the hardware_vtep schema; its
// bare-metal servers join VNs through VLAN bindings of its ports.
type TorSwitch struct {
	Name     string `yaml:"name" json:"name"`         // its Physical_Switch name
	Endpoint string `yaml:"endpoint" json:"endpoint"` // tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH
	// SSL names the files of an ssl: endpoint.
	SSL *TorSSL `yaml:"ssl,omitempty" json:"ssl,omitempty"`
	// ReplicationNode floods the switch's broadcast, unknown and multicast traffic into the VNs.
	ReplicationNode string `yaml:"replicationNode" json:"replicationNode"`
	// ManagedBy are the nodes whose agents may keep the switch's database, in order of
	// preference: one name (`managedBy: gw1`) or a list (`managedBy: [gw1, gw2]`). One node at a
	// time does, the holder of the switch's lease in the config DB (gateway/torlease).
	ManagedBy NodeList     `yaml:"managedBy,omitempty" json:"managedBy,omitempty"`
	Bindings  []TorBinding `yaml:"bindings,omitempty" json:"bindings,omitempty"`
}

// Managers are the nodes that may manage the switch, most preferred first: ManagedBy, then the
// replication node unless listed (with no ManagedBy, the replication node alone).
func (s *TorSwitch) Managers() []string {
	out := make([]string, 0, len(s.ManagedBy)+1)
	for _, n := range s.ManagedBy {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if s.ReplicationNode != "" && !slices.Contains(out, s.ReplicationNode) {
		out = append(out, s.ReplicationNode)
	}
	return out
}

// TorSSL are the files of an ssl: OVSDB endpoint, and the switch's certificate's common name
// when it is pinned.
type TorSSL struct {
	PrivateKey  string `yaml:"privateKey" json:"privateKey"`
	Certificate string `yaml:"certificate" json:"certificate"`
	CACert      string `yaml:"caCert" json:"caCert"`
	// PeerCommonName, when given, pins the switch: its certificate's common name must be it.
	PeerCommonName string `yaml:"peerCommonName,omitempty" json:"peerCommonName,omitempty"`
}

// TorBinding puts a switch port's VLAN into a VN.
type TorBinding struct {
	Port    string `yaml:"port" json:"port"`
	VLAN    *int   `yaml:"vlan" json:"vlan"`
	Network string `yaml:"network" json:"network"`
}

// VirtualNetwork is a layer-2 domain identified across nodes by its VNI.
type VirtualNetwork struct {
	Name    string   `yaml:"name" json:"name"`
	VNI     uint32   `yaml:"vni" json:"vni"`
	Subnets []Subnet `yaml:"subnets,omitempty" json:"subnets,omitempty"`
	// NetworkPolicies apply, in this order, to traffic of this VN, before security groups.
	NetworkPolicies []string `yaml:"networkPolicies,omitempty" json:"networkPolicies,omitempty"`
	// FloodBPDU makes this the HA group's BPDU network: it carries only the switches' STP
	// BPDUs between the gateways' VLAN 0 logical interfaces.
	FloodBPDU bool `yaml:"floodBPDU,omitempty" json:"floodBPDU,omitempty"`
}

// PhysicalRouter is a gateway node; its name is the node's host name.
type PhysicalRouter struct {
	Name               string              `yaml:"name" json:"name"`
	PhysicalInterfaces []PhysicalInterface `yaml:"physicalInterfaces" json:"physicalInterfaces"`
}

// PhysicalInterface is a NIC of a gateway node, added to the bridge as an OVS port of that name.
type PhysicalInterface struct {
	Name              string             `yaml:"name" json:"name"`
	LogicalInterfaces []LogicalInterface `yaml:"logicalInterfaces" json:"logicalInterfaces"`
}

// LogicalInterface maps one VLAN of a physical interface to one VMI: the remote instance that
// sends frames with that tag. VLAN 0 means untagged frames.
type LogicalInterface struct {
	Name string `yaml:"name" json:"name"`
	VLAN *int   `yaml:"vlan" json:"vlan"`
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
	VMI  string `yaml:"vmi" json:"vmi"`
}

// VLANID returns the logical interface's VLAN (0 when unset; Validate rejects unset).
func (li LogicalInterface) VLANID() uint16 {
	if li.VLAN == nil {
		return 0
	}
	return uint16(*li.VLAN)
}

// VirtualMachineInterface is an endpoint of a virtual network: a remote instance when a logical
// interface links to it, otherwise a local VM bound to the OVS port whose external_ids:iface-id
// equals its name.
type VirtualMachineInterface struct {
	Name        string       `yaml:"name" json:"name"`
	Network     string       `yaml:"network" json:"network"`
	MAC         string       `yaml:"mac" json:"mac"`
	InstanceIPs []InstanceIP `yaml:"instanceIPs,omitempty" json:"instanceIPs,omitempty"`
	// SecurityGroups, when any, deny what none of their rules allow.
	SecurityGroups []string `yaml:"securityGroups,omitempty" json:"securityGroups,omitempty"`
	// PortSecurity (default true) drops frames whose source MAC, IP or ARP claim is not the VMI's.
	PortSecurity *bool `yaml:"portSecurity,omitempty" json:"portSecurity,omitempty"`
	// AllowedAddressPairs are more addresses (and MACs) the VMI may send from.
	AllowedAddressPairs []AddressPair `yaml:"allowedAddressPairs,omitempty" json:"allowedAddressPairs,omitempty"`
}

// PortSecurityEnabled reports whether port security is on (the default).
func (v *VirtualMachineInterface) PortSecurityEnabled() bool {
	return v.PortSecurity == nil || *v.PortSecurity
}

// AddressPair is an extra source a VMI may use: an address or prefix, with an optional MAC
// (default: the VMI's own).
type AddressPair struct {
	IP  string `yaml:"ip" json:"ip"`
	MAC string `yaml:"mac,omitempty" json:"mac,omitempty"`
}

// SecurityGroup is a stateful allow-list attached to VMIs (OpenStack/Contrail semantics).
type SecurityGroup struct {
	Name  string              `yaml:"name" json:"name"`
	Rules []SecurityGroupRule `yaml:"rules,omitempty" json:"rules,omitempty"`
}

// SecurityGroupRule allows traffic: ingress (to the VMI) or egress (from it), of one ethertype
// and protocol, to or from ports, with a remote that is a CIDR or the members of a group.
// Replies of allowed connections are allowed by connection tracking.
type SecurityGroupRule struct {
	Direction   string `yaml:"direction" json:"direction"`
	Ethertype   string `yaml:"ethertype,omitempty" json:"ethertype,omitempty"`
	Protocol    string `yaml:"protocol,omitempty" json:"protocol,omitempty"`
	Ports       string `yaml:"ports,omitempty" json:"ports,omitempty"`
	RemoteCIDR  string `yaml:"remoteCIDR,omitempty" json:"remoteCIDR,omitempty"`
	RemoteGroup string `yaml:"remoteGroup,omitempty" json:"remoteGroup,omitempty"`
}

// NetworkPolicy is an ordered list of rules; the first rule that matches decides.
type NetworkPolicy struct {
	Name  string       `yaml:"name" json:"name"`
	Rules []PolicyRule `yaml:"rules,omitempty" json:"rules,omitempty"`
}

// PolicyRule passes or denies traffic from Source to Destination (and back, with "<>").
type PolicyRule struct {
	Action           string   `yaml:"action" json:"action"`
	Protocol         string   `yaml:"protocol,omitempty" json:"protocol,omitempty"`
	Source           Endpoint `yaml:"source,omitempty" json:"source,omitempty"`
	Destination      Endpoint `yaml:"destination,omitempty" json:"destination,omitempty"`
	SourcePorts      string   `yaml:"sourcePorts,omitempty" json:"sourcePorts,omitempty"`
	DestinationPorts string   `yaml:"destinationPorts,omitempty" json:"destinationPorts,omitempty"`
	Direction        string   `yaml:"direction,omitempty" json:"direction,omitempty"`
}

// Endpoint is one side of a policy rule: a virtual network, a CIDR, or (both empty) anything.
type Endpoint struct {
	Network string `yaml:"network,omitempty" json:"network,omitempty"`
	CIDR    string `yaml:"cidr,omitempty" json:"cidr,omitempty"`
}

// InstanceIP is an address of a VMI.
type InstanceIP struct {
	Address string `yaml:"address" json:"address"`
	Mode    string `yaml:"mode,omitempty" json:"mode,omitempty"`
}

// Logical interface types and instance IP modes the model accepts.
const (
	TypeL2               = "l2"
	ModeActiveBackup     = "active-backup"
	MaxVNI               = 1<<24 - 1 // VXLAN's VNI is 24 bits
	MaxVLAN              = 4094      // 4095 is reserved by 802.1Q
	DefaultMaxInterfaces = 4352      // Contrail's default vrouter interface budget
	// DefaultMaxFlows is a node's flow budget: about ten times what 16K remote instances with a
	// few security group rules each compile to, and what ovs-vswitchd holds in about a gigabyte.
	DefaultMaxFlows        = 1_000_000
	DirectionIngress       = "ingress" // security group rule: traffic to the VMI
	DirectionEgress        = "egress"  // security group rule: traffic from the VMI
	EthertypeIPv4          = "IPv4"
	EthertypeIPv6          = "IPv6"
	ActionPass             = "pass"
	ActionDeny             = "deny"
	OneWay                 = ">"  // policy rule: from source to destination only
	BothWays               = "<>" // policy rule: either way
	InterfacesPerRemoteVMI = 2    // a remote instance costs its logical interface and its VMI
)

// LinkedLI is a logical interface together with where it lives.
type LinkedLI struct {
	Router            string
	PhysicalInterface string
	LogicalInterface
}

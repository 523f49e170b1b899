package model

// Config is one whole gateway configuration, as written in YAML.
type Config struct {
	VirtualNetworks          []VirtualNetwork          `yaml:"virtualNetworks" json:"virtualNetworks"`
	PhysicalRouters          []PhysicalRouter          `yaml:"physicalRouters" json:"physicalRouters"`
	VirtualMachineInterfaces []VirtualMachineInterface `yaml:"virtualMachineInterfaces" json:"virtualMachineInterfaces"`
}

// VirtualNetwork is a layer-2 domain identified across nodes by its VNI.
type VirtualNetwork struct {
	Name    string   `yaml:"name" json:"name"`
	VNI     uint32   `yaml:"vni" json:"vni"`
	Subnets []string `yaml:"subnets,omitempty" json:"subnets,omitempty"`
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
}

// InstanceIP is an address of a VMI.
type InstanceIP struct {
	Address string `yaml:"address" json:"address"`
	Mode    string `yaml:"mode,omitempty" json:"mode,omitempty"`
}

// Logical interface types and instance IP modes the model accepts.
const (
	TypeL2                 = "l2"
	ModeActiveBackup       = "active-backup"
	MaxVNI                 = 1<<24 - 1 // VXLAN's VNI is 24 bits
	MaxVLAN                = 4094      // 4095 is reserved by 802.1Q
	DefaultMaxInterfaces   = 4352      // Contrail's default vrouter interface budget
	InterfacesPerRemoteVMI = 2         // a remote instance costs its logical interface and its VMI
)

// LinkedLI is a logical interface together with where it lives.
type LinkedLI struct {
	Router            string
	PhysicalInterface string
	LogicalInterface
}

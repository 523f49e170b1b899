package pipeline

import "github.com/ovsgw/ovsgw/openflow"

// The pipeline. A frame enters table 0 and leaves from the output table:
//
//	          gateway port + VLAN ──► pop VLAN, src VMI, VN ─┐
//	classify  local VM port (iface-id) ──► src VMI, VN ──────┤        unknown port or VLAN ──► drop
//	(0)                                                      ▼
//	L2 lookup (40)   VN + dst MAC ──► dst VMI ─────────────────────────┐
//	                 VN, anything else (broadcast, multicast, unknown) ─┼─► flood group of the VN:
//	                                                                    │   one bucket per member,
//	                                                                    ▼   dst VMI, resubmit(,70)
//	output (70)      dst VMI = src VMI ──► drop (no hairpin)
//	                 dst VMI local ──► its port
//	                 dst VMI remote ──► push its VLAN, its gateway port (IN_PORT when it came in there)
const (
	TableClassify uint8 = 0
	TableL2Lookup uint8 = 40
	TableOutput   uint8 = 70
)

// TableNames maps each table to the name ovsgw flows prints.
var TableNames = map[uint8]string{
	TableClassify: "classify",
	TableL2Lookup: "l2-lookup",
	TableOutput:   "output",
}

// Registers carry the pipeline's metadata between tables.
var (
	RegSrcVMI = openflow.Reg(0) // id of the VMI the frame came from
	RegVN     = openflow.Reg(1) // VNI of the frame's virtual network
	RegDstVMI = openflow.Reg(2) // id of the VMI the frame goes to
)

// Priorities, per table. Higher wins; values leave room for later stages.
const (
	PrioGatewayVLAN     uint16 = 200 // classify: gateway port + VLAN of a logical interface
	PrioLocalPort       uint16 = 100 // classify: a local VM's port
	PrioGatewayPortMiss uint16 = 10  // classify: a gateway port's untagged or unknown-VLAN frame
	PrioTableMiss       uint16 = 0   // classify: anything else

	PrioKnownMAC uint16 = 100 // l2-lookup: destination MAC of a bound VMI
	PrioFlood    uint16 = 10  // l2-lookup: broadcast, multicast, unknown unicast

	PrioHairpin       uint16 = 200 // output: never send a frame back to the VMI it came from
	PrioOutputInPort  uint16 = 110 // output: to a remote instance on the port the frame came in on
	PrioOutputDefault uint16 = 100 // output: to the VMI's port
)

// FloodGroupBase is added to a VNI to make its flood group's id, so that ovsgw's groups are
// recognisable among others on the bridge (VNIs are 24 bits).
const FloodGroupBase uint32 = 0x40000000

// FloodGroupID is the flood group of the VN with this VNI.
func FloodGroupID(vni uint32) uint32 { return FloodGroupBase | vni }

// OwnedGroup reports whether a group id is one of ovsgw's.
func OwnedGroup(id uint32) bool { return id&0xff000000 == FloodGroupBase }

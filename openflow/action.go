package openflow

import "fmt"

// Action is one OpenFlow action (or, for GotoTable, instruction). Its String is the ovs-ofctl
// spelling, which is also how two actions are compared.
type Action interface {
	String() string
	action()
}

// Special port numbers (OpenFlow 1.3 section 7.2.1).
const (
	PortInPort     uint32 = 0xfffffff8
	PortController uint32 = 0xfffffffd
	PortLocal      uint32 = 0xfffffffe
)

// Output sends the packet to a port. OVS drops an output to the packet's own in_port; send it
// to PortInPort for that.
type Output struct{ Port uint32 }

// PopVLAN removes the outermost 802.1Q tag.
type PopVLAN struct{}

// PushVLAN adds an 802.1Q tag (EtherType 0x8100 unless set); set its VID with SetField.
type PushVLAN struct{ EtherType uint16 }

// SetField writes Value into Field (Value has the field's width). For FieldVlanVID the value
// includes VlanPresent.
type SetField struct {
	Field Field
	Value []byte
}

// GroupAction hands the packet to a group.
type GroupAction struct{ ID uint32 }

// Resubmit runs the packet through Table and then continues with the next action (Nicira
// extension; its register and header changes persist).
type Resubmit struct{ Table uint8 }

// GotoTable continues the pipeline in Table (an instruction; last in a flow's actions).
type GotoTable struct{ Table uint8 }

func (Output) action()      {}
func (PopVLAN) action()     {}
func (PushVLAN) action()    {}
func (SetField) action()    {}
func (GroupAction) action() {}
func (Resubmit) action()    {}
func (GotoTable) action()   {}

func (a Output) String() string {
	switch a.Port {
	case PortInPort:
		return "IN_PORT"
	case PortController:
		return "CONTROLLER"
	case PortLocal:
		return "LOCAL"
	}
	return fmt.Sprintf("output:%d", a.Port)
}
func (PopVLAN) String() string { return "pop_vlan" }
func (a PushVLAN) String() string {
	t := a.EtherType
	if t == 0 {
		t = 0x8100
	}
	return fmt.Sprintf("push_vlan:%#x", t)
}
func (a SetField) String() string {
	v := formatValue(a.Field, a.Value)
	if a.Field.Info().kind == kindVlanVID {
		v = fmt.Sprintf("%d", toUint(a.Value))
	}
	return fmt.Sprintf("set_field:%s->%s", v, a.Field)
}
func (a GroupAction) String() string { return fmt.Sprintf("group:%d", a.ID) }
func (a Resubmit) String() string    { return fmt.Sprintf("resubmit(,%d)", a.Table) }
func (a GotoTable) String() string   { return fmt.Sprintf("goto_table:%d", a.Table) }

// SetUint returns a SetField of v into f.
func SetUint(f Field, v uint64) SetField { return SetField{Field: f, Value: f.Uint(v)} }

// SetVlanVID returns the set_field that gives a pushed tag the VLAN id vid.
func SetVlanVID(vid uint16) SetField { return SetUint(FieldVlanVID, uint64(vid)|VlanPresent) }

package model

import (
	"fmt"
	"strconv"
	"strings"
)

// FieldError says which object and field of a config is wrong, and why.
type FieldError struct {
	Object string // path of the object, e.g. virtualMachineInterfaces[bms1]
	Field  string // field of that object, e.g. mac
	Reason string
}

func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Object + ": " + e.Reason
	}
	return e.Object + "." + e.Field + ": " + e.Reason
}

// Errors is every problem found in one config, in the order of the document.
type Errors []FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	s := "s"
	if len(es) == 1 {
		s = ""
	}
	return fmt.Sprintf("%d error%s:\n  %s", len(es), s, strings.Join(lines, "\n  "))
}

// loc is where an object sits in the config: a list element, named by its name, or by its index
// (#i) when it has none; rules and bindings, which have no names, by their index alone
// (rules[i]). Its text is made only when an error is reported: formatting the path of every
// object cost more than all the checks together at 4,096 instances.
type loc struct {
	parent  *loc
	list    string
	i       int
	name    string
	byIndex bool // list[i]: an element that has no name
}

func (l *loc) String() string {
	var b strings.Builder
	l.write(&b)
	return b.String()
}

func (l *loc) write(b *strings.Builder) {
	if l.parent != nil {
		l.parent.write(b)
		b.WriteByte('.')
	}
	b.WriteString(l.list)
	b.WriteByte('[')
	switch {
	case l.byIndex:
		b.WriteString(strconv.Itoa(l.i))
	case l.name == "" || !printableName(l.name):
		// An unusable name would carry its harm into the message: the index names it.
		b.WriteByte('#')
		b.WriteString(strconv.Itoa(l.i))
	default:
		b.WriteString(l.name)
	}
	b.WriteByte(']')
}

// The config's lists as errors name them: the YAML keys, each element named in brackets.
const (
	ListVirtualNetworks          = "virtualNetworks"
	ListPhysicalRouters          = "physicalRouters"
	ListPhysicalInterfaces       = "physicalInterfaces" // in a physical router
	ListLogicalInterfaces        = "logicalInterfaces"  // in a physical interface
	ListVirtualMachineInterfaces = "virtualMachineInterfaces"
	ListSecurityGroups           = "securityGroups"
	ListNetworkPolicies          = "networkPolicies"
	ListTorSwitches              = "torSwitches"
	ListLogicalRouters           = "logicalRouters"
	listRules                    = "rules"    // of a security group or network policy, by index
	listBindings                 = "bindings" // of a ToR switch, by index
)

// ObjectPath names a top-level object of the config as validation errors do
// (virtualMachineInterfaces[bms1]), for log lines and messages about objects of a config in
// force (which validation found named well). A name validation would refuse is quoted.
func ObjectPath(list, name string) string {
	if name == "" || !printableName(name) {
		name = strconv.Quote(name)
	}
	return list + "[" + name + "]"
}

// VMIPath names a virtual machine interface as validation does.
func VMIPath(name string) string { return ObjectPath(ListVirtualMachineInterfaces, name) }

// TorSwitchPath names a ToR switch as validation does.
func TorSwitchPath(name string) string { return ObjectPath(ListTorSwitches, name) }

// PhysicalInterfacePath names a physical interface of a physical router as validation does.
func PhysicalInterfacePath(router, name string) string {
	return ObjectPath(ListPhysicalRouters, router) + "." + ObjectPath(ListPhysicalInterfaces, name)
}

package model

import (
	"fmt"
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

// objectPath names a list element by its name, or by its index when it has none.
func objectPath(parent, list string, i int, name string) string {
	p := list
	if parent != "" {
		p = parent + "." + list
	}
	if name == "" {
		return fmt.Sprintf("%s[#%d]", p, i)
	}
	return fmt.Sprintf("%s[%s]", p, name)
}

package trace

import (
	"fmt"
	"io"
	"strings"
)

// WriteText prints a trace for people: the packet, each step with its table's name and owner
// (nested steps indented), what a drop or a policy flow stands for, and the verdict last.
//
//	0  classify        [vmi bms1]                 in_port=1,dl_vlan=100, priority 200
//	                   pop_vlan, set_field:0x2e64d1c0->reg0, set_field:0x1389->reg1, goto_table:10
func (r *Result) WriteText(w io.Writer) {
	fmt.Fprintf(w, "trace on node %s, bridge %s: %s\n", r.Node, r.Bridge, r.Packet.String())
	fmt.Fprintf(w, "flow: %s\n", r.Packet.Flow)
	pass := 0
	for _, s := range r.Steps {
		if s.Pass != pass {
			pass = s.Pass
			how := "resumed"
			if pass-1 < len(r.Resumed) {
				how = r.Resumed[pass-1]
			}
			fmt.Fprintf(w, "-- after conntrack: %s\n", how)
		}
		indent := strings.Repeat("  ", s.Depth)
		owner := s.OwnerKind
		if s.OwnerName != "" {
			owner += " " + s.OwnerName
		}
		if s.Drop != "" {
			owner += " drop:" + s.Drop
		}
		name := s.TableName
		if s.Bridge != r.Bridge {
			name = "(" + s.Bridge + ")"
		}
		what := s.Match
		if s.NoMatch != "" {
			what = s.NoMatch
		} else {
			if what != "" {
				what += ", "
			}
			what += fmt.Sprintf("priority %d", s.Priority)
		}
		if owner != "" {
			owner = "[" + owner + "]"
		}
		fmt.Fprintf(w, "%s%3d  %-14s %-34s %s\n", indent, s.Table, name, owner, what)
		pad := indent + strings.Repeat(" ", 20)
		if len(s.Actions) > 0 {
			fmt.Fprintf(w, "%s%s\n", pad, strings.Join(s.Actions, ", "))
		}
		if s.Why != "" {
			fmt.Fprintf(w, "%s=> %s\n", pad, s.Why)
		}
	}
	fmt.Fprintf(w, "\nverdict: %s\n", r.Verdict.Text)
}

package trace

import (
	"regexp"
	"strconv"
	"strings"
)

// rawStep is one flow table lookup as ofproto/trace prints it, before annotation.
type rawStep struct {
	pass     int    // 0: the packet as sent; n: after the n-th recirculation
	depth    int    // 0 at the top; deeper inside a resubmit or a group bucket
	bridge   string // the bridge whose table this is (a tunnel's output goes through another)
	table    uint8
	priority int
	cookie   uint64
	match    string
	noMatch  string   // ofproto/trace's words when no flow matched ("No match.")
	actions  []string // as printed, bucket markers included ("bucket 1")
	notes    []string // ofproto/trace's remarks ("-> output to native tunnel")
}

// rawTrace is ofproto/trace's output, parsed.
type rawTrace struct {
	steps    []*rawStep
	resumes  []string // per recirculation: how it resumed ("resume conntrack with default ct_state=trk|new")
	datapath []string // per pass: the datapath actions
}

var (
	// " 0. in_port=1,dl_vlan=100, priority 200, cookie 0x6f67..." or "31. priority 0, cookie 0x..."
	// or "70. No match." (ofproto-dpif-xlate's xlate_report_table).
	stepLine   = regexp.MustCompile(`^( *)(\d+)\. (.*)$`)
	priorityOf = regexp.MustCompile(`^(?:(.*), )?priority (\d+)(?:, cookie (0x[0-9a-f]+))?$`)
	bridgeLine = regexp.MustCompile(`^( *)bridge\("([^"]*)"\)$`)
	resumeLine = regexp.MustCompile(`^recirc\(0x[0-9a-f]+\) - (.*)$`)
)

// parse reads ofproto/trace's text. Nesting is told by indentation: a step's actions are
// indented past its number, a bucket's actions further, and the steps a bucket or resubmit
// leads to further still; a line less indented than a step's actions ends that step.
func parse(text string) rawTrace {
	var t rawTrace
	type bridgeFrame struct {
		indent int
		name   string
	}
	var open []*rawStep // steps whose actions may follow, innermost last
	var indents []int   // the column of each open step's actions
	var bridges []bridgeFrame
	pass := 0
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "----") || strings.HasPrefix(trimmed, "=====") {
			continue
		}
		indent := len(line) - len(trimmed)
		for len(bridges) > 0 && bridges[len(bridges)-1].indent > indent {
			bridges = bridges[:len(bridges)-1]
		}
		if m := resumeLine.FindStringSubmatch(line); m != nil {
			pass++
			// "resume conntrack with default ct_state=trk|new (use --ct-next to customize)": the
			// hint is about ovs-appctl's options, not ours.
			t.resumes = append(t.resumes, strings.TrimSuffix(m[1], " (use --ct-next to customize)"))
			open, indents = nil, nil
			continue
		}
		if rest, ok := strings.CutPrefix(line, "Datapath actions: "); ok {
			t.datapath = append(t.datapath, rest)
			continue
		}
		if m := bridgeLine.FindStringSubmatch(line); m != nil {
			for len(bridges) > 0 && bridges[len(bridges)-1].indent >= indent {
				bridges = bridges[:len(bridges)-1]
			}
			bridges = append(bridges, bridgeFrame{indent, m[2]})
			continue
		}
		if m := stepLine.FindStringSubmatch(line); m != nil {
			table, err := strconv.Atoi(m[2])
			if err == nil && table < 256 {
				dot := len(m[1]) + len(m[2]) // the column of the dot
				for len(open) > 0 && indents[len(indents)-1] > dot {
					open, indents = open[:len(open)-1], indents[:len(indents)-1]
				}
				s := &rawStep{pass: pass, depth: (dot - 2) / 4, table: uint8(table)}
				if len(bridges) > 0 {
					s.bridge = bridges[len(bridges)-1].name
				}
				if p := priorityOf.FindStringSubmatch(m[3]); p != nil {
					s.match = p[1]
					s.priority, _ = strconv.Atoi(p[2])
					if p[3] != "" {
						s.cookie, _ = strconv.ParseUint(p[3][2:], 16, 64)
					}
				} else {
					s.noMatch = m[3]
				}
				t.steps = append(t.steps, s)
				open, indents = append(open, s), append(indents, dot+2)
				continue
			}
		}
		for len(open) > 0 && indents[len(indents)-1] > indent {
			open, indents = open[:len(open)-1], indents[:len(indents)-1]
		}
		if len(open) == 0 {
			continue // the pass's flow, final flow, megaflow, "thaw", ...
		}
		s := open[len(open)-1]
		if note, ok := strings.CutPrefix(trimmed, "-> "); ok {
			s.notes = append(s.notes, note)
		} else {
			s.actions = append(s.actions, trimmed)
		}
	}
	return t
}

package openflow

// Parsing of the canonical text: ParseFlow and ParseGroup are the inverses of Flow.String and
// Group.String for every field and action this package models (UnknownField matches and
// UnknownAction actions included), so that text printed by `ovsgw flows`, a golden file or a
// log line can be turned back into the values that printed it.

import (
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ParseError is a piece of flow or group text that does not parse: Token is the part at fault
// (a match field, an action, a header field), Reason says what is wrong with it.
type ParseError struct {
	Token  string
	Reason string
}

func (e *ParseError) Error() string { return fmt.Sprintf("openflow: %q: %s", e.Token, e.Reason) }

func parseErr(token, format string, args ...any) error {
	return &ParseError{Token: token, Reason: fmt.Sprintf(format, args...)}
}

// ParseFlow reads a flow's canonical text ("cookie=0x1, table=0, priority=10,in_port=1
// actions=output:2"), the form Flow.String prints. Header fields and match fields may come in
// any order, each at most once; the match is normalized as Match.Normalize does. It also reads
// the protocol names ovs-ofctl prints for dl_type and nw_proto ("ip", "tcp6", ...; see
// protocolNames), so that a line of `ovs-ofctl dump-flows` without its counters parses when
// every field and action in it is one this package models.
func ParseFlow(text string) (Flow, error) {
	text = strings.TrimSpace(text)
	var f Flow
	i := strings.Index(text, "actions=")
	if i < 0 {
		return f, parseErr(text, "no actions= part")
	}
	head, acts := strings.TrimRight(text[:i], " ,"), text[i+len("actions="):]
	if i > 0 && text[i-1] != ' ' && text[i-1] != ',' {
		return f, parseErr(text[:i+len("actions=")], "actions= must follow a space or a comma")
	}
	var seen struct{ cookie, table, priority bool }
	var m Match
	fields := map[Field]bool{}
	tokens, err := splitTop(head)
	if err != nil {
		return f, err
	}
	for _, tok := range tokens {
		key, val, ok := cutKey(tok)
		switch {
		case tok == "":
			return f, parseErr(head, "empty field (two commas in a row, or a trailing comma)")
		case ok && key == "cookie":
			if seen.cookie {
				return f, parseErr(tok, "cookie given twice")
			}
			seen.cookie = true
			if f.Cookie, err = parseUint(tok, val, 64); err != nil {
				return f, err
			}
			continue
		case ok && key == "table":
			if seen.table {
				return f, parseErr(tok, "table given twice")
			}
			seen.table = true
			n, err := parseDecimal(tok, val, 8)
			if err != nil {
				return f, err
			}
			f.Table = uint8(n)
			continue
		case ok && key == "priority":
			if seen.priority {
				return f, parseErr(tok, "priority given twice")
			}
			seen.priority = true
			n, err := parseDecimal(tok, val, 16)
			if err != nil {
				return f, err
			}
			f.Priority = uint16(n)
			continue
		}
		mfs, err := parseMatchToken(tok)
		if err != nil {
			return f, err
		}
		for _, mf := range mfs {
			if fields[mf.Field] {
				return f, parseErr(tok, "field %s given twice", mf.Field)
			}
			fields[mf.Field] = true
			m = append(m, mf)
		}
	}
	for _, h := range []struct {
		name string
		ok   bool
	}{{"cookie", seen.cookie}, {"table", seen.table}, {"priority", seen.priority}} {
		if !h.ok {
			return f, parseErr(head, "no %s= field", h.name)
		}
	}
	f.Match = m.Normalize()
	if f.Actions, err = parseActions(acts); err != nil {
		return f, err
	}
	return f, nil
}

// ParseGroup reads a group's canonical text ("group_id=1,type=all,bucket=actions=output:1"),
// the form Group.String prints.
func ParseGroup(text string) (Group, error) {
	var g Group
	tokens, err := splitTop(strings.TrimSpace(text))
	if err != nil {
		return g, err
	}
	var seenID, seenType bool
	var bucket *Bucket // the bucket being read, once the first bucket= has come
	var dropped bool   // the bucket being read said drop: no more actions may follow
	for _, tok := range tokens {
		if rest, ok := strings.CutPrefix(tok, "bucket="); ok {
			acts, ok := strings.CutPrefix(rest, "actions=")
			if !ok {
				return g, parseErr(tok, "a bucket must start with actions=")
			}
			g.Buckets = append(g.Buckets, Bucket{})
			bucket, dropped, tok = &g.Buckets[len(g.Buckets)-1], false, acts
			if tok == "drop" {
				dropped = true
				continue
			}
		}
		if bucket != nil {
			if dropped || tok == "drop" {
				return g, parseErr(tok, "drop must be a bucket's only action")
			}
			a, err := parseAction(tok)
			if err != nil {
				return g, err
			}
			bucket.Actions = append(bucket.Actions, a)
			continue
		}
		key, val, ok := cutKey(tok)
		switch {
		case ok && key == "group_id" && !seenID:
			seenID = true
			n, err := parseDecimal(tok, val, 32)
			if err != nil {
				return g, err
			}
			g.ID = uint32(n)
		case ok && key == "type" && !seenType:
			seenType = true
			t, err := parseGroupType(tok, val)
			if err != nil {
				return g, err
			}
			g.Type = t
		case ok && (key == "group_id" || key == "type"):
			return g, parseErr(tok, "%s given twice", key)
		default:
			return g, parseErr(tok, "want group_id=, type= or bucket=actions=")
		}
	}
	if !seenID {
		return g, parseErr(text, "no group_id= field")
	}
	if !seenType {
		return g, parseErr(text, "no type= field")
	}
	return g, nil
}

func parseGroupType(tok, s string) (GroupType, error) {
	for t := GroupAll; t <= GroupFF; t++ {
		if s == t.String() {
			return t, nil
		}
	}
	if n, ok := strings.CutPrefix(s, "type"); ok {
		v, err := strconv.ParseUint(n, 10, 8)
		if err == nil && v > uint64(GroupFF) {
			return GroupType(v), nil
		}
	}
	return 0, parseErr(tok, "unknown group type (want all, select, indirect or ff)")
}

// splitTop splits s at the commas outside parentheses.
func splitTop(s string) ([]string, error) {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return nil, parseErr(s, "unbalanced ')'")
			}
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, parseErr(s, "unbalanced '('")
	}
	if s != "" {
		out = append(out, strings.TrimSpace(s[start:]))
	}
	return out, nil
}

// cutKey splits "key=value" at the first '=' outside parentheses (an unknown field's name
// holds '=' inside them).
func cutKey(tok string) (key, val string, ok bool) {
	depth := 0
	for i := 0; i < len(tok); i++ {
		switch tok[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '=':
			if depth == 0 {
				return tok[:i], tok[i+1:], true
			}
		}
	}
	return tok, "", false
}

// parseUint reads a number written in hexadecimal with 0x, or in decimal.
func parseUint(tok, s string, bits int) (uint64, error) {
	if s == "" {
		return 0, parseErr(tok, "missing number")
	}
	digits, base := s, 10
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		digits, base = h, 16
	}
	v, err := strconv.ParseUint(digits, base, bits)
	if err != nil || digits == "" {
		return 0, parseErr(tok, "%q is not a number of %d bits", s, bits)
	}
	return v, nil
}

func parseDecimal(tok, s string, bits int) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, parseErr(tok, "%q is not a decimal number of %d bits", s, bits)
	}
	return v, nil
}

// fieldsByName maps the names the text uses for known fields (dl_vlan and vlan_tci aside).
var fieldsByName = func() map[string]Field {
	m := map[string]Field{}
	for f := Field(0); f < numFields; f++ {
		m[fieldInfos[f].Name] = f
	}
	return m
}()

// fieldsByNXMName maps the names move prints back to fields (each field's nxmName, and its
// plain name too).
var fieldsByNXMName = func() map[string]Field {
	m := map[string]Field{}
	for f := Field(0); f < numFields; f++ {
		m[f.nxmName()] = f
		m[fieldInfos[f].Name] = f
	}
	return m
}()

// parseFieldName reads a field name: a known field's, or an unknown field's
// "oxm(class=0x8000,field=7[,masked])".
func parseFieldName(tok, name string) (Field, error) {
	if f, ok := fieldsByName[name]; ok {
		return f, nil
	}
	inner, ok := strings.CutPrefix(name, "oxm(")
	if !ok || !strings.HasSuffix(inner, ")") {
		return 0, parseErr(tok, "unknown field %q", name)
	}
	parts := strings.Split(strings.TrimSuffix(inner, ")"), ",")
	if len(parts) < 2 || len(parts) > 3 || (len(parts) == 3 && parts[2] != "masked") {
		return 0, parseErr(tok, "an unknown field is written oxm(class=C,field=N[,masked])")
	}
	c, okC := strings.CutPrefix(parts[0], "class=")
	n, okN := strings.CutPrefix(parts[1], "field=")
	if !okC || !okN {
		return 0, parseErr(tok, "an unknown field is written oxm(class=C,field=N[,masked])")
	}
	class, err := parseUint(tok, c, 16)
	if err != nil {
		return 0, err
	}
	oxm, err := parseDecimal(tok, n, 7)
	if err != nil {
		return 0, err
	}
	return UnknownField(uint16(class), uint8(oxm), len(parts) == 3), nil
}

// protocolNames are the names ovs-ofctl prints for an exact dl_type, or dl_type and
// nw_proto, among the match's fields (ovs-fields(7), "Shorthands").
var protocolNames = map[string]struct {
	ethType uint16
	proto   uint8 // 0: no nw_proto
}{
	"ip": {0x0800, 0}, "ipv6": {0x86dd, 0}, "arp": {0x0806, 0}, "rarp": {0x8035, 0},
	"icmp": {0x0800, 1}, "icmp6": {0x86dd, 58},
	"tcp": {0x0800, 6}, "tcp6": {0x86dd, 6},
	"udp": {0x0800, 17}, "udp6": {0x86dd, 17},
	"sctp": {0x0800, 132}, "sctp6": {0x86dd, 132},
	"mpls": {0x8847, 0}, "mplsm": {0x8848, 0},
}

// parseMatchToken reads one token of a match: a protocol name or a field.
func parseMatchToken(tok string) ([]MatchField, error) {
	if p, ok := protocolNames[tok]; ok {
		out := []MatchField{{Field: FieldEthType, Value: FieldEthType.Uint(uint64(p.ethType))}}
		if p.proto != 0 {
			out = append(out, MatchField{Field: FieldIPProto, Value: FieldIPProto.Uint(uint64(p.proto))})
		}
		return out, nil
	}
	mf, err := parseMatchField(tok)
	if err != nil {
		return nil, err
	}
	return []MatchField{mf}, nil
}

// parseMatchField reads one "field=value[/mask]" of a match.
func parseMatchField(tok string) (MatchField, error) {
	name, val, ok := cutKey(tok)
	if !ok {
		return MatchField{}, parseErr(tok, "want field=value")
	}
	switch name {
	case "dl_vlan":
		v, err := parseDecimal(tok, val, 16)
		if err != nil {
			return MatchField{}, err
		}
		if v > 0x0fff {
			return MatchField{}, parseErr(tok, "VLAN %d is out of range 0..4095", v)
		}
		return MatchField{Field: FieldVlanVID, Value: FieldVlanVID.Uint(v | VlanPresent)}, nil
	case "vlan_tci":
		// The text's vlan_tci covers the 13 bits of OpenFlow 1.3's VLAN_VID (VID and the
		// present bit); 0x1fff as mask is an exact match.
		vs, ms, masked := strings.Cut(val, "/")
		v, err := parseUint(tok, vs, 16)
		if err != nil {
			return MatchField{}, err
		}
		mask := uint64(0x1fff)
		if masked {
			if mask, err = parseUint(tok, ms, 16); err != nil {
				return MatchField{}, err
			}
		}
		if v > 0x1fff || mask > 0x1fff {
			return MatchField{}, parseErr(tok, "vlan_tci value and mask are 13 bits (VID and present bit, at most 0x1fff)")
		}
		e := MatchField{Field: FieldVlanVID, Value: FieldVlanVID.Uint(v)}
		if mask != 0x1fff {
			e.Mask = FieldVlanVID.Uint(mask)
		}
		return e, nil
	case "ct_state":
		return parseCTState(tok, val)
	}
	f, err := parseFieldName(tok, name)
	if err != nil {
		return MatchField{}, err
	}
	if !f.Known() {
		v, err := parseRaw(tok, val)
		return MatchField{Field: f, Value: v}, err
	}
	if fieldInfos[f].kind == kindVlanVID || fieldInfos[f].kind == kindCTState {
		return MatchField{}, parseErr(tok, "match %s as dl_vlan=, vlan_tci= or ct_state=", name)
	}
	vs, ms, masked := strings.Cut(val, "/")
	v, err := parseValue(tok, f, vs)
	if err != nil {
		return MatchField{}, err
	}
	e := MatchField{Field: f, Value: v}
	if masked {
		if e.Mask, err = parseMask(tok, f, ms); err != nil {
			return MatchField{}, err
		}
	}
	return e, nil
}

// parseRaw reads an unknown field's payload, "0x" and two hex digits per byte.
func parseRaw(tok, s string) ([]byte, error) {
	h, ok := strings.CutPrefix(s, "0x")
	if !ok {
		return nil, parseErr(tok, "an unknown field's payload is written 0x and its bytes in hex")
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, parseErr(tok, "payload %q: %v", s, err)
	}
	if len(b) > 0xff {
		return nil, parseErr(tok, "payload of %d bytes: an OXM payload has at most 255", len(b))
	}
	return b, nil
}

// parseValue reads a value of known field f, printed as formatValue prints it.
func parseValue(tok string, f Field, s string) ([]byte, error) {
	info := fieldInfos[f]
	switch info.kind {
	case kindMAC:
		mac, err := net.ParseMAC(s)
		if err != nil || len(mac) != 6 {
			return nil, parseErr(tok, "%q is not a MAC address", s)
		}
		return []byte(mac), nil
	case kindIPv4:
		ip := parseIP(s).To4()
		if ip == nil {
			return nil, parseErr(tok, "%q is not an IPv4 address", s)
		}
		return []byte(ip), nil
	case kindIPv6:
		ip := parseIP(s).To16()
		if ip == nil {
			return nil, parseErr(tok, "%q is not an IPv6 address", s)
		}
		return []byte(ip), nil
	}
	v, err := parseUint(tok, s, 8*info.Width)
	if err != nil {
		return nil, err
	}
	return f.Uint(v), nil
}

// parseIP is net.ParseIP without zones and brackets, which Flow text never holds.
func parseIP(s string) net.IP {
	if strings.ContainsAny(s, "%[]") {
		return nil
	}
	return net.ParseIP(s)
}

// parseMask reads a mask of known field f: a prefix length or an address for IP fields, a MAC
// for MAC fields, a number otherwise.
func parseMask(tok string, f Field, s string) ([]byte, error) {
	info := fieldInfos[f]
	if info.kind == kindIPv4 || info.kind == kindIPv6 {
		if n, err := strconv.ParseUint(s, 10, 8); err == nil {
			if int(n) > 8*info.Width {
				return nil, parseErr(tok, "prefix length %d is longer than the address", n)
			}
			return net.CIDRMask(int(n), 8*info.Width), nil
		}
	}
	return parseValue(tok, f, s)
}

// parseCTState reads ct_state's "+trk-est" flags or its "0x21/0x3f" value and mask.
func parseCTState(tok, s string) (MatchField, error) {
	if s == "" {
		return MatchField{}, parseErr(tok, "missing ct_state flags")
	}
	if s[0] != '+' && s[0] != '-' {
		vs, ms, masked := strings.Cut(s, "/")
		v, err := parseUint(tok, vs, 32)
		if err != nil {
			return MatchField{}, err
		}
		e := MatchField{Field: FieldCTState, Value: FieldCTState.Uint(v)}
		if masked {
			m, err := parseUint(tok, ms, 32)
			if err != nil {
				return MatchField{}, err
			}
			e.Mask = FieldCTState.Uint(m)
		}
		return e, nil
	}
	var set, mask uint32
	for rest := s; rest != ""; {
		sign := rest[0]
		if sign != '+' && sign != '-' {
			return MatchField{}, parseErr(tok, "ct_state flags are +name or -name")
		}
		rest = rest[1:]
		end := strings.IndexAny(rest, "+-")
		if end < 0 {
			end = len(rest)
		}
		name := rest[:end]
		rest = rest[end:]
		bit := uint32(0)
		for _, n := range ctStateNames {
			if n.name == name {
				bit = n.bit
			}
		}
		if bit == 0 {
			return MatchField{}, parseErr(tok, "unknown ct_state flag %q (known: new, est, rel, rpl, inv, trk)", name)
		}
		if mask&bit != 0 {
			return MatchField{}, parseErr(tok, "ct_state flag %q given twice", name)
		}
		mask |= bit
		if sign == '+' {
			set |= bit
		}
	}
	return MatchField{Field: FieldCTState, Value: FieldCTState.Uint(uint64(set)), Mask: FieldCTState.Uint(uint64(mask))}, nil
}

// parseActions reads the text after "actions=".
func parseActions(s string) ([]Action, error) {
	if s == "drop" {
		return nil, nil
	}
	tokens, err := splitTop(s)
	if err != nil {
		return nil, err
	}
	if len(tokens) == 0 {
		return nil, parseErr(s, "no actions (write drop)")
	}
	out := make([]Action, 0, len(tokens))
	for _, tok := range tokens {
		if tok == "drop" {
			return nil, parseErr(tok, "drop must be the only action")
		}
		a, err := parseAction(tok)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// parseAction reads one action as its String method prints it.
func parseAction(tok string) (Action, error) {
	switch tok {
	case "":
		return nil, parseErr(tok, "empty action (two commas in a row, or a trailing comma)")
	case "IN_PORT":
		return Output{Port: PortInPort}, nil
	case "CONTROLLER":
		return Output{Port: PortController}, nil
	case "LOCAL":
		return Output{Port: PortLocal}, nil
	case "pop_vlan":
		return PopVLAN{}, nil
	case "dec_ttl":
		return DecTTL{}, nil
	}
	if arg, ok := strings.CutPrefix(tok, "output:"); ok {
		n, err := parseDecimal(tok, arg, 32)
		return Output{Port: uint32(n)}, err
	}
	if arg, ok := strings.CutPrefix(tok, "push_vlan:"); ok {
		n, err := parseUint(tok, arg, 16)
		if n == 0 {
			n = 0x8100 // what an EtherType of 0 means (and prints as)
		}
		return PushVLAN{EtherType: uint16(n)}, err
	}
	if arg, ok := strings.CutPrefix(tok, "group:"); ok {
		n, err := parseDecimal(tok, arg, 32)
		return GroupAction{ID: uint32(n)}, err
	}
	if arg, ok := strings.CutPrefix(tok, "goto_table:"); ok {
		n, err := parseDecimal(tok, arg, 8)
		return GotoTable{Table: uint8(n)}, err
	}
	if arg, ok := strings.CutPrefix(tok, "resubmit(,"); ok && strings.HasSuffix(arg, ")") {
		n, err := parseDecimal(tok, strings.TrimSuffix(arg, ")"), 8)
		return Resubmit{Table: uint8(n)}, err
	}
	if arg, ok := strings.CutPrefix(tok, "set_field:"); ok {
		return parseSetField(tok, arg)
	}
	if arg, ok := strings.CutPrefix(tok, "move:"); ok {
		return parseMove(tok, arg)
	}
	if arg, ok := strings.CutPrefix(tok, "ct("); ok && strings.HasSuffix(arg, ")") {
		return parseCT(tok, strings.TrimSuffix(arg, ")"))
	}
	if arg, ok := strings.CutPrefix(tok, "controller("); ok && strings.HasSuffix(arg, ")") {
		return parseController(tok, strings.TrimSuffix(arg, ")"))
	}
	if arg, ok := strings.CutPrefix(tok, "meter:"); ok {
		n, err := parseDecimal(tok, arg, 32)
		return MeterAction{ID: uint32(n)}, err
	}
	if arg, ok := strings.CutPrefix(tok, "note:"); ok {
		return parseNote(tok, arg)
	}
	if arg, ok := strings.CutPrefix(tok, "conjunction("); ok && strings.HasSuffix(arg, ")") {
		return parseConjunction(tok, strings.TrimSuffix(arg, ")"))
	}
	if strings.HasPrefix(tok, "unknown_action(") || strings.HasPrefix(tok, "unknown_instruction(") {
		return parseUnknownAction(tok)
	}
	return nil, parseErr(tok, "unknown action")
}

func parseSetField(tok, arg string) (Action, error) {
	i := strings.LastIndex(arg, "->")
	if i < 0 {
		return nil, parseErr(tok, "want set_field:VALUE->FIELD")
	}
	vs, name := arg[:i], arg[i+2:]
	f, ok := fieldsByName[name]
	if !ok {
		return nil, parseErr(tok, "unknown field %q", name)
	}
	if strings.Contains(vs, "/") {
		return nil, parseErr(tok, "set_field takes no mask")
	}
	switch fieldInfos[f].kind {
	case kindVlanVID, kindCTState: // printed in decimal
		v, err := parseDecimal(tok, vs, 8*fieldInfos[f].Width)
		if err != nil {
			return nil, err
		}
		return SetField{Field: f, Value: f.Uint(v)}, nil
	}
	v, err := parseValue(tok, f, vs)
	if err != nil {
		return nil, err
	}
	return SetField{Field: f, Value: v}, nil
}

func parseMove(tok, arg string) (Action, error) {
	src, dst, ok := strings.Cut(arg, "->")
	src, okS := strings.CutSuffix(src, "[]")
	dst, okD := strings.CutSuffix(dst, "[]")
	if !ok || !okS || !okD {
		return nil, parseErr(tok, "want move:SRC[]->DST[] (whole fields)")
	}
	s, okS := fieldsByNXMName[src]
	d, okD := fieldsByNXMName[dst]
	if !okS {
		return nil, parseErr(tok, "unknown field %q", src)
	}
	if !okD {
		return nil, parseErr(tok, "unknown field %q", dst)
	}
	return Move{Src: s, Dst: d}, nil
}

func parseCT(tok, args string) (Action, error) {
	var a CT
	var seenCommit, seenTable, seenZone bool
	if args == "" {
		return a, nil
	}
	for _, p := range strings.Split(args, ",") {
		key, val, _ := strings.Cut(p, "=")
		switch {
		case p == "commit" && !seenCommit:
			seenCommit, a.Commit = true, true
		case key == "table" && !seenTable:
			n, err := parseDecimal(tok, val, 8)
			if err != nil {
				return nil, err
			}
			seenTable, a.Recirculate, a.Table = true, true, uint8(n)
		case key == "zone" && !seenZone:
			n, err := parseDecimal(tok, val, 16)
			if err != nil {
				return nil, err
			}
			seenZone, a.Zone = true, uint16(n)
		default:
			return nil, parseErr(tok, "ct argument %q: want commit, table=N or zone=N, each at most once", p)
		}
	}
	return a, nil
}

// parseConjunction reads "ID,K/N" (spaces allowed around the numbers, as ovs-ofctl allows
// and ovs-fields(7) writes them).
func parseConjunction(tok, args string) (Action, error) {
	id, clauses, ok1 := strings.Cut(args, ",")
	k, n, ok2 := strings.Cut(clauses, "/")
	if !ok1 || !ok2 {
		return nil, parseErr(tok, "want conjunction(ID,K/N)")
	}
	idv, err := parseUint(tok, strings.TrimSpace(id), 32)
	if err != nil {
		return nil, err
	}
	kv, err := parseDecimal(tok, strings.TrimSpace(k), 8)
	if err != nil {
		return nil, err
	}
	nv, err := parseDecimal(tok, strings.TrimSpace(n), 8)
	if err != nil {
		return nil, err
	}
	a := Conjunction{ID: uint32(idv), Clause: uint8(kv), NClauses: uint8(nv)}
	if err := a.check(); err != nil {
		return nil, parseErr(tok, "%v", err)
	}
	return a, nil
}

// parseUnknownAction reads an UnknownAction back from its raw bytes; the rest of the text
// (type, experimenter, subtype) must be what those bytes print as.
func parseUnknownAction(tok string) (Action, error) {
	i := strings.Index(tok, "raw=")
	if i < 0 || !strings.HasSuffix(tok, ")") {
		return nil, parseErr(tok, "an unknown action holds raw=HEX")
	}
	raw, err := hex.DecodeString(tok[i+len("raw=") : len(tok)-1])
	if err != nil {
		return nil, parseErr(tok, "raw bytes: %v", err)
	}
	a := UnknownAction{Instruction: strings.HasPrefix(tok, "unknown_instruction("), Raw: raw}
	if a.String() != tok {
		return nil, parseErr(tok, "does not match its raw bytes, which print as %q", a.String())
	}
	return a, nil
}

package openflow

import (
	"encoding/binary"
	"fmt"
)

// Conjunction makes its flow one clause of conjunctive match ID (Open vSwitch's conjunction
// action, NXAST_CONJUNCTION; ovs-fields(7), "Conjunctive Match Fields"). The match has
// NClauses dimensions (2..64) and this flow's match is one allowed value of dimension Clause
// (1..NClauses, as printed; the wire stores Clause-1). A packet that matches at least one
// flow of every dimension is looked up again in the same table with conj_id=ID (FieldConjID),
// whose flow holds the actions; without such a flow, or with a dimension unmatched, the
// lookup goes on as if the clause flows were not there. The package comment lists the rules
// OVS sets for these flows; the one Apply enforces is that a flow with Conjunction actions
// has no other actions but Note. OVS 3.1 also accepts it
// in a group bucket, where it makes no conjunctive match.
type Conjunction struct {
	ID       uint32
	Clause   uint8
	NClauses uint8
}

func (Conjunction) action() {}

// String is ovs-ofctl's spelling, "conjunction(ID,K/N)".
func (a Conjunction) String() string {
	return fmt.Sprintf("conjunction(%d,%d/%d)", a.ID, a.Clause, a.NClauses)
}

// maxConjunctionClauses is the most clauses OVS accepts (ovs-ofctl 3.1: "conjunction must
// have at most 64 clauses").
const maxConjunctionClauses = 64

// check reports a clause or clause count OVS refuses (the error says why, not which action).
func (a Conjunction) check() error {
	switch {
	case a.NClauses < 2 || a.NClauses > maxConjunctionClauses:
		return fmt.Errorf("a conjunctive match has 2 to %d clauses, not %d", maxConjunctionClauses, a.NClauses)
	case a.Clause < 1 || a.Clause > a.NClauses:
		return fmt.Errorf("the clause is 1 to the number of clauses (%d), not %d", a.NClauses, a.Clause)
	}
	return nil
}

// Nicira conjunction action layout (nx_action_conjunction): experimenter header, subtype,
// clause (0-based), n_clauses, id.
const (
	nxastConjunction      = 34 // NXAST_CONJUNCTION
	nxConjunctionLength   = 16
	nxConjunctionClauseAt = 10
	nxConjunctionIDAt     = 12
)

func encodeConjunction(a Conjunction) ([]byte, error) {
	if err := a.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", a, err)
	}
	b := make([]byte, nxConjunctionLength)
	binary.BigEndian.PutUint16(b[0:], 0xffff) // OFPAT_EXPERIMENTER
	binary.BigEndian.PutUint16(b[2:], nxConjunctionLength)
	binary.BigEndian.PutUint32(b[4:], nxExperimenter)
	binary.BigEndian.PutUint16(b[8:], nxastConjunction)
	b[nxConjunctionClauseAt] = a.Clause - 1
	b[nxConjunctionClauseAt+1] = a.NClauses
	binary.BigEndian.PutUint32(b[nxConjunctionIDAt:], a.ID)
	return b, nil
}

// decodeConjunction reads a conjunction action; ok is false for a length or clause numbers
// OVS would not send, which stays an UnknownAction.
func decodeConjunction(r []byte) (Conjunction, bool) {
	if len(r) != nxConjunctionLength {
		return Conjunction{}, false
	}
	a := Conjunction{
		ID:       binary.BigEndian.Uint32(r[nxConjunctionIDAt:]),
		Clause:   r[nxConjunctionClauseAt] + 1,
		NClauses: r[nxConjunctionClauseAt+1],
	}
	if a.check() != nil { // a wire clause of 0xff wraps to 0, which check refuses
		return Conjunction{}, false
	}
	return a, true
}

// checkConjunctions enforces OVS's rule that a flow with conjunction actions has no others
// (note aside: OVS allows it, and so does this check, as it does an UnknownAction, left to OVS
// to judge).
func checkConjunctions(actions []Action) error {
	var conj Action
	for _, a := range actions {
		if c, ok := a.(Conjunction); ok {
			conj = c
			break
		}
	}
	if conj == nil {
		return nil
	}
	for _, a := range actions {
		switch a := a.(type) {
		case Conjunction, Note:
			continue
		case UnknownAction:
			if !a.Instruction {
				continue
			}
		}
		return fmt.Errorf("%s: a flow with conjunction actions may have no other actions, not %s", conj, a)
	}
	return nil
}

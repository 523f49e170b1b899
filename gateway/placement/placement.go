package placement

import (
	"cmp"
	"strings"
)

// Claim is one node's binding of a VMI, as far as the rule looks at it.
type Claim struct {
	Node string
	// Stale: the node's heartbeat is older than configdb.StaleAfter.
	Stale bool
	// Since is when the node took the binding's role (role_since: milliseconds since the epoch,
	// never less than one past any role_since of the VMI the node had seen; see configdb).
	Since int64
}

// Compare orders two claims of one VMI, the preferred first (negative when a is preferred): a
// live node before a stale one, then the newer role, then the node name.
func Compare(a, b Claim) int {
	if a.Stale != b.Stale {
		if b.Stale {
			return -1
		}
		return 1
	}
	return cmp.Or(cmp.Compare(b.Since, a.Since), strings.Compare(a.Node, b.Node))
}

// Prefer reports whether claim a wins over b.
func Prefer(a, b Claim) bool { return Compare(a, b) < 0 }

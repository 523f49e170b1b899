package e2e

import (
	"encoding/json"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/trace"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// traceOK runs `ovsgw trace ARGS -o json` against an agent.
func traceOK(t testing.TB, a *testbed.Agent, args ...string) *trace.Result {
	t.Helper()
	out, err := a.CLI(append([]string{"trace", "-o", "json"}, args...)...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	var r trace.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("trace JSON: %v\n%s", err, out)
	}
	return &r
}

// stepNames are a trace's steps on the agent's bridge as "table owner-kind owner-name".
func stepNames(r *trace.Result) []string {
	var out []string
	for _, s := range r.Steps {
		if s.Bridge == r.Bridge {
			out = append(out, s.TableName+" "+s.OwnerKind+" "+s.OwnerName)
		}
	}
	return out
}

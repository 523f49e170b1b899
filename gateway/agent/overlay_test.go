package agent

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
)

// A sync's publish writes only the bindings that changed since the last one, keeps the
// role_since of a role kept and renews that of a role changed; the whole list is compared with
// the node's rows only when the agent does not know what stands there (here: after an error),
// which repairs a row changed behind its back.
func TestPublishBindingsWritesOnlyTheChange(t *testing.T) {
	a := newSyncAgent(t, newFakeSwitch())
	db := configdbtest.NewMemDB(t, "../../schemas/gateway.ovsschema")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	if a.db, err = configdb.Connect(ctx, []string{db.Endpoint}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.db.Close)
	other, err := configdb.Connect(ctx, []string{db.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)

	remote := func(vmi string, vlan uint16) pipeline.Binding {
		return pipeline.Binding{VMI: vmi, Kind: pipeline.BindingRemote, PhysicalInterface: "eth1", VLAN: vlan, Bound: true}
	}
	rows := func() map[string]configdb.BindingState {
		out := map[string]configdb.BindingState{}
		for _, b := range other.Bindings() {
			out[b.VMI+"@"+b.Node] = b
		}
		return out
	}
	waitRows := func(what string, ok func(map[string]configdb.BindingState) bool) map[string]configdb.BindingState {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := rows()
			if ok(r) {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: rows %v", what, r)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	text := func(r map[string]configdb.BindingState) string {
		var s []string
		for _, b := range r {
			s = append(s, fmt.Sprintf("%s@%s:%s/%d", b.VMI, b.Node, b.Role, b.VLAN))
		}
		slices.Sort(s)
		return strings.Join(s, " ")
	}

	a.publishBindings(ctx, []pipeline.Binding{remote("bms1", 100), remote("bms2", 101),
		{VMI: "vm1", Kind: pipeline.BindingLocal, Port: "vm1p", Bound: true},
		{VMI: "peer1", Kind: pipeline.BindingPeer, Node: "gw2", Bound: true}})
	first := waitRows("first publish", func(r map[string]configdb.BindingState) bool { return len(r) == 3 })
	if got, want := text(first), "bms1@gw1:active/100 bms2@gw1:active/101 vm1@gw1:active/0"; got != want {
		t.Fatalf("after the first publish: %s, want %s", got, want)
	}

	// Behind the agent's back, bms2's row changes: the agent, which knows what it wrote, does
	// not read it again.
	if err := other.UpdateBindings(ctx, "gw1", []configdb.BindingState{{VMI: "bms2", Kind: configdb.BindingRemote,
		PhysicalInterface: "eth1", VLAN: 555, Role: configdb.RoleActive, RoleSince: first["bms2@gw1"].RoleSince}}, nil); err != nil {
		t.Fatal(err)
	}
	standby := remote("bms1", 100)
	standby.Bound, standby.Standby = false, true
	time.Sleep(5 * time.Millisecond) // a new role's role_since is a later millisecond
	a.publishBindings(ctx, []pipeline.Binding{standby, remote("bms2", 101), remote("bms3", 102)})
	second := waitRows("second publish", func(r map[string]configdb.BindingState) bool { _, ok := r["bms3@gw1"]; return ok })
	if got, want := text(second), "bms1@gw1:standby/100 bms2@gw1:active/555 bms3@gw1:active/102"; got != want {
		t.Errorf("after the second publish: %s, want %s (bms2 not rewritten, vm1 removed)", got, want)
	}
	if second["bms1@gw1"].RoleSince <= first["bms1@gw1"].RoleSince {
		t.Errorf("bms1's new role kept role_since %d (was %d)", second["bms1@gw1"].RoleSince, first["bms1@gw1"].RoleSince)
	}

	// After an error the agent knows nothing of the rows: it compares them all and repairs bms2,
	// keeping the role_since of roles that did not change.
	a.published = nil
	a.publishBindings(ctx, []pipeline.Binding{standby, remote("bms2", 101), remote("bms3", 102)})
	third := waitRows("full publish", func(r map[string]configdb.BindingState) bool { return r["bms2@gw1"].VLAN == 101 })
	for _, k := range []string{"bms1@gw1", "bms2@gw1", "bms3@gw1"} {
		if third[k].RoleSince != second[k].RoleSince {
			t.Errorf("%s: role_since %d after the full publish, was %d", k, third[k].RoleSince, second[k].RoleSince)
		}
	}
}

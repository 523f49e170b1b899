package unixctl

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/test/testbed"
)

// TestCallsRealVswitchd asks a real ovs-vswitchd for its version and for a datapath purge.
func TestCallsRealVswitchd(t *testing.T) {
	testbed.Require(t)
	node := testbed.NewNode(t, "ctl")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := Call(ctx, node.VswitchdCtl(), "version")
	if err != nil || !strings.Contains(out, "Open vSwitch") {
		t.Fatalf("version: %q, %v", out, err)
	}
	if _, err := Call(ctx, node.VswitchdCtl(), "revalidator/purge"); err != nil {
		t.Fatal(err)
	}
	if _, err := Call(ctx, node.VswitchdCtl(), "no/such-command"); err == nil || !strings.Contains(err.Error(), "not a valid command") {
		t.Fatalf("an unknown command: %v", err)
	}
}

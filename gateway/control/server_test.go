package control

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/trace"
)

type nopBackend struct{}

func (nopBackend) Status(context.Context, bool) Status { return Status{Node: "n1"} }
func (nopBackend) Flows(context.Context, FlowFilter) (*Flows, error) {
	return &Flows{}, nil
}
func (nopBackend) Trace(context.Context, trace.Request) (*trace.Result, error) {
	return &trace.Result{}, nil
}

// TestControlSocketNeverDeletesARegularFile (issue: the control socket path replaced whatever
// was there): a regular file at the socket's path is an error naming it, and stays.
func TestControlSocketNeverDeletesARegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := Serve(ctx, path, nopBackend{})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Serve over a regular file: %v, want an error naming %s", err, path)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
		t.Fatalf("the file at the socket path was changed: %q, %v", b, err)
	}
}

// TestControlSocketIsPrivate: the socket is root's alone (0600), it answers, and the stale socket
// a killed agent left behind is replaced.
func TestControlSocketIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close() // the file stays, nobody listens: what a kill -9 leaves
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := Serve(ctx, path, nopBackend{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v mode %v, want a socket with 0600", err, fi.Mode())
	}
	s, err := NewClient(path).StatusBrief(context.Background())
	if err != nil || s.Node != "n1" {
		t.Fatalf("status over the socket: %v %+v", err, s)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("the socket's directory holds %d entries, want the socket alone", len(entries))
	}
}

// TestControlTraceRefusesAMalformedRequest: a trace request the agent cannot read (an unknown
// field, a wrong type) is an error naming it, and reaches no backend.
func TestControlTraceRefusesAMalformedRequest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := Serve(ctx, path, nopBackend{}); err != nil {
		t.Fatal(err)
	}
	c := NewClient(path)
	for body, want := range map[string]string{
		`{"vmi": "bms1", "dstAddress": "10.1.0.20"}`: `unknown field "dstAddress"`,
		`{"vmi": "bms1", "dstPort": "80"}`:           "dstPort",
	} {
		req, _ := http.NewRequest(http.MethodPost, "http://ovsgw/trace", strings.NewReader(body))
		var res trace.Result
		if err := c.do(req, &res); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %s", body, err, want)
		}
	}
	if res, err := c.Trace(context.Background(), trace.Request{VMI: "bms1"}); err != nil || res == nil {
		t.Errorf("a well-formed request: %v", err)
	}
}

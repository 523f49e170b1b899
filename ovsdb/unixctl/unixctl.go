package unixctl

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// VswitchdSocket finds ovs-vswitchd's control socket in its run directory:
// ovs-vswitchd.<pid>.ctl, with the pid from ovs-vswitchd.pid (as ovs-appctl does).
func VswitchdSocket(runDir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(runDir, "ovs-vswitchd.pid"))
	if err != nil {
		return "", fmt.Errorf("find ovs-vswitchd's control socket: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return "", fmt.Errorf("find ovs-vswitchd's control socket: bad pid file: %w", err)
	}
	return filepath.Join(runDir, fmt.Sprintf("ovs-vswitchd.%d.ctl", pid)), nil
}

type request struct {
	ID     int      `json:"id"`
	Method string   `json:"method"`
	Params []string `json:"params"`
}

type reply struct {
	ID     int             `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// Call runs one command on the daemon listening at socket and returns its text output.
func Call(ctx context.Context, socket, method string, params ...string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return "", fmt.Errorf("unixctl %s: %w", method, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if params == nil {
		params = []string{}
	}
	if err := json.NewEncoder(conn).Encode(request{ID: 0, Method: method, Params: params}); err != nil {
		return "", fmt.Errorf("unixctl %s: %w", method, err)
	}
	var r reply
	if err := json.NewDecoder(conn).Decode(&r); err != nil {
		return "", fmt.Errorf("unixctl %s: %w", method, err)
	}
	if len(r.Error) > 0 && string(r.Error) != "null" {
		var msg string
		json.Unmarshal(r.Error, &msg)
		return "", fmt.Errorf("unixctl %s: %s", method, strings.TrimSpace(msg))
	}
	var out string
	json.Unmarshal(r.Result, &out)
	return out, nil
}

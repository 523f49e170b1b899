package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/ovsgw/ovsgw/gateway/trace"
)

// Client talks to a running agent's control socket.
type Client struct {
	path string
	http *http.Client
}

// NewClient returns a client of the socket at path.
func NewClient(path string) *Client {
	return &Client{path: path, http: &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}},
	}}
}

// Status fetches the agent's status.
func (c *Client) Status(ctx context.Context, counters bool) (*Status, error) {
	var s Status
	path := "/status"
	if !counters {
		path += "?counters=false"
	}
	return &s, c.get(ctx, path, &s)
}

// StatusBrief fetches the agent's status without drop counters and without the list of
// bindings (their counts stay): what a poll needs, at a fraction of the cost at scale.
func (c *Client) StatusBrief(ctx context.Context) (*Status, error) {
	var s Status
	return &s, c.get(ctx, "/status?counters=false&bindings=false", &s)
}

// Flows fetches the bridge's flows, annotated and filtered.
func (c *Client) Flows(ctx context.Context, f FlowFilter) (*Flows, error) {
	q := url.Values{}
	for k, v := range map[string]string{"vmi": f.VMI, "vn": f.VN, "table": f.Table} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var fl Flows
	return &fl, c.get(ctx, "/flows?"+q.Encode(), &fl)
}

// Trace asks the agent to trace the packet a VMI would send through the bridge.
func (c *Client) Trace(ctx context.Context, r trace.Request) (*trace.Result, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://ovsgw/trace", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	var res trace.Result
	return &res, c.do(req, &res)
}

// Profile writes one of the agent's Go profiles to w: "cpu" over the given time, or "heap",
// "allocs", "goroutine" as they are now (pprof format, for go tool pprof).
func (c *Client) Profile(ctx context.Context, kind string, seconds int, w io.Writer) error {
	path := "/debug/pprof/" + kind
	if kind == "cpu" {
		path = fmt.Sprintf("/debug/pprof/profile?seconds=%d", seconds)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://ovsgw"+path, nil)
	if err != nil {
		return err
	}
	hc := *c.http
	hc.Timeout = 0 // a CPU profile takes its seconds; ctx bounds it
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("agent control socket %s: %w (is the agent running?)", c.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("agent: %s profile: %s", kind, resp.Status)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

func (c *Client) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://ovsgw"+path, nil)
	if err != nil {
		return err
	}
	return c.do(req, v)
}

// do sends a request and decodes the JSON answer into v, or the agent's error.
func (c *Client) do(req *http.Request, v any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("agent control socket %s: %w (is the agent running?)", c.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("agent: %s", e.Error)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

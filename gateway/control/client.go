package control

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
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

func (c *Client) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://ovsgw"+path, nil)
	if err != nil {
		return err
	}
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

package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Backend is what the agent provides to the control socket.
type Backend interface {
	// Status reports the agent's state; with counters it also reads the bridge's drop counters
	// (a dump of every flow, which costs time at scale).
	Status(ctx context.Context, counters bool) Status
	Flows(ctx context.Context, f FlowFilter) (*Flows, error)
}

// Serve answers requests on a unix socket at path until ctx ends. A stale socket file from a
// previous run is replaced; a live one (another agent) is an error.
func Serve(ctx context.Context, path string, b Backend) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: another agent is listening there", path)
	}
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		reply(w, b.Status(r.Context(), r.URL.Query().Get("counters") != "false"), nil)
	})
	mux.HandleFunc("GET /flows", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f, err := b.Flows(r.Context(), FlowFilter{VMI: q.Get("vmi"), VN: q.Get("vn"), Table: q.Get("table")})
		reply(w, f, err)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: requestTimeout}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		srv.Shutdown(shut)
		os.Remove(path)
	}()
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "control socket: %v\n", err)
		}
	}()
	return nil
}

// requestTimeout bounds one CLI request; a flow dump of 10K flows takes well under a second.
const requestTimeout = 10 * time.Second

type errorBody struct {
	Error string `json:"error"`
}

func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(errorBody{Error: err.Error()})
		return
	}
	json.NewEncoder(w).Encode(v)
}

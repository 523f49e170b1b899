package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"time"

	"github.com/ovsgw/ovsgw/gateway/trace"
)

// Backend is what the agent provides to the control socket.
type Backend interface {
	// Status reports the agent's state; with counters it also reads the bridge's drop counters
	// (a dump of every flow, which costs time at scale).
	Status(ctx context.Context, counters bool) Status
	Flows(ctx context.Context, f FlowFilter) (*Flows, error)
	// Trace has ovs-vswitchd trace the packet a VMI would send, and explains each step.
	Trace(ctx context.Context, r trace.Request) (*trace.Result, error)
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
	switch fi, err := os.Lstat(path); {
	case err == nil && fi.Mode()&os.ModeSocket == 0:
		return fmt.Errorf("control socket %s: a %s is there, not a socket; move it away or set [DEFAULT] control_socket", path, kind(fi))
	case err == nil:
		os.Remove(path) // a socket nobody listens on: a previous run's
	}
	l, err := listenPrivate(path)
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		s := b.Status(r.Context(), q.Get("counters") != "false")
		if q.Get("bindings") == "false" {
			s.Bindings = nil // at thousands of VMIs, most of the reply
		}
		reply(w, s, nil)
	})
	mux.HandleFunc("GET /flows", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f, err := b.Flows(r.Context(), FlowFilter{VMI: q.Get("vmi"), VN: q.Get("vn"), Table: q.Get("table")})
		reply(w, f, err)
	})
	mux.HandleFunc("POST /trace", func(w http.ResponseWriter, r *http.Request) {
		var req trace.Request
		dec := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			reply(w, nil, fmt.Errorf("trace request: %w", err))
			return
		}
		res, err := b.Trace(r.Context(), req)
		reply(w, res, err)
	})
	// Go's profiles of the agent (CPU, heap, goroutines), for `ovsgw profile`: the socket is
	// root's alone, like the rest of it.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	// No write timeout: a CPU profile takes its seconds. Idle connections are closed.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: requestTimeout, IdleTimeout: idleTimeout}
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

// listenPrivate listens on a unix socket at path that is never reachable by anyone but its
// owner: it is bound in a fresh directory of mode 0700, made 0600, and only then renamed into
// place (a chmod after binding at path would leave a moment when anyone could connect).
func listenPrivate(path string) (net.Listener, error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".ovsgw-ctl-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false) // it lives at path, which Serve removes at the end
	if err := os.Chmod(tmp, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// kind names what a file is, for errors.
func kind(fi os.FileInfo) string {
	switch {
	case fi.IsDir():
		return "directory"
	case fi.Mode()&os.ModeSymlink != 0:
		return "symbolic link"
	case fi.Mode().IsRegular():
		return "regular file"
	}
	return "file"
}

// requestTimeout bounds one CLI request; a flow dump of 10K flows takes well under a second.
const requestTimeout = 10 * time.Second

// maxRequestBody bounds a request's body (a trace request is a few hundred bytes).
const maxRequestBody = 64 << 10

// idleTimeout closes a client connection that sent nothing for this long.
const idleTimeout = time.Minute

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

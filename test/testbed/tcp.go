package testbed

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// tcpWait is how long a TCP check waits for a connection: well above a LAN round trip, short
// enough that a check that must fail does not slow the suite.
const tcpWait = 2 * time.Second

// listen starts a one-shot netcat listener on server's port writing what it reads to a file,
// and waits until the port is open, so that a failed connection cannot be blamed on a listener
// that was not ready.
func listen(t T, server *Host, port int) (*Proc, string, error) {
	f, err := os.CreateTemp("", "ovsgw-tcp-")
	if err != nil {
		return nil, "", err
	}
	f.Close()
	t.Cleanup(func() { os.Remove(f.Name()) })
	p := strconv.Itoa(port)
	srv := server.Start(t, f.Name(), nil, "nc.openbsd", "-l", p)
	err = waitFor(5*time.Second, func() error {
		out, err := server.Exec("ss", "-Htln", "sport", "= :"+p)
		if err == nil && strings.Contains(out, ":"+p) {
			return nil
		}
		return fmt.Errorf("port %s not listening on %s", p, server.Name)
	})
	return srv, f.Name(), err
}

// TCP sends a short message from h to a fresh listener on server's port and checks it arrived.
func (h *Host) TCP(t T, server *Host, port int) error {
	msg := "hello from " + h.Name + "\n"
	srv, file, err := listen(t, server, port)
	if err != nil {
		return err
	}
	defer srv.Stop()
	p := strconv.Itoa(port)
	if out, err := h.ExecInput(msg, 15*time.Second, "nc.openbsd", "-N", "-w", strconv.Itoa(int(tcpWait.Seconds())), server.IP, p); err != nil {
		return fmt.Errorf("tcp %s -> %s:%s: %v %s", h.Name, server.IP, p, err, out)
	}
	if !srv.wait(5 * time.Second) {
		return fmt.Errorf("tcp %s -> %s:%s: listener did not finish", h.Name, server.IP, p)
	}
	if data, _ := os.ReadFile(file); string(data) != msg {
		return fmt.Errorf("tcp %s -> %s:%s: listener read %q, want %q", h.Name, server.IP, p, data, msg)
	}
	return nil
}

// TCPBlocked checks that a connection from h to a listening port of server times out: the SYN
// (or its answer) is dropped on the way. A refused or completed connection is an error.
func (h *Host) TCPBlocked(t T, server *Host, port int) error {
	srv, _, err := listen(t, server, port)
	if err != nil {
		return err
	}
	defer srv.Stop()
	p := strconv.Itoa(port)
	out, err := h.ExecTimeout(15*time.Second, "nc.openbsd", "-z", "-w", strconv.Itoa(int(tcpWait.Seconds())), server.IP, p)
	switch {
	case err == nil:
		return fmt.Errorf("tcp %s -> %s:%s connected, want it blocked", h.Name, server.IP, p)
	case strings.Contains(out, "refused"):
		return fmt.Errorf("tcp %s -> %s:%s refused (a reset came back), want it blocked: %s", h.Name, server.IP, p, out)
	}
	return nil
}

// Session is a TCP connection from a client host to a listener that stays open, so that a test
// can send lines over it before and after changing something.
type Session struct {
	client *Proc
	fifo   string
	file   string
	srv    *Proc
	w      *os.File
}

// OpenSession connects h to a listener on server's port; lines written with Send arrive in the
// listener's output (Received).
func (h *Host) OpenSession(t T, server *Host, port int) (*Session, error) {
	srv, file, err := listen(t, server, port)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ovsgw-session-")
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	fifo := dir + "/in"
	if out, err := h.Exec("mkfifo", fifo); err != nil {
		return nil, fmt.Errorf("mkfifo: %v %s", err, out)
	}
	client := h.Start(t, "", nil, "sh", "-c", "exec nc.openbsd "+server.IP+" "+strconv.Itoa(port)+" < "+fifo)
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // blocks until nc opens it
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { w.Close() })
	return &Session{client: client, fifo: fifo, file: file, srv: srv, w: w}, nil
}

// Send writes a line into the connection.
func (s *Session) Send(line string) error {
	_, err := s.w.WriteString(line + "\n")
	return err
}

// Received waits up to timeout for the listener to have read line.
func (s *Session) Received(line string, timeout time.Duration) error {
	return waitFor(timeout, func() error {
		data, _ := os.ReadFile(s.file)
		if strings.Contains(string(data), line+"\n") {
			return nil
		}
		return fmt.Errorf("listener has read %q, not %q", data, line)
	})
}

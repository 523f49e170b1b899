package testbed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long Stop waits after SIGTERM before it sends SIGKILL.
const stopGrace = 5 * time.Second

// Proc is a background process started by [NS.Start]. Pid is the program's
// own pid, because `ip netns exec` execs the program rather than forking it.
type Proc struct {
	Pid  int
	Args []string // the program and its arguments, without the ip netns exec prefix

	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has been reaped
	waitErr error         // valid after done is closed

	stopOnce sync.Once
	stopErr  error
}

// startProc starts args inside namespace ns, with stdout and stderr
// appended to logPath ("" discards them) and env added to ours.
func startProc(ns string, logPath string, env []string, args []string) (*Proc, error) {
	if len(args) == 0 {
		return nil, errors.New("no command")
	}
	out, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if logPath != "" {
		out, err = os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	}
	if err != nil {
		return nil, err
	}
	full := append([]string{"netns", "exec", ns}, args...)
	cmd := exec.Command(bin("ip"), full...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	// If the test binary dies without running cleanups (timeout panic,
	// SIGKILL) the daemons must not outlive it.
	// Its own process group, so that the children it starts (ovs-vtep runs vtep-ctl and
	// ovs-vsctl) can be stopped with it: an orphaned one was seen hanging for half an hour and
	// stalling every later emulator.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", strings.Join(args, " "), err)
	}
	p := &Proc{Pid: cmd.Process.Pid, Args: args, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has ended, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Stop ends the process: SIGTERM, then SIGKILL if it is still there after a
// few seconds. Signals go through the os.Process of the pid we started
// (a pidfd on Linux), so a reused pid is never hit. Stop is idempotent and
// returns nil if the process had already exited.
func (p *Proc) Stop() error {
	p.stopOnce.Do(func() { p.stopErr = p.stop() })
	return p.stopErr
}

func (p *Proc) stop() error {
	if p.signal(syscall.SIGTERM) && p.wait(stopGrace) {
		p.killGroup()
		return nil
	}
	return p.Kill()
}

// killGroup ends what is left of the process's group once the process is gone: the children it
// started and did not wait for. The group is the one of the pid we started (it leads it).
func (p *Proc) killGroup() {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
}

// Kill sends SIGKILL and waits for the process to be gone. Crash tests use
// it to take a daemon away without letting it clean up.
func (p *Proc) Kill() error {
	p.signal(syscall.SIGKILL)
	if !p.wait(stopGrace) {
		return fmt.Errorf("pid %d (%s) survived SIGKILL", p.Pid, p.Args[0])
	}
	p.killGroup()
	return nil
}

// signal reports false when the process has already ended.
func (p *Proc) signal(sig syscall.Signal) bool {
	if done, _ := p.Exited(); done {
		return false
	}
	return !errors.Is(p.cmd.Process.Signal(sig), os.ErrProcessDone)
}

func (p *Proc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

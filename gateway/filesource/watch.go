package filesource

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ovsgw/ovsgw/logging"
)

// watchMask is what the directory watch reports: every way a file's content or presence
// changes, and the loss of the watch itself. Our own reads (IN_OPEN, IN_ACCESS,
// IN_CLOSE_NOWRITE) are not asked for, so they never look like a change.
const watchMask = unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_CREATE | unix.IN_DELETE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
	unix.IN_ONLYDIR | unix.IN_EXCL_UNLINK

// eventBufSize holds about 2,000 events with short names per read(2); the kernel queues up
// to fs.inotify.max_queued_events (16,384 by default) before it reports an overflow.
const eventBufSize = 64 << 10

// watch is an inotify instance watching the source's directory.
type watch struct {
	fd   int
	file *os.File // the same fd, in Go's poller, so that Run waits without holding a thread
	buf  []byte
	lost bool // the watch ended (directory removed or moved, filesystem unmounted, read error)
}

// Run watches the directory with inotify and fires Changed when Reload has something to
// read, until ctx ends. When the watch cannot be set up or is lost, it falls back to a poll
// every pollInterval and tries to watch again at each one.
func (s *Source) Run(ctx context.Context) {
	polled := make(chan struct{})
	go func() { defer close(polled); s.poll(ctx) }()
	defer func() { <-polled }()
	warned := false
	for ctx.Err() == nil {
		w, err := s.startWatch()
		if err != nil {
			if !warned {
				log.WithError(err).WithField(logging.Config, s.path).Warnf("cannot watch the config: polling it every %v", s.opts.poll)
				warned = true
			}
		} else {
			warned = false
			s.serve(ctx, w)
			if ctx.Err() == nil {
				log.WithField(logging.Config, s.path).Warnf("the watch on %s ended: polling every %v until it can be set up again", s.dir, s.opts.poll)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(s.opts.poll):
		}
	}
}

// startWatch sets up the inotify watch on the directory.
func (s *Source) startWatch() (*watch, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, s.dir, watchMask); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("inotify watch on %s: %w", s.dir, err)
	}
	w := &watch{fd: fd, file: os.NewFile(uintptr(fd), "inotify:"+s.dir), buf: make([]byte, eventBufSize)}
	if err := w.file.SetReadDeadline(time.Time{}); err != nil { // not in the poller: cannot wait on it
		w.file.Close()
		return nil, fmt.Errorf("inotify fd: %w", err)
	}
	return w, nil
}

// serve makes w the source's watch and handles its events until ctx ends or the watch is
// lost. Events that arrived before the watch existed are unknown: the first Reload rescans.
func (s *Source) serve(ctx context.Context, w *watch) {
	s.mu.Lock()
	s.ino, s.rescan = w, true
	s.epoch++
	s.mu.Unlock()
	s.notify()
	stop := context.AfterFunc(ctx, func() { w.file.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	if rc, err := w.file.SyscallConn(); err == nil {
		// Read calls the function when the fd is readable, until it returns true or the
		// deadline (ctx ended, or drain lost the watch) passes.
		rc.Read(func(uintptr) bool {
			s.mu.Lock()
			s.drain()
			kick, lost := s.kick, w.lost
			s.kick = false
			s.mu.Unlock()
			if kick {
				s.notify()
			}
			return lost
		})
	}
	s.mu.Lock()
	s.ino = nil
	s.rescan = true
	s.mu.Unlock()
	w.file.Close()
}

// poll fires Changed every pollInterval while the directory is not watched, or while a file
// is a symlink whose target no watch covers.
func (s *Source) poll(ctx context.Context) {
	t := time.NewTicker(s.opts.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		due := !s.watching() || s.symlinks > 0
		if due {
			s.rescan = true
		}
		s.mu.Unlock()
		if due {
			s.notify()
		}
	}
}

// watching reports whether events tell what changed (otherwise Reload stats every file).
func (s *Source) watching() bool { return s.ino != nil && !s.ino.lost }

// drain reads every queued event and records what it says, without blocking. Called with
// s.mu held, before and after each file read: the kernel queues a writer's event within its
// syscall, so what drain does not find had not happened when drain ran (see doc.go).
func (s *Source) drain() {
	w := s.ino
	if w == nil || w.lost {
		return
	}
	for {
		n, err := unix.Read(w.fd, w.buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return
		case err != nil:
			s.loseWatch(fmt.Errorf("reading inotify events: %w", err))
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			mask := binary.NativeEndian.Uint32(w.buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(w.buf[off+12:]))
			name := w.buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+nameLen]
			for len(name) > 0 && name[len(name)-1] == 0 { // the kernel pads names with NULs
				name = name[:len(name)-1]
			}
			s.event(mask, string(name))
			off += unix.SizeofInotifyEvent + nameLen
		}
		if w.lost {
			return
		}
	}
}

// event records one inotify event.
func (s *Source) event(mask uint32, name string) {
	switch {
	case mask&unix.IN_Q_OVERFLOW != 0:
		log.WithField(logging.Config, s.path).Warn("inotify queue overflow: events were lost; every file is checked again")
		s.lostEvents()
		return
	case mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_UNMOUNT) != 0:
		s.loseWatch(fmt.Errorf("%s was removed, moved or unmounted", s.dir))
		return
	case mask&unix.IN_ISDIR != 0:
		return
	}
	if !s.wanted(name) {
		if s.symlinks > 0 && mask&unix.IN_MODIFY == 0 {
			// A symlink swap beside the files (Kubernetes ConfigMap volumes rename "..data")
			// changes what the symlinked files read without an event naming them.
			for n, f := range s.files {
				if f.symlink {
					s.seq[n]++
					s.dirty[n] = true
				}
			}
			s.kick = true
		}
		return
	}
	s.seq[name]++
	switch {
	case mask&unix.IN_MODIFY != 0: // a writer truncated or wrote it: wait for its close
		s.writing[name] = true
		return
	case mask&unix.IN_CREATE != 0 && s.noLease:
		// Created by an open: its writer's close-write brings it. Without leases nothing
		// else tells that the writer is done.
		s.writing[name] = true
		s.dirty[name] = true
		return
	}
	// IN_CLOSE_WRITE: its writer closed it. IN_MOVED_TO: renamed into place, complete.
	// IN_MOVED_FROM, IN_DELETE: gone. IN_CREATE (with leases): the lease tells whether its
	// creator still has it open.
	delete(s.writing, name)
	s.dirty[name] = true
	s.kick = true
}

// lostEvents handles an event queue overflow: what happened to which file is unknown.
func (s *Source) lostEvents() {
	s.epoch++
	s.rescan, s.kick = true, true
	clear(s.writing) // a lost close event would otherwise keep a file unread forever
}

// loseWatch records that the watch ended and wakes Run, which falls back to polling.
func (s *Source) loseWatch(err error) {
	if s.ino.lost {
		return // its other events say the same
	}
	log.WithError(err).WithField(logging.Config, s.path).Warn("config watch lost")
	s.lostEvents()
	s.ino.lost = true
	s.ino.file.SetReadDeadline(time.Unix(1, 0))
}

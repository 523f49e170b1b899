package filesource

import (
	"errors"

	"golang.org/x/sys/unix"
)

// fileStat is what the fallback poll compares to tell that a file may have changed.
type fileStat struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // ns since the epoch
}

func statOf(st *unix.Stat_t) fileStat {
	return fileStat{dev: st.Dev, ino: st.Ino, size: st.Size,
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
}

// statFile stats a path, following symlinks.
func statFile(path string) (fileStat, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fileStat{}, err
	}
	return statOf(&st), nil
}

// readResult says what came of an attempt to read a file.
type readResult int

const (
	readOK   readResult = iota // data is a consistent content (or err says why it is unreadable)
	readGone                   // no such file, or not a regular file: not part of the config
	readBusy                   // a process holds it open for writing: try again later
	readTorn                   // an event for it arrived while it was read: read again later
)

// readOut is the outcome of readFile.
type readOut struct {
	data    []byte
	stat    fileStat
	symlink bool
	res     readResult
	err     error
}

// readFile reads one file whole, under a read lease when leases are available, and checks
// that no event for it arrived meanwhile. doc.go explains why the content is then consistent.
func (s *Source) readFile(name string) readOut {
	seq, epoch := s.seq[name], s.epoch
	full := s.full(name)
	var o readOut
	var lst unix.Stat_t
	o.symlink = unix.Lstat(full, &lst) == nil && lst.Mode&unix.S_IFMT == unix.S_IFLNK
	fd, err := openRead(full)
	switch {
	case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP):
		o.res = readGone
		return o
	case errors.Is(err, unix.EWOULDBLOCK): // another process's write lease: our open would break it
		o.res = readBusy
		return o
	case err != nil:
		o.err = err
		return o
	}
	o.res, o.err = s.readLocked(fd, &o)
	unix.Close(fd)
	if o.res == readOK && o.err == nil {
		s.drain()
		if s.seq[name] != seq || s.epoch != epoch {
			o.res, o.data = readTorn, nil
		}
	}
	return o
}

// readLocked takes a read lease on fd (when leases are available), reads the file whole and
// releases the lease.
func (s *Source) readLocked(fd int, o *readOut) (readResult, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return readOK, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return readGone, nil
	}
	if !s.noLease {
		_, err := unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_RDLCK)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return readBusy, nil // open for writing by some process, right now
		case err != nil:
			s.noLease = true
			log.WithError(err).Warn("file leases are unavailable here: half-written files are told apart by inotify events only (see the package doc)")
		default:
			defer unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_UNLCK)
			if err := unix.Fstat(fd, &st); err != nil { // the stat under the lease is the one read
				return readOK, err
			}
		}
	}
	o.stat = statOf(&st)
	buf := make([]byte, 0, st.Size+1) // +1: EOF is seen without growing
	for {
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return readOK, err
		}
		if n == 0 {
			break
		}
		buf = buf[:len(buf)+n]
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
	o.data = buf
	return readOK, nil
}

// openRead opens a file to read it: non-blocking, so that a FIFO or another process's write
// lease cannot stall us.
func openRead(path string) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

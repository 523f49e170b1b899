package ovstls

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxFileSize bounds a key, certificate or CA file. A PEM certificate or key is a few KB; a CA
// bundle of every public root about 200 KB. 1 MiB leaves room for any of them and keeps a wrong
// path (a disk image, a log) from filling memory.
const MaxFileSize = 1 << 20

// FileStamp identifies one version of a file: which file it is (device and inode, which a
// rename over it changes), when its data and its inode last changed, and its size.
type FileStamp struct {
	dev, ino     uint64
	mtime, ctime int64 // nanoseconds
	size         int64
}

func stampOf(fi fs.FileInfo) FileStamp {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return FileStamp{mtime: fi.ModTime().UnixNano(), size: fi.Size()}
	}
	return FileStamp{dev: uint64(st.Dev), ino: st.Ino, mtime: fi.ModTime().UnixNano(),
		ctime: st.Ctim.Nano(), size: fi.Size()}
}

// statFile returns the stamp of the file at path now (following symbolic links), without
// opening it.
func statFile(path string) (FileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return FileStamp{}, err
	}
	return stampOf(fi), nil
}

// ReadFile reads the regular file at path, or a symbolic link to one, of at most limit bytes,
// and returns its content with the stamp of the version read. Anything else is an error that
// names the path and what is there, found before the file is read: a FIFO or a device is
// never opened for reading (opening some devices has effects), and a file swapped for one
// between that check and the open is still refused, as the open does not block
// (O_NONBLOCK) and the opened file is checked again.
func ReadFile(path string, limit int64) ([]byte, FileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, FileStamp{}, err
	}
	if err := checkRegular(path, fi, limit); err != nil {
		return nil, FileStamp{}, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, FileStamp{}, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, FileStamp{}, err
	}
	if err := checkRegular(path, fi, limit); err != nil {
		return nil, FileStamp{}, err
	}
	// A file that grows while it is read is cut at limit+1 bytes and refused.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, FileStamp{}, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, FileStamp{}, fmt.Errorf("%s grew beyond %d bytes while it was read, the most a key, certificate or CA file may have", path, limit)
	}
	return data, stampOf(fi), nil
}

func checkRegular(path string, fi fs.FileInfo, limit int64) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is %s, not a regular file", path, describeMode(fi.Mode()))
	}
	if fi.Size() > limit {
		return fmt.Errorf("%s is %d bytes, more than the %d a key, certificate or CA file may have", path, fi.Size(), limit)
	}
	return nil
}

// describeMode says what a file that is not a regular file is.
func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	default:
		return fmt.Sprintf("a special file (mode %v)", m)
	}
}

package ovstls

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKeyPathThatIsNotARegularFileIsRefusedWithoutBlocking: what a key, certificate or CA path
// may hold besides a regular file — a FIFO nobody writes (which froze the agent: reading it
// blocks forever), a device that never ends (/dev/zero ran the agent out of memory), a
// directory, a socket, a file too large — is refused at once, with the path and what it is;
// a symbolic link to a regular file is read.
func TestKeyPathThatIsNotARegularFileIsRefusedWithoutBlocking(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	large := filepath.Join(dir, "large.pem")
	if err := os.WriteFile(large, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(large, MaxFileSize+1); err != nil { // sparse: costs no disk
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "key.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	regular := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(regular, []byte("PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.pem")
	if err := os.Symlink(regular, link); err != nil {
		t.Fatal(err)
	}
	fifoLink := filepath.Join(dir, "fifo-link.pem")
	if err := os.Symlink(fifo, fifoLink); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ name, path, want string }{
		{"a FIFO", fifo, fifo + " is a named pipe (FIFO), not a regular file"},
		{"a symbolic link to a FIFO", fifoLink, fifoLink + " is a named pipe (FIFO), not a regular file"},
		{"/dev/zero", "/dev/zero", "/dev/zero is a character device, not a regular file"},
		{"a directory", dir, dir + " is a directory, not a regular file"},
		{"a socket", sock, sock + " is a socket, not a regular file"},
		{"a file too large", large, large + " is 1048577 bytes, more than the 1048576 a key, certificate or CA file may have"},
		{"a missing file", filepath.Join(dir, "none.pem"), "no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { _, _, err := ReadFile(tc.path, MaxFileSize); done <- err }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("ReadFile(%s): %v, want an error saying %q", tc.path, err, tc.want)
				}
			case <-time.After(2 * time.Second):
				t.Fatalf("ReadFile(%s) blocked", tc.path)
			}
		})
	}
	t.Run("a symbolic link to a regular file", func(t *testing.T) {
		data, stamp, err := ReadFile(link, MaxFileSize)
		if err != nil || string(data) != "PEM" {
			t.Fatalf("ReadFile(%s) = %q, %v", link, data, err)
		}
		if want, _ := statFile(regular); stamp != want {
			t.Errorf("stamp %+v, want the target's %+v", stamp, want)
		}
	})
}

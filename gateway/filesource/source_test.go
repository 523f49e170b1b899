package filesource

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/model"
)

func TestDirMergesRoutersAndInterfacesAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "00-base.yaml"), baseYAML)
	writeFile(t, filepath.Join(dir, "a.yaml"), instanceYAML(1, 0))
	writeFile(t, filepath.Join(dir, "b.yaml"), instanceYAML(2, 0)+`    securityGroups: [web]
securityGroups:
  - name: web
`)
	writeFile(t, filepath.Join(dir, "c.yaml"), instanceYAML(2048, 0)) // on eth2
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Config()
	if err := c.Validate(); err != nil {
		t.Fatalf("merged config invalid: %v", err)
	}
	if len(c.PhysicalRouters) != 1 {
		t.Fatalf("want gw1 once, got %d routers", len(c.PhysicalRouters))
	}
	var got []string
	for _, pi := range c.PhysicalRouters[0].PhysicalInterfaces {
		for _, li := range pi.LogicalInterfaces {
			got = append(got, pi.Name+"/"+li.Name)
		}
	}
	if want := []string{"eth1/li-1", "eth1/li-2", "eth2/li-2048"}; !slices.Equal(got, want) {
		t.Fatalf("logical interfaces %v, want %v (file-name order, one eth1)", got, want)
	}
	if want := []string{"vmi-1", "vmi-2", "vmi-2048"}; !slices.Equal(vmiNames(c), want) {
		t.Fatalf("VMIs %v, want %v", vmiNames(c), want)
	}
	if len(c.VirtualNetworks) != 1 || len(c.SecurityGroups) != 1 {
		t.Fatalf("VNs %d, SGs %d: want 1 and 1", len(c.VirtualNetworks), len(c.SecurityGroups))
	}
}

func TestMergeLeavesDuplicatesToValidate(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  string // in the validation error
	}{
		{"same VN in two files", map[string]string{"a.yaml": baseYAML, "b.yaml": baseYAML}, `"blue" is used by another virtual network`},
		{"router twice in one file", map[string]string{"a.yaml": baseYAML + "physicalRouters:\n  - name: gw1\n    physicalInterfaces: []\n  - name: gw1\n    physicalInterfaces: []\n"}, `"gw1" is used by another`},
		{"same VMI in two files", map[string]string{"0.yaml": baseYAML, "a.yaml": instanceYAML(1, 0), "b.yaml": instanceYAML(1, 1)}, "vmi-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tc.files {
				writeFile(t, filepath.Join(dir, name), text)
			}
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Config().Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want a validation error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestMergeDoesNotModifyParts(t *testing.T) {
	a := mustParse(t, instanceYAML(1, 0))
	b := mustParse(t, instanceYAML(2, 0))
	aCopy, bCopy := mustParse(t, instanceYAML(1, 0)), mustParse(t, instanceYAML(2, 0))
	m1 := merge([]*model.Config{a, b})
	m2 := merge([]*model.Config{a, b})
	m1.PhysicalRouters[0].PhysicalInterfaces[0].LogicalInterfaces[0].Name = "changed"
	if !reflect.DeepEqual(a, aCopy) || !reflect.DeepEqual(b, bCopy) {
		t.Fatal("merge modified its parts")
	}
	if m2.PhysicalRouters[0].PhysicalInterfaces[0].LogicalInterfaces[0].Name != "li-1" {
		t.Fatal("two merges share a logical interface list")
	}
}

func TestDirFileRemovalDropsItsObjects(t *testing.T) {
	for _, watched := range []bool{false, true} {
		t.Run(fmt.Sprintf("watched=%v", watched), func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "00-base.yaml"), baseYAML)
			writeFile(t, filepath.Join(dir, "a.yaml"), instanceYAML(1, 0))
			writeFile(t, filepath.Join(dir, "b.yaml"), instanceYAML(2, 0))
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if watched {
				run(t, s)
			}
			if err := os.Remove(filepath.Join(dir, "b.yaml")); err != nil {
				t.Fatal(err)
			}
			if !watched {
				changed, err := s.Reload(false)
				if err != nil || !changed {
					t.Fatalf("Reload after a removal: changed %v, %v", changed, err)
				}
			}
			reloadUntil(t, s, "vmi-2 to go", func(c *model.Config) bool { return slices.Equal(vmiNames(c), []string{"vmi-1"}) })
			if lis := s.Config().PhysicalRouters[0].PhysicalInterfaces[0].LogicalInterfaces; len(lis) != 1 || lis[0].Name != "li-1" {
				t.Fatalf("logical interfaces %+v, want li-1 only", lis)
			}
		})
	}
}

func TestParseErrorNamesFileAndKeepsConfig(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "00-base.yaml"), baseYAML)
	writeFile(t, filepath.Join(dir, "a.yaml"), instanceYAML(1, 0))
	writeFile(t, filepath.Join(dir, "b.yaml"), instanceYAML(2, 0))
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	before := s.Config()
	// A good change to a.yaml and a broken b.yaml: neither is put in force.
	writeFile(t, filepath.Join(dir, "a.yaml"), instanceYAML(1, 1))
	writeFile(t, filepath.Join(dir, "b.yaml"), "virtualMachineInterfaces:\n  - name: x\n   network: blue\n")
	var rerr error
	reloadUntilErr := func() {
		for range 100 {
			waitChanged(t, s)
			if _, rerr = s.Reload(false); rerr != nil {
				return
			}
		}
	}
	reloadUntilErr()
	if rerr == nil || !strings.Contains(rerr.Error(), filepath.Join(dir, "b.yaml")) || !strings.Contains(rerr.Error(), "yaml: line ") {
		t.Fatalf("want an error naming b.yaml and a line, got %v", rerr)
	}
	if s.Config() != before {
		t.Fatal("the config in force changed although b.yaml does not parse")
	}
	// It stays refused while b.yaml is broken, whatever else changes.
	writeFile(t, filepath.Join(dir, "a.yaml"), instanceYAML(1, 2))
	waitChanged(t, s)
	if changed, err := s.Reload(false); changed || err == nil || !strings.Contains(err.Error(), "b.yaml") {
		t.Fatalf("with b.yaml still broken: changed %v, err %v", changed, err)
	}
	// Opening it fails the same way.
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "b.yaml") {
		t.Fatalf("Open of a directory with a broken file: %v", err)
	}
	writeFile(t, filepath.Join(dir, "b.yaml"), instanceYAML(2, 1))
	reloadUntil(t, s, "the fixed config", func(c *model.Config) bool {
		return len(c.VirtualMachineInterfaces) == 2 && c.VirtualMachineInterfaces[0].InstanceIPs[0].Address == "10.2.0.2" &&
			c.VirtualMachineInterfaces[1].InstanceIPs[0].Address == "10.1.0.3"
	})
}

func TestDirIgnoresHiddenTempAndOtherEntries(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), baseYAML)
	junk := []string{".hidden.yaml", ".#a.yaml", "#a.yaml#", "a.yaml~", "a.yaml.swp", ".a.yaml.swx", "a.yaml.tmp", "notes.txt", "b.yml", ".yaml"}
	for _, name := range junk {
		writeFile(t, filepath.Join(dir, name), "not: [valid")
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "sub.yaml", "x.yaml"), "not: [valid")
	var parses parseCounter
	s, err := openWith(dir, options{onParse: parses.hook})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Config(), merge([]*model.Config{mustParse(t, baseYAML)})) {
		t.Fatalf("config %+v, want a.yaml's only", s.Config())
	}
	if got := parses.take(); !reflect.DeepEqual(got, map[string]int{"a.yaml": 1}) {
		t.Fatalf("parsed %v, want a.yaml once", got)
	}
	run(t, s)
	for _, name := range junk {
		writeFile(t, filepath.Join(dir, name), "still: [not valid")
	}
	writeFile(t, filepath.Join(dir, "sub.yaml", "x.yaml"), "still: [not valid")
	writeFile(t, filepath.Join(dir, "z.yaml"), "") // a marker: once it is read, so were the others
	reloadUntil(t, s, "z.yaml", func(*model.Config) bool { return parses.n["z.yaml"] > 0 })
	if got := parses.take(); !reflect.DeepEqual(got, map[string]int{"z.yaml": 1}) {
		t.Fatalf("parsed %v, want z.yaml once", got)
	}
}

func TestEmptyDirIsEmptyConfig(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Config(); c == nil || !isEmpty(c) || c.Validate() != nil {
		t.Fatalf("empty directory gave %+v", c)
	}
	run(t, s)
	writeFile(t, filepath.Join(dir, "base.yaml"), baseYAML)
	reloadUntil(t, s, "base.yaml", func(c *model.Config) bool { return len(c.VirtualNetworks) == 1 })
	if err := os.Remove(filepath.Join(dir, "base.yaml")); err != nil {
		t.Fatal(err)
	}
	reloadUntil(t, s, "an empty config again", func(c *model.Config) bool { return isEmpty(c) })
}

func TestOnlyTheChangedFileIsParsed(t *testing.T) {
	const n = 64
	for _, watched := range []bool{true, false} {
		t.Run(fmt.Sprintf("watched=%v", watched), func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "base.yaml"), baseYAML)
			for i := range n {
				writeFile(t, filepath.Join(dir, fmt.Sprintf("i%04d.yaml", i)), instanceYAML(i, 0))
			}
			var parses parseCounter
			s, err := openWith(dir, options{onParse: parses.hook})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(parses.take()); got != n+1 {
				t.Fatalf("Open parsed %d files, want %d", got, n+1)
			}
			if watched {
				run(t, s)
			}
			if _, err := s.Reload(true); err != nil { // re-reads everything, parses nothing new
				t.Fatal(err)
			}
			if got := parses.take(); len(got) != 0 {
				t.Fatalf("a forced reload of unchanged files parsed %v", got)
			}
			writeFile(t, filepath.Join(dir, "i0042.yaml"), instanceYAML(42, 1))
			if watched {
				reloadUntil(t, s, "i0042", func(c *model.Config) bool {
					return c.VirtualMachineInterfaces[42].InstanceIPs[0].Address == "10.1.0.43"
				})
			} else if changed, err := s.Reload(false); !changed || err != nil {
				t.Fatalf("Reload: changed %v, %v", changed, err)
			}
			if got := parses.take(); !reflect.DeepEqual(got, map[string]int{"i0042.yaml": 1}) {
				t.Fatalf("parsed %v, want i0042.yaml once", got)
			}
			if s.ParseSeconds() <= 0 {
				t.Fatal("ParseSeconds is 0 after a parse")
			}
			// Rewriting the same content is no change and no parse.
			writeFile(t, filepath.Join(dir, "i0042.yaml"), instanceYAML(42, 1))
			if watched {
				waitChanged(t, s)
			}
			if changed, err := s.Reload(false); changed || err != nil {
				t.Fatalf("Reload of an identical rewrite: changed %v, %v", changed, err)
			}
			if got := parses.take(); len(got) != 0 {
				t.Fatalf("an identical rewrite parsed %v", got)
			}
		})
	}
}

func TestSingleFile(t *testing.T) {
	a, b := baseYAML+instancesYAML(0, 2, 0), baseYAML+instancesYAML(0, 5, 1)
	cases := []struct {
		name  string
		write func(t *testing.T, path, text string)
	}{
		{"rename replace", replaceFile},
		{"in-place rewrite", writeFile},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gateway.yaml")
			writeFile(t, path, a)
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if s.String() != path || !reflect.DeepEqual(s.Config(), mustParse(t, a)) {
				t.Fatalf("Open(%s) gave %q, %+v", path, s, s.Config())
			}
			run(t, s)
			writeFile(t, filepath.Join(filepath.Dir(path), "other.yaml"), "not: [valid") // not ours
			tc.write(t, path, b)
			reloadUntil(t, s, "the new file", func(c *model.Config) bool { return reflect.DeepEqual(c, mustParse(t, b)) })
			tc.write(t, path, a)
			reloadUntil(t, s, "the old file again", func(c *model.Config) bool { return reflect.DeepEqual(c, mustParse(t, a)) })
		})
	}
}

func TestSingleFileRemovedKeepsConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, baseYAML)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	before := s.Config()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitChanged(t, s)
	if changed, err := s.Reload(false); changed || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Reload of a removed file: changed %v, err %v", changed, err)
	}
	if s.Config() != before {
		t.Fatal("the config in force changed when its file went away")
	}
	writeFile(t, path, baseYAML+instancesYAML(0, 1, 0))
	reloadUntil(t, s, "the file back", func(c *model.Config) bool { return len(c.VirtualMachineInterfaces) == 1 })
}

// TestHalfWrittenFileIsNotRead writes a file in place in two halves, each a valid config
// (the first half has fewer objects): a Reload between the halves must keep the old content.
func TestHalfWrittenFileIsNotRead(t *testing.T) {
	old := baseYAML + instancesYAML(0, 1, 0)
	half := baseYAML + instancesYAML(0, 2, 1)
	second := "securityGroups:\n  - name: web\n"
	full := half + second // a document whose first half is a complete, valid document too
	cases := []struct {
		name           string
		noLease, watch bool
	}{
		{"lease, no watch", false, false},
		{"lease and watch", false, true},
		{"watch only (no lease)", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gateway.yaml")
			writeFile(t, path, old)
			s, err := openWith(path, options{noLease: tc.noLease})
			if err != nil {
				t.Fatal(err)
			}
			if tc.watch {
				run(t, s)
			}
			before := s.Config()
			w, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			for i, part := range []string{"", half} {
				if _, err := w.WriteString(part); err != nil {
					t.Fatal(err)
				}
				for _, force := range []bool{false, true} {
					if changed, err := s.Reload(force); changed || err != nil || s.Config() != before {
						t.Fatalf("after writing part %d (force %v): changed %v, err %v: a file still open for writing was read", i, force, changed, err)
					}
				}
			}
			if _, err := w.WriteString(second); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			want := mustParse(t, full)
			if tc.watch {
				reloadUntil(t, s, "the complete file", func(c *model.Config) bool { return reflect.DeepEqual(c, want) })
			} else {
				if changed, err := s.Reload(false); !changed || err != nil || !reflect.DeepEqual(s.Config(), want) {
					t.Fatalf("after the writer's close: changed %v, err %v", changed, err)
				}
			}
		})
	}
}

func TestOpenWaitsForTheWriterToClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	w, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString(baseYAML); err != nil { // valid alone, but not the whole file
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(50 * time.Millisecond)
		w.WriteString("securityGroups:\n  - name: web\n")
		w.Close()
	}()
	s, err := Open(path)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Config(); len(c.VirtualNetworks) != 1 || len(c.SecurityGroups) != 1 {
		t.Fatalf("Open read %+v, not the file its writer closed", c)
	}
}

// TestSymlinkSwapBesideTheFiles is the layout of a Kubernetes ConfigMap volume: the files
// are symlinks through "..data", which an update renames to point to a new directory.
func TestSymlinkSwapBesideTheFiles(t *testing.T) {
	dir := t.TempDir()
	version := func(n int, text string) {
		v := filepath.Join(dir, fmt.Sprintf("..v%d", n))
		if err := os.Mkdir(v, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(v, "gateway.yaml"), text)
		if err := os.Symlink(filepath.Base(v), filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version(1, baseYAML)
	if err := os.Symlink("..data/gateway.yaml", filepath.Join(dir, "gateway.yaml")); err != nil {
		t.Fatal(err)
	}
	s, err := openWith(dir, options{poll: time.Hour}) // the swap must be seen from its event
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	version(2, baseYAML+instancesYAML(0, 2, 0))
	reloadUntil(t, s, "the new version", func(c *model.Config) bool { return len(c.VirtualMachineInterfaces) == 2 })
}

func TestWatchLostFallsBackToPollingAndWatchesAgain(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "gateway.d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "base.yaml"), baseYAML)
	s, err := openWith(dir, options{poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	// The directory is replaced by another one: the watch on the old one ends.
	next := filepath.Join(parent, "next")
	if err := os.Mkdir(next, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(next, "base.yaml"), baseYAML)
	writeFile(t, filepath.Join(next, "i.yaml"), instancesYAML(0, 1, 0))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, dir); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(waitFor)
	for len(s.Config().VirtualMachineInterfaces) != 1 {
		select {
		case <-s.Changed():
		case <-deadline:
			t.Fatal("the replaced directory was not read")
		}
		s.Reload(false) // errors while the directory is missing are expected
	}
	// Events work again on the new directory.
	for deadline := time.Now().Add(waitFor); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		ok := s.watching()
		s.mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the new directory is not watched")
		}
	}
	// While watching, the poll is idle: only events can tell this.
	writeFile(t, filepath.Join(dir, "i.yaml"), instancesYAML(0, 3, 0))
	reloadUntil(t, s, "a change in the new directory", func(c *model.Config) bool { return len(c.VirtualMachineInterfaces) == 3 })
}

func TestEventQueueOverflowRescans(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "base.yaml"), baseYAML)
	s, err := openWith(dir, options{poll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	max, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(string(max), &n)
	// Nobody reads events while s.mu is held: queue more than the kernel keeps.
	s.mu.Lock()
	junk := [2]string{filepath.Join(dir, "a.tmp"), filepath.Join(dir, "b.tmp")}
	writeFile(t, junk[0], "")
	for i := 0; i <= n/2; i++ {
		if err := os.Rename(junk[i%2], junk[(i+1)%2]); err != nil { // moved-from + moved-to: 2 events
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "i.yaml"), instancesYAML(0, 2, 0)) // its events are lost
	s.mu.Unlock()
	reloadUntil(t, s, "the file whose events were lost", func(c *model.Config) bool { return len(c.VirtualMachineInterfaces) == 2 })
}

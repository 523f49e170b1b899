package filesource

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/model"
)

// tortureRounds is how many times each writer rewrites its file.
const tortureRounds = 300

// rewriteInPlace writes text over path the way cp does: open with O_TRUNC, write in chunks,
// close. Chunks end at line boundaries, two lines each, so that what a reader could see
// between them is most often valid YAML with fewer objects: the worst case to tell apart.
func rewriteInPlace(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	lines := strings.SplitAfter(text, "\n")
	for i := 0; i < len(lines); i += 2 {
		if _, err := f.WriteString(strings.Join(lines[i:min(i+2, len(lines))], "")); err != nil {
			f.Close()
			return err
		}
		if i%8 == 0 {
			time.Sleep(20 * time.Microsecond)
		}
	}
	return f.Close()
}

// writer rewrites one file, alternating between two complete contents.
type writer struct {
	path     string
	contents [2]string
	rename   bool // replace by rename instead of in place
}

func (w writer) run(t *testing.T) {
	for i := range tortureRounds {
		text := w.contents[i%2]
		if w.rename {
			tmp := filepath.Join(filepath.Dir(w.path), "."+filepath.Base(w.path)+".tmp")
			if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
				t.Error(err)
				return
			}
			if err := os.Rename(tmp, w.path); err != nil {
				t.Error(err)
				return
			}
		} else if err := rewriteInPlace(w.path, text); err != nil {
			t.Error(err)
			return
		}
	}
}

// torture runs the writers against s while a consumer reloads on every Changed, and checks
// that the consumer only ever sees one of the valid configs, and ends with final.
func torture(t *testing.T, s *Source, writers []writer, valid []*model.Config, final *model.Config) {
	run(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu       sync.Mutex
		failures []string
		changes  int
	)
	isValid := func(c *model.Config) bool {
		for _, v := range valid {
			if reflect.DeepEqual(c, v) {
				return true
			}
		}
		return false
	}
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.Changed():
			}
			changed, err := s.Reload(false)
			c := s.Config()
			mu.Lock()
			if err != nil {
				failures = append(failures, "Reload error: "+err.Error())
			}
			if changed {
				changes++
			}
			if !isValid(c) {
				failures = append(failures, fmt.Sprintf("a config that no writer wrote whole: %d VMIs, %d security groups", len(c.VirtualMachineInterfaces), len(c.SecurityGroups)))
			}
			mu.Unlock()
		}
	}()
	var wg sync.WaitGroup
	for _, w := range writers {
		wg.Add(1)
		go func() { defer wg.Done(); w.run(t) }()
	}
	wg.Wait()
	deadline := time.Now().Add(waitFor)
	for !reflect.DeepEqual(s.Config(), final) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-consumed
	if len(failures) > 0 {
		t.Fatalf("%d bad observations, the first: %s", len(failures), failures[0])
	}
	if !reflect.DeepEqual(s.Config(), final) {
		t.Fatalf("the source did not end with the last content written: %d VMIs", len(s.Config().VirtualMachineInterfaces))
	}
	if err := s.Config().Validate(); err != nil {
		t.Fatal(err)
	}
	// The consumer must have raced the writers, or the test proved nothing.
	if changes < tortureRounds/20 {
		t.Fatalf("only %d config changes seen over %d rewrites per writer", changes, tortureRounds)
	}
	t.Logf("%d config changes seen over %d rewrites per writer", changes, tortureRounds)
}

func TestTortureSingleFileInPlace(t *testing.T) {
	a := baseYAML + instancesYAML(0, 3, 0)
	b := baseYAML + instancesYAML(0, 9, 1) + "securityGroups:\n  - name: web\n"
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, b)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	final := mustParse(t, [2]string{a, b}[(tortureRounds-1)%2])
	torture(t, s, []writer{{path: path, contents: [2]string{a, b}}},
		[]*model.Config{mustParse(t, a), mustParse(t, b)}, final)
}

func TestTortureDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "00-base.yaml"), baseYAML)
	writers := []writer{
		{path: filepath.Join(dir, "x.yaml"), contents: [2]string{instancesYAML(0, 3, 0), instancesYAML(0, 7, 1)}},
		{path: filepath.Join(dir, "y.yaml"), contents: [2]string{instancesYAML(10, 2, 0), instancesYAML(10, 5, 1) + "securityGroups:\n  - name: web\n"}},
		{path: filepath.Join(dir, "z.yaml"), contents: [2]string{instancesYAML(20, 2, 0), instancesYAML(20, 4, 1)}, rename: true},
	}
	for _, w := range writers {
		writeFile(t, w.path, w.contents[1])
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	base := mustParse(t, baseYAML)
	var valid []*model.Config
	for i := range 8 {
		parts := []*model.Config{base}
		for j, w := range writers {
			parts = append(parts, mustParse(t, w.contents[i>>j&1]))
		}
		valid = append(valid, merge(parts))
	}
	last := (tortureRounds - 1) % 2
	final := merge([]*model.Config{base, mustParse(t, writers[0].contents[last]), mustParse(t, writers[1].contents[last]), mustParse(t, writers[2].contents[last])})
	torture(t, s, writers, valid, final)
}

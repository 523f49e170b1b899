package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ovsgw/ovsgw/test/bench/scale"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// dbApplyTimeout bounds one `ovsgw db apply` (its own --timeout is longer: it waits for a
// cluster leader, which a standalone server always is).
const dbApplyTimeout = 2 * time.Minute

// writer puts configs where an agent of one mode reads them, as an operator of that mode does.
type writer struct {
	mode string
	a    *testbed.Agent
	bin  string            // the ovsgw binary (db mode: ovsgw db apply)
	db   *testbed.ConfigDB // db mode
	file string            // db mode: the YAML file given to ovsgw db apply
	have map[string]string // dir mode: the files in the directory, by name
}

// write makes spec the agent's config and returns when the write completed: for file and dir
// mode, the moment just before the system call that lets the agent see the new content (the
// rename of the new file over the old; the close of a file written in place; the unlink of a
// removed file), so that no time the bench spends after it (a preemption, say) is counted as
// the agent's; for db mode, when `ovsgw db apply` returned, its transaction committed, and how
// long it took (reading and validating the YAML, connecting, diffing against the database,
// the transaction).
func (w *writer) write(t *runT, spec scale.Spec) (done time.Time, apply time.Duration) {
	switch w.mode {
	case modeFile:
		tmp := w.a.YAML + ".tmp"
		if err := os.WriteFile(tmp, []byte(spec.YAML()), 0o644); err != nil {
			t.Fatalf("%v", err)
		}
		done = time.Now()
		if err := os.Rename(tmp, w.a.YAML); err != nil {
			t.Fatalf("%v", err)
		}
		return done, 0
	case modeDir:
		files := spec.Files()
		var names []string
		for name, text := range files {
			if w.have[name] != text {
				names = append(names, name)
			}
		}
		sort.Strings(names) // the base file (VNs, groups) first
		for _, name := range names {
			done = writeInPlace(t, filepath.Join(w.a.ConfigDir, name), files[name])
		}
		var gone []string
		for name := range w.have {
			if _, ok := files[name]; !ok {
				gone = append(gone, name)
			}
		}
		sort.Strings(gone)
		for _, name := range gone {
			done = time.Now()
			if err := os.Remove(filepath.Join(w.a.ConfigDir, name)); err != nil {
				t.Fatalf("%v", err)
			}
		}
		w.have = files
		return done, 0
	default:
		if err := os.WriteFile(w.file, []byte(spec.YAML()), 0o644); err != nil {
			t.Fatalf("%v", err)
		}
		start := time.Now()
		cmd := exec.Command(w.bin, "db", "apply", "-f", w.file, "--db", w.db.Endpoint, "--timeout", dbApplyTimeout.String())
		out, err := cmd.CombinedOutput()
		done = time.Now()
		if err != nil {
			t.Fatalf("ovsgw db apply: %v: %s", err, lastLines(string(out), 10))
		}
		return done, done.Sub(start)
	}
}

// writeInPlace writes a file as a tool that owns it does (create or truncate, write, close)
// and returns the moment just before the close.
func writeInPlace(t *runT, path, text string) time.Time {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		t.Fatalf("%v", err)
	}
	done := time.Now()
	if err := f.Close(); err != nil {
		t.Fatalf("%v", err)
	}
	return done
}

// newWriter makes the writer of a run; db mode writes its YAML next to the agent's files.
func newWriter(mode string, a *testbed.Agent, bin string, db *testbed.ConfigDB) *writer {
	return &writer{mode: mode, a: a, bin: bin, db: db, file: filepath.Join(a.Dir, "db-apply.yaml"), have: map[string]string{}}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

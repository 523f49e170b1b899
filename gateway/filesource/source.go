package filesource

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/logging"
)

// Timings of the source.
const (
	// pollInterval is how often the fallback poll stats every file: when the directory cannot
	// be watched (no inotify, watch lost) and, beside the watch, when an entry is a symlink
	// (its target may change where no watch sees it). Listing and stating 4,096 files costs
	// about 20 ms here: 1% of a core.
	pollInterval = 2 * time.Second
	// racyWindow: a file whose mtime or ctime was this close to our read of it is re-read
	// (and re-hashed) by the next poll even when its stat looks unchanged. File timestamps
	// advance by kernel ticks (up to 10 ms), so a rewrite of the same size within one tick
	// leaves stat unchanged; one second covers any tick.
	racyWindow = time.Second
	// retryFirst is the first retry of a file found open for writing. The kernel queues a
	// writer's close event just before it drops the writer count, so a read right after the
	// close event can be refused for a few microseconds; retries double up to pollInterval.
	retryFirst = 200 * time.Microsecond
	// openBusyWait bounds how long Open waits for a file some process holds open for
	// writing: a config writer closes its file within milliseconds.
	openBusyWait = 5 * time.Second
)

// yamlSuffix is the only name ending the directory form reads.
const yamlSuffix = ".yaml"

var log = logrus.WithField(logging.Component, "filesource")

// Source is the gateway config held in a file or a directory of files. It is safe for
// concurrent use: typically Run in one goroutine and a consumer calling Reload on Changed.
type Source struct {
	path string // as given to Open
	dir  string // the directory watched and read
	base string // single-file form: the file's name in dir; "" for the directory form

	changed chan struct{} // one slot: Reload may find something
	opts    options

	mu        sync.Mutex
	files     map[string]*fileState // by name in dir: every file read, and removed ones not yet committed
	names     []string              // keys of files, sorted: the merge order
	merged    *model.Config         // in force: the last consistent, error-free read
	layout    *layout               // where each file's objects sit in merged (directory form); nil: unknown
	parseSecs float64

	pending map[string]bool // files read (or gone) since the last commit
	bad     map[string]bool // files whose last read is unusable (fileState.err)

	// What the events (or a poll) say needs reading; see watch.go.
	ino      *watch               // nil when not watching (Run not running, or fallen back to polling)
	dirty    map[string]bool      // names to read at the next Reload
	writing  map[string]bool      // modified since the writer's last close: not read until closed
	busy     map[string]*busyFile // found open for writing by another process: retried on a timer
	seq      map[string]uint64    // events seen per name: a read during which it moved is torn
	epoch    uint64               // counts lost-event situations (overflow, watch lost)
	rescan   bool                 // list the directory and stat every file at the next Reload
	kick     bool                 // an event made a Reload worthwhile
	noLease  bool                 // file leases are unavailable here; see doc.go
	symlinks int                  // files whose entry is a symlink (their targets are polled)

	retryArmed bool
	retryDelay time.Duration
}

// busyFile is a file found open for writing by another process.
type busyFile struct {
	since  time.Time
	warned bool // logged as held open for long
}

// options are what tests change.
type options struct {
	poll    time.Duration     // the fallback poll's interval (0: pollInterval)
	noLease bool              // behave as if file leases were unavailable
	onParse func(name string) // called before each model.Parse of a file
}

// fileState is what the source knows of one file.
type fileState struct {
	stat    fileStat
	readAt  int64         // wall clock (ns) of the last read
	hash    [32]byte      // of the content last read
	read    bool          // hash and cur/err hold a read
	gone    bool          // removed from the directory; dropped at the next commit
	cur     *model.Config // the content last read, parsed (nil when err)
	err     error         // why the content last read is unusable; it names the file
	inForce *model.Config // this file's part of the merged config in force
	symlink bool          // the directory entry is a symlink
}

// Open reads the config at path: a YAML file, or a directory whose *.yaml files are merged
// (see doc.go). The error names the file at fault. Open does not watch: Run does.
func Open(path string) (*Source, error) { return openWith(path, options{}) }

func openWith(path string, o options) (*Source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if o.poll == 0 {
		o.poll = pollInterval
	}
	s := &Source{path: path, changed: make(chan struct{}, 1), opts: o, noLease: o.noLease,
		files: map[string]*fileState{}, pending: map[string]bool{}, bad: map[string]bool{}, dirty: map[string]bool{}, writing: map[string]bool{},
		busy: map[string]*busyFile{}, seq: map[string]uint64{}, retryDelay: retryFirst}
	if fi.IsDir() {
		s.dir = filepath.Clean(path)
	} else {
		s.dir, s.base = filepath.Split(filepath.Clean(path))
		s.dir = filepath.Clean(s.dir)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	deadline := time.Now().Add(openBusyWait)
	if err := s.update(true); err != nil {
		return nil, err
	}
	for delay := retryFirst; len(s.dirty) > 0; delay = min(2*delay, 100*time.Millisecond) {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: held open for writing by another process for %v: not read, since a half-written file is never used", s.full(s.firstDirty()), openBusyWait)
		}
		s.mu.Unlock()
		time.Sleep(delay)
		s.mu.Lock()
		if err := s.update(false); err != nil {
			return nil, err
		}
	}
	if _, err := s.commit(); err != nil {
		return nil, err
	}
	return s, nil
}

// Config returns the merged config in force at the source: the last read of every file
// that was consistent and parsed without error. It is not validated. The caller must not
// modify it; each change gives a new one.
func (s *Source) Config() *model.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.merged
}

// Changed fires (one slot: signals coalesce) when Reload may find something: a writer closed
// or renamed a file, a file appeared or went away, a retry or a poll is due.
func (s *Source) Changed() <-chan struct{} { return s.changed }

// String returns the path given to Open, for logs and status.
func (s *Source) String() string { return s.path }

// ParseSeconds returns the time the last Reload (or Open) spent parsing files and merging them.
func (s *Source) ParseSeconds() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parseSecs
}

// Reload reads what changed since the last read: the files events named, or with force (or
// when not watching) every file whose stat changed; with force every file is re-read. It
// reports whether the merged config in force changed. When a file cannot be read or parsed,
// the error names it and nothing changes: the previous config stays in force until every
// file is good again. A file that a process is writing is not read: its previous content
// stays in force until the writer closes it (Changed fires then).
func (s *Source) Reload(force bool) (changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.update(force); err != nil {
		return false, err
	}
	return s.commit()
}

// update reads the files that need reading into their fileState, without touching the
// config in force.
func (s *Source) update(force bool) error {
	s.parseSecs = 0
	s.drain()
	if force || !s.watching() || s.rescan {
		s.rescan = false
		if err := s.scan(force); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(s.dirty))
	for name := range s.dirty {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if s.writing[name] {
			delete(s.busy, name) // its close event will bring it back
			continue
		}
		s.readOne(name)
	}
	s.armRetry()
	if s.kickPending() {
		s.notify() // an event came in meanwhile: the consumer calls again
	}
	return nil
}

// kickPending reports whether a name is dirty that nothing else (its writer's close, the
// retry timer) will bring back.
func (s *Source) kickPending() bool {
	for name := range s.dirty {
		if !s.writing[name] && s.busy[name] == nil {
			return true
		}
	}
	return false
}

// readOne reads one file and records the outcome.
func (s *Source) readOne(name string) {
	o := s.readFile(name)
	switch o.res {
	case readBusy:
		b := s.busy[name]
		if b == nil {
			b = &busyFile{since: time.Now()}
			s.busy[name] = b
		}
		if !b.warned && time.Since(b.since) > openBusyWait {
			b.warned = true
			log.WithField(logging.File, s.full(name)).Warnf("held open for writing by another process for more than %v: its previous content stays in force until the writer closes it", openBusyWait)
		}
		return
	case readTorn:
		delete(s.busy, name) // the event that tore it brings it back
		return
	}
	delete(s.busy, name)
	delete(s.dirty, name)
	f := s.files[name]
	if o.res == readGone {
		switch {
		case s.base != "": // the single file is gone: keep its content in force, say why
			if f == nil {
				f = s.newFile(name)
			}
			f.read = false
			s.setRead(name, f, nil, fmt.Errorf("%s: %w", s.full(name), fs.ErrNotExist))
		case f != nil:
			f.gone = true
			s.setRead(name, f, nil, nil)
		default:
			delete(s.seq, name) // a name that came and went between two reads
		}
		return
	}
	if f == nil {
		f = s.newFile(name)
	}
	if f.symlink != o.symlink {
		f.symlink = o.symlink
		if o.symlink {
			s.symlinks++
		} else {
			s.symlinks--
		}
	}
	f.stat, f.readAt, f.gone = o.stat, time.Now().UnixNano(), false
	if o.err != nil {
		f.read = false
		s.setRead(name, f, nil, fmt.Errorf("%s: %w", s.full(name), o.err))
		return
	}
	h := sha256.Sum256(o.data)
	if f.read && f.hash == h {
		return // same content: nothing to parse
	}
	if s.opts.onParse != nil {
		s.opts.onParse(name)
	}
	start := time.Now()
	c, err := model.Parse(o.data)
	s.parseSecs += time.Since(start).Seconds()
	f.hash, f.read = h, true
	if err != nil {
		s.setRead(name, f, nil, fmt.Errorf("%s: %w", s.full(name), err))
		return
	}
	s.setRead(name, f, c, nil)
}

func (s *Source) newFile(name string) *fileState {
	f := &fileState{}
	s.files[name] = f
	if i, found := slices.BinarySearch(s.names, name); !found {
		s.names = slices.Insert(s.names, i, name)
	}
	return f
}

// setRead records the outcome of a read: a parsed content, or why there is none.
func (s *Source) setRead(name string, f *fileState, c *model.Config, err error) {
	f.cur, f.err = c, err
	s.pending[name] = true
	if err != nil {
		s.bad[name] = true
	} else {
		delete(s.bad, name)
	}
}

// commit puts the files' last reads in force when none of them has an error. Its cost is
// that of the files read, not of the directory: a change that keeps a file's shape patches
// the merged config (see layout).
func (s *Source) commit() (bool, error) {
	if len(s.bad) > 0 {
		first := ""
		for name := range s.bad {
			if first == "" || name < first {
				first = name
			}
		}
		return false, s.files[first].err
	}
	if len(s.pending) == 0 && s.merged != nil {
		return false, nil
	}
	start := time.Now()
	changed := s.merged == nil
	reshaped := false                  // files came or went, or a file's shape changed: merge all again
	patches := map[int]*model.Config{} // otherwise: the changed files, by place in the layout
	gone := false
	for name := range s.pending {
		f := s.files[name]
		switch {
		case f.gone:
			changed = changed || !isEmpty(f.inForce)
			reshaped = true
		case f.inForce == nil:
			changed = changed || !isEmpty(f.cur)
			reshaped = true
		case !sameConfig(f.inForce, f.cur):
			changed = true
			if i, _ := slices.BinarySearch(s.names, name); sameShape(f.inForce, f.cur) {
				patches[i] = f.cur
			} else {
				reshaped = true
			}
		}
		f.inForce = f.cur
		if f.gone {
			gone = true
			if f.symlink {
				s.symlinks--
			}
			delete(s.files, name)
			delete(s.seq, name)
		}
	}
	clear(s.pending)
	if gone {
		s.names = slices.DeleteFunc(s.names, func(name string) bool { return s.files[name] == nil })
	}
	switch {
	case s.base != "":
		if changed {
			s.merged = s.files[s.base].inForce
		}
	case changed && !reshaped && s.layout != nil:
		s.merged = s.layout.patch(s.merged, patches)
	case changed:
		parts := make([]*model.Config, len(s.names))
		for i, name := range s.names {
			parts[i] = s.files[name].inForce
		}
		s.merged, s.layout = mergeLayout(parts)
	case reshaped:
		s.layout = nil // the next change merges all again
	}
	s.parseSecs += time.Since(start).Seconds()
	return changed, nil
}

// scan lists the directory (or stats the single file) and marks dirty every file whose stat
// changed, that is new or gone, or (force) every file.
func (s *Source) scan(force bool) error {
	seen := map[string]bool{}
	check := func(name string) {
		seen[name] = true
		if force {
			s.dirty[name] = true
			return
		}
		f := s.files[name]
		if f == nil || f.gone || !f.read {
			s.dirty[name] = true
			return
		}
		st, err := statFile(s.full(name))
		if err != nil || st != f.stat || f.readAt-max(st.mtime, st.ctime) < int64(racyWindow) {
			s.dirty[name] = true
		}
	}
	if s.base != "" {
		check(s.base)
		return nil
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("config directory %s: %w", s.dir, err)
	}
	for _, e := range entries {
		if e.IsDir() || !s.wanted(e.Name()) {
			continue
		}
		check(e.Name())
	}
	for name, f := range s.files {
		if !seen[name] && !f.gone {
			s.dirty[name] = true
		}
	}
	return nil
}

// wanted reports whether a name in the watched directory is part of the config.
func (s *Source) wanted(name string) bool {
	if s.base != "" {
		return name == s.base
	}
	return isConfigName(name)
}

// isConfigName reports whether a directory entry's name is a config file of the directory
// form: *.yaml, not hidden, not an editor's temporary or backup file.
func isConfigName(name string) bool {
	switch {
	case !strings.HasSuffix(name, yamlSuffix) || len(name) == len(yamlSuffix):
		return false
	case strings.HasPrefix(name, "."): // hidden, and Emacs's .#lock files
		return false
	case strings.HasPrefix(name, "#") || strings.HasSuffix(name, "~"): // Emacs autosave, backups
		return false
	}
	return true
}

func (s *Source) full(name string) string { return filepath.Join(s.dir, name) }

func (s *Source) firstDirty() string {
	var first string
	for name := range s.dirty {
		if first == "" || name < first {
			first = name
		}
	}
	return first
}

// notify fires Changed without blocking.
func (s *Source) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// armRetry schedules a Changed signal for files found open for writing, with doubling delays.
func (s *Source) armRetry() {
	if len(s.busy) == 0 {
		s.retryDelay = retryFirst
		return
	}
	if s.retryArmed {
		return
	}
	s.retryArmed = true
	time.AfterFunc(s.retryDelay, func() {
		s.mu.Lock()
		s.retryArmed = false
		s.mu.Unlock()
		s.notify()
	})
	s.retryDelay = min(2*s.retryDelay, s.opts.poll)
}

// isEmpty reports whether a config part holds no object.
func isEmpty(c *model.Config) bool {
	return c == nil || reflect.DeepEqual(*c, model.Config{})
}

// sameConfig compares two parts, nil being empty.
func sameConfig(a, b *model.Config) bool {
	if a == nil || b == nil {
		return isEmpty(a) && isEmpty(b)
	}
	return reflect.DeepEqual(a, b)
}

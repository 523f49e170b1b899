// Package filesource is the gateway config held in files: one YAML file, or a directory of
// them. It reads only what changed, learns of changes from inotify, and never puts in force a
// file that a process is still writing.
//
// # Forms
//
// A file holds one YAML document, parsed by model.Parse. A directory holds any number of
// them: every entry whose name ends in ".yaml", except hidden names (".x.yaml", Emacs's
// ".#x.yaml" locks), "#x.yaml" autosaves, subdirectories and anything that is not a regular
// file (symlinks to regular files count). Editors' other temporary and backup names
// ("x.yaml~", "x.yaml.swp", "x.yaml.tmp") do not end in ".yaml", so they are skipped too. An
// empty directory is an empty config.
//
// The files are merged in file-name (byte) order, so the result does not depend on the
// order of events: physical routers of the same name in several files become one router,
// their physical interfaces of the same name become one interface whose logical interfaces
// are those of each file in turn; every other list (virtual networks, VMIs, security groups,
// network policies, ToR switches) is the files' lists one after the other. Names repeated
// within one file, and duplicates across files of anything but routers and interfaces, are
// left to (*model.Config).Validate. A layout of one file per remote instance, holding its
// VMI and its logical interface under its router and interface, therefore works.
//
// The source keeps, per file, the content hash and the parsed config of its last read. A
// change re-reads and re-parses that file only; a removed file drops its objects. When the
// changed file keeps its shape (the same routers and interfaces, as many objects of each
// kind), its objects are patched into a copy of the lists they sit in; otherwise (a file
// added, removed or reshaped) every part is merged again, still without parsing. The full
// merge stays as the oracle of the patch in TestPatchEqualsFullMerge.
//
// When any file cannot be read or parsed, Reload returns that error (it names the file, and
// model.Parse names the line) and the config in force stays as it was; it changes again
// once every file is good.
//
// # Events
//
// Run watches the directory (for the single-file form, the file's directory: editors
// replace a file by renaming another over it, which a watch on the file itself would miss)
// with inotify, read directly through golang.org/x/sys/unix: fsnotify v1.10.1 does not
// export close-write events, and its reading goroutine hides whether an event is still
// queued, which the check below needs. IN_CLOSE_WRITE (a writer closed the file) and
// IN_MOVED_TO (a complete file renamed into place) mark a file to read; IN_MODIFY (a write
// or a truncation) marks it as being written, and it is not read until its writer's close;
// IN_CREATE, IN_DELETE and IN_MOVED_FROM mark it to read (or drop). Changed fires at once:
// there is no debounce, and a one-file change in a directory of 4,096 files costs one open,
// read and parse of that file plus the patch, which copies the lists it touches (about
// 650 KB at 4,096 instances). BenchmarkDirOneFileChange measured, from the writer's close
// to the new config, p50 0.5 ms, p90 2.4 ms and p99 5 ms on a shared, busy 2-core machine;
// the tail is the garbage collector's and the scheduler's (with GOGC=400: p90 0.7 ms). A
// full merge of 4,096 parts (BenchmarkMerge4K) costs about 2 ms.
//
// Polling (every 2 s, comparing inode, size, mtime and ctime, and re-reading files modified
// within a second of their last read, since timestamps are as coarse as a kernel tick) is
// the fallback: when the watch cannot be set up, after it is lost (the directory removed or
// moved; Run sets it up again when it can), and for entries that are symlinks, whose target
// may change where no watch sees it. A symlink swap inside the directory (a Kubernetes
// ConfigMap volume renames "..data") is seen at once. An inotify queue overflow makes the
// next Reload check every file's stat. Reload(true) (SIGHUP) re-reads every file.
//
// # Never a half-written file
//
// Where Linux file leases are available (a local filesystem, and the agent runs as root), a
// config in force is made only of contents read while no process had the file open for
// writing: the file as a writer left it when it closed it, or as it was renamed into place.
// A file being written is not read; its previous content stays in force until the writer
// closes it, then Changed fires. This holds for in-place rewrites (cp, shell redirection,
// os.WriteFile: truncate, write in chunks, close) as well as for rename-over, including a
// truncated content that happens to be valid YAML.
//
// How it is made exact. Each file is read under a Linux read lease (fcntl F_SETLEASE
// F_RDLCK), taken on our read-only descriptor and released as soon as the read ends. The
// kernel grants a read lease only when no process has the file open for writing (it checks
// the inode's count of writers, which counts every open-for-write descriptor and shared
// writable mapping), and while the lease is held it makes any open for writing, and any
// truncate, wait until the lease is released. So a granted lease proves that no writer is
// mid-way, and no writer can start before the read ends: the bytes read are one content
// that was complete at a moment when nobody was writing. When the lease is refused (EAGAIN)
// the file is being written: it is not read, and a retry is scheduled (the kernel queues a
// writer's close event just before it drops the writer count, so the first retry comes
// after 200 µs, later ones at doubling intervals up to 2 s; the writer's close event
// triggers a read anyway; a file held open for writing for more than 5 s is logged). A
// writer that opens while we hold the lease waits for at most the duration of one read
// (measured here: 15 µs for a small file, 1.3 ms for 1 MB); the kernel also sends this
// process SIGIO, which the Go runtime ignores unless the program asked os/signal for it.
// Leases need the file to be ours or CAP_LEASE (the agent runs as root) and a local
// filesystem; /proc/sys/fs/leases-enable must be 1.
//
// In addition, after each read the queued inotify events are drained: if any event for that
// file (a write, truncation, close-write, rename or removal) arrived since the drain before
// the read, the content is discarded and the file is read again when its writer is done.
// This catches a rename over the file during the read, and it is all there is where leases
// are unavailable.
//
// Without leases (a filesystem without them, a process that neither owns the file nor has
// CAP_LEASE), the guarantee rests on inotify alone, and it is not exact. Inotify events are
// queued by the writer's own syscall, but at its end, after its effect is visible: a
// truncation (O_TRUNC) or a write whose syscall has not returned yet can be seen by our read
// with no event queued, and the drain after the read misses it. The window is short on an
// idle machine, but a writer preempted inside the syscall holds it open for a whole
// scheduler time slice: with leases disabled, TestTortureDirectory sees an emptied file put
// in force within a few runs on a loaded 2-core machine (ext4 and tmpfs alike). Outside that
// window an in-place rewrite is caught (its truncation's event comes before the first byte
// is written, and marks the file as being written until the close). Nothing at all is known
// of a writer that opened the file before the watch was set up, before Open, or across a
// queue overflow, and the fallback poll has no events. The source logs a warning when it
// finds leases unavailable.
//
// Writers should still replace a file by renaming a complete one over it, or write it in
// place and close it once: a writer that closes a half-written file and reopens it to write
// the rest has published the half. Two writers of one file at once have no consistent
// content to offer. In the directory form, a temporary file that is renamed into place must
// not end in ".yaml" (or must start with "."), or it is read as part of the config.
package filesource

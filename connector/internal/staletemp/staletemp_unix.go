//go:build unix

package staletemp

import (
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/internal/flock"
)

// processStart is when this run began: a temporary file modified since
// is never taken for a stale one.
var processStart = time.Now()

// staleAge is how long ago a temporary file must have been modified to be
// taken for a stale one: a writer renames or removes its file within
// milliseconds of its last write, and holds its lock until it closes it,
// just before.
const staleAge = time.Minute

// Remove removes from dir the temporary files that killed runs left,
// those named by one of patterns (os.CreateTemp's, see Matches): each
// would otherwise stay there for good (a hidden copy of a config, its
// secrets included, or of a state). Only a file that is certainly such a
// leftover goes: so named, a regular file (not a link) of this user's,
// last modified before this run began and over staleAge ago, and not
// locked. A run writing the same file at this moment keeps its temporary:
// either it holds a lock on the temporary until it closes it (connect's
// writes), or the caller holds first the lock every writer of the file
// takes (a --state-file's FILE.lock), and the kernel drops either when
// its holder dies. Errors are ignored: the write goes on either way.
func Remove(dir string, patterns ...string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		for _, p := range patterns {
			if Matches(e.Name(), p) {
				removeIfStale(filepath.Join(dir, e.Name()))
				break
			}
		}
	}
}

// removeIfStale removes name if it is a stale temporary file of this
// user's (see Remove), holding its lock the while.
func removeIfStale(name string) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || !fi.ModTime().Before(processStart) || time.Since(fi.ModTime()) < staleAge {
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Getuid() {
		return
	}
	if flock.TryLock(f) != nil {
		return // a writer's, still at work
	}
	// Still the file opened, not one renamed into its name meanwhile.
	if now, err := os.Lstat(name); err != nil || !os.SameFile(now, fi) {
		return
	}
	_ = os.Remove(name)
}

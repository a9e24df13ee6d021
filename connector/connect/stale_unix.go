//go:build unix

package connect

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

// removeStaleTemps removes the temporary files an earlier writeAtomic or
// CheckWritable left beside path when its run was killed between creating
// and renaming or removing one (SIGKILL, an OOM kill, a power cut): each
// would otherwise stay there for good, a hidden copy of the config, its
// secrets included. Only a file that is certainly such a leftover goes:
// named as those make theirs ("." + path's name + ".tmp-" and the digits
// os.CreateTemp adds), a regular file (not a link) of this user's, last
// modified before this run began and over staleAge ago, and not locked: a
// writer holds a lock on its temporary file until it closes it, and the
// kernel drops it when the writer dies, so a run writing the same config
// at this moment keeps its file. Errors are ignored: the write goes on
// either way.
func removeStaleTemps(path string) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Type().IsRegular() && isTempOf(e.Name(), base) {
			removeIfStale(filepath.Join(dir, e.Name()))
		}
	}
}

// removeIfStale removes name if it is a stale temporary file of this
// user's (see removeStaleTemps), holding its lock the while.
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

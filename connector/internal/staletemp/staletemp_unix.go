//go:build unix

package staletemp

import (
	"os"
	"syscall"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/internal/flock"
)

// removeIfStale removes name if it is a stale temporary file of this
// user's (see Rule), holding its lock the while.
func removeIfStale(name string, before time.Time, held bool) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || !fi.ModTime().Before(before) || (!held && time.Since(fi.ModTime()) < staleAge) {
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

package sourcetest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/internal/flock"
)

// The sweep removes the directories of ended test processes (lock free,
// or no lock file) once they are older than staleAfter, and keeps a
// directory whose lock is held or that was made a moment ago.
func TestRemoveStaleBinDirs(t *testing.T) {
	if !flock.Supported {
		t.Skip("no file locks here: the sweep removes nothing")
	}
	tmp := t.TempDir()
	now := time.Now()
	old := now.Add(-2 * staleAfter)
	mk := func(name string, lock bool, mtime time.Time) (string, *os.File) {
		dir := filepath.Join(tmp, binDirPrefix+name)
		Must(t, os.Mkdir(dir, 0o700), "mkdir")
		Must(t, os.WriteFile(filepath.Join(dir, "source-pluggy"), []byte("binary"), 0o700), "binary")
		var f *os.File
		if lock {
			var err error
			f, err = os.OpenFile(filepath.Join(dir, binLock), os.O_RDWR|os.O_CREATE, 0o600)
			Must(t, err, "lock file")
			t.Cleanup(func() { f.Close() })
		}
		Must(t, os.Chtimes(dir, mtime, mtime), "chtimes")
		return dir, f
	}
	ended, _ := mk("ended", true, old)
	unlocked, _ := mk("from-before-locks", false, old)
	running, f := mk("running", true, old)
	Must(t, flock.TryLock(f), "holding the running process's lock")
	fresh, _ := mk("just-made", true, now)
	other := filepath.Join(tmp, "not-ours")
	Must(t, os.Mkdir(other, 0o700), "mkdir")
	Must(t, os.Chtimes(other, old, old), "chtimes")

	removeStaleBinDirs(tmp, now)
	for dir, want := range map[string]bool{ended: false, unlocked: false, running: true, fresh: true, other: true} {
		_, err := os.Stat(dir)
		if got := err == nil; got != want {
			t.Errorf("%s: kept %v, want %v", filepath.Base(dir), got, want)
		}
	}
}

// binDir makes one directory per process, locked while the process runs.
func TestBinDirIsLocked(t *testing.T) {
	if !flock.Supported {
		t.Skip("no file locks here")
	}
	buildMu.Lock()
	dir, err := binDir()
	again, _ := binDir()
	buildMu.Unlock()
	Must(t, err, "binDir")
	if again != dir {
		t.Errorf("second call gave %s, want the first's %s", again, dir)
	}
	f, err := os.OpenFile(filepath.Join(dir, binLock), os.O_RDWR, 0)
	Must(t, err, "opening the lock")
	defer f.Close()
	if err := flock.TryLock(f); !errors.Is(err, flock.ErrLocked) {
		t.Errorf("the lock of this process's directory could be taken: %v", err)
	}
}

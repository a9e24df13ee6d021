package sourcetest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/internal/flock"
)

// binDirPrefix names the directories Build compiles into, in the system's
// temporary directory.
const binDirPrefix = "sourcetest-bin-"

// binLock is the lock file in each of them; its holder is the test process
// whose binaries it holds.
const binLock = ".lock"

// staleAfter is how old a directory must be before another process takes
// it for a dead one's: a process locks its new directory within
// microseconds, so the wait only closes that window.
const staleAfter = time.Minute

var (
	ownDir string
	// ownLock is ownDir's lock file, held open (and so locked) until the
	// process ends: a package variable, so no finalizer closes it.
	ownLock *os.File
)

// binDir is this test process's directory for built binaries, made on the
// first call. A test process has no hook at its end that could remove it
// (most packages have no TestMain), and each one held 50 – 60 MB a binary:
// a day of `go test ./...` left gigabytes in /tmp, and helped fill a disk
// mid-run. So the directory holds a lock for as long as its process runs,
// and the first call in every process removes the directories whose lock
// is free: their processes have ended, killed or not. Build calls it under
// buildMu.
func binDir() (string, error) {
	if ownLock != nil {
		return ownDir, nil
	}
	removeStaleBinDirs(os.TempDir(), time.Now())
	dir, err := os.MkdirTemp("", binDirPrefix)
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(filepath.Join(dir, binLock), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", err
	}
	if err := flock.TryLock(f); err != nil {
		f.Close()
		return "", err
	}
	ownDir, ownLock = dir, f
	return dir, nil
}

// removeStaleBinDirs removes the binary directories in tmp of test
// processes that have ended: older than staleAfter, with a lock no process
// holds (or no lock file, as before the directories had one). Where locks
// do not exist it removes nothing.
func removeStaleBinDirs(tmp string, now time.Time) {
	if !flock.Supported {
		return
	}
	dirs, _ := filepath.Glob(filepath.Join(tmp, binDirPrefix+"*"))
	for _, dir := range dirs {
		fi, err := os.Lstat(dir)
		if err != nil || !fi.IsDir() || now.Sub(fi.ModTime()) < staleAfter {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, binLock), os.O_RDWR, 0)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			_ = os.RemoveAll(dir)
		case err == nil:
			if flock.TryLock(f) == nil {
				_ = os.RemoveAll(dir)
			}
			f.Close()
		}
	}
}

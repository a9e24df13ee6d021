package parquet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/internal/flock"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// LockFile is the file in --parquet-dir that one read at a time holds
// locked: two reads into one directory would each take the other's
// temporaries for a crashed run's and delete them. It stays after the run;
// the lock, not the file, is what excludes (the kernel drops it when the
// holder exits, even killed), and it names its holder.
const LockFile = ".source-pluggy.lock"

// dirLock is a held lock on a --parquet-dir.
type dirLock struct{ f *os.File }

// lockDir takes dir's lock for this process, or fails at once with a
// config error naming the directory and the read holding it. Nothing in dir
// is touched before the lock is held.
func lockDir(dir string, start time.Time) (*dirLock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, source.ConfigErrorf("cannot create the lock file %s in --parquet-dir: %v", path, err)
	}
	if who, err := flock.Acquire(f, start, "read"); err != nil {
		f.Close()
		if errors.Is(err, flock.ErrLocked) {
			return nil, source.ConfigErrorf("--parquet-dir %s is in use by another read (%s; lock file %s): run one read per directory at a time: wait for that read to end, or give this one another --parquet-dir. Nothing was written",
				dir, who, path)
		}
		return nil, fmt.Errorf("parquet: locking %s: %w", path, err)
	}
	return &dirLock{f: f}, nil
}

// release drops the lock.
func (l *dirLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor drops the lock
	l.f = nil
	return err
}

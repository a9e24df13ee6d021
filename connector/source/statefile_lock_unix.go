//go:build unix

package source

import (
	"errors"
	"os"
	"syscall"
)

var errStateLocked = errors.New("locked by another process")

// tryLockStateFile takes an exclusive flock on f without waiting, as the
// Parquet sink locks its directory.
func tryLockStateFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errStateLocked
	}
	return err
}

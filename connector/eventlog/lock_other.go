//go:build !unix

package eventlog

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir creates dir/LOCK exclusively where flock is not available; a
// receiver killed without removing it must have the file removed by hand.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("the event log %s is in use by another receiver (remove %s if none runs): %w", dir, filepath.Join(dir, "LOCK"), err)
	}
	return f, nil
}

func unlockDir(f *os.File) {
	name := f.Name()
	_ = f.Close()
	_ = os.Remove(name)
}

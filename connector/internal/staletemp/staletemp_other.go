//go:build !unix

package staletemp

import (
	"os"
	"time"
)

// removeIfStale removes name only for a caller that holds the lock every
// writer takes (Rule.Held): where file locks do not exist, a temporary
// another run is writing could not be told from one a killed run left
// otherwise. Files have no owner to check here.
func removeIfStale(name string, before time.Time, held bool) {
	if !held {
		return
	}
	if fi, err := os.Lstat(name); err == nil && fi.Mode().IsRegular() && fi.ModTime().Before(before) {
		_ = os.Remove(name)
	}
}

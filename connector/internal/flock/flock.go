// Package flock takes the exclusive, non-blocking file locks that keep a
// second run off what a first one writes (a --parquet-dir, a --state-file):
// the kernel drops them when the holder exits, even killed, so a crash
// leaves no lock to remove by hand.
package flock

import "errors"

// ErrLocked is TryLock's error when another process holds the lock.
var ErrLocked = errors.New("locked by another process")

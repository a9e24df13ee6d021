//go:build !unix

package flock

import "os"

// TryLock does not lock where flock does not exist: one run at a time is
// then the user's rule to keep.
func TryLock(*os.File) error { return nil }

// Supported says TryLock takes no lock here.
const Supported = false

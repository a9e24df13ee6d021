package flock

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// holder is what a lock file says about the run holding it.
type holder struct {
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"started_at"`
}

// Acquire takes the lock on f (TryLock) and writes into f who holds it:
// this process and start, the time its run began. When the lock is
// another's, the error wraps ErrLocked and holder describes that run as the
// file names it ("pid 4242, started 2026-12-06T10:00:00Z", or "holder
// unknown"), for the message that tells the user which run to wait for.
// The caller closes f on error.
func Acquire(f *os.File, start time.Time) (holderDesc string, err error) {
	if err := TryLock(f); err != nil {
		desc := "holder unknown"
		b, _ := io.ReadAll(io.LimitReader(f, 4096))
		var h holder
		if json.Unmarshal(b, &h) == nil && h.PID > 0 {
			desc = fmt.Sprintf("pid %d, started %s", h.PID, h.StartedAt.UTC().Format(time.RFC3339))
		}
		return desc, err
	}
	b, _ := json.Marshal(holder{PID: os.Getpid(), StartedAt: start.UTC()})
	// Who holds the lock only serves the message a second run prints:
	// writing it is best effort.
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt(append(b, '\n'), 0)
	}
	return "", nil
}

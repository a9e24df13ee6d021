package flock

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// Holder is what a lock file says about the run holding it.
type Holder struct {
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"started_at"`
	// Command is what that run does ("read", "connect --reconnect"), so
	// that a run it refuses names it and says what to wait for: two
	// commands take one state file's lock. Empty in a lock file an older
	// version wrote, which recorded none: the refused run then names
	// "another run".
	Command string `json:"command,omitempty"`
}

// String describes the run as the lock file names it: "pid 4242, started
// 2026-12-06T10:00:00Z", or "holder unknown" where the file names none.
func (h Holder) String() string {
	if h.PID <= 0 {
		return "holder unknown"
	}
	return fmt.Sprintf("pid %d, started %s", h.PID, h.StartedAt.UTC().Format(time.RFC3339))
}

// Acquire takes the lock on f (TryLock) and writes into f who holds it:
// this process, start, the time its run began, and command, what it does
// ("read", "connect --reconnect"). When the lock is another's, the error
// wraps ErrLocked and the Holder is that run as the file names it (its
// zero value where the file says nothing readable), for the message that
// tells the user which run to wait for. The caller closes f on error.
func Acquire(f *os.File, start time.Time, command string) (Holder, error) {
	if err := TryLock(f); err != nil {
		b, _ := io.ReadAll(io.LimitReader(f, 4096))
		var h Holder
		if json.Unmarshal(b, &h) != nil || h.PID <= 0 {
			h = Holder{}
		}
		return h, err
	}
	b, _ := json.Marshal(Holder{PID: os.Getpid(), StartedAt: start.UTC(), Command: command})
	// Who holds the lock only serves the message a second run prints:
	// writing it is best effort.
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt(append(b, '\n'), 0)
	}
	return Holder{}, nil
}

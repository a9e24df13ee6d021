package source

import (
	"fmt"
	"time"
)

// clockOffset is set only by a test's -ldflags -X (sourcetest.BuildWithClock),
// never in a release build: a duration (time.ParseDuration, "-1h") added to
// the clock that StartTime reads, so that a test can run a binary whose
// clock is behind the previous run's. Go's clock cannot be faked from
// outside the process (it reads the vDSO, not libc).
var clockOffset string

// clockShift is clockOffset parsed. A build given a value that is no
// duration is a mistake of the test that built it, which it finds out as
// the binary starts.
var clockShift = func() time.Duration {
	if clockOffset == "" {
		return 0
	}
	d, err := time.ParseDuration(clockOffset)
	if err != nil {
		panic(fmt.Sprintf("source: the test build's clock offset (-ldflags -X ...source.clockOffset=%q): %v", clockOffset, err))
	}
	return d
}()

// StartTime is the clock's time that a run takes as its start where later
// runs must sort after it: the Parquet sink's run stamp, the Singer tap's
// table versions. Both keep their order when the clock steps back (see
// their docs); a test build moves this clock (clockOffset) to check that.
func StartTime() time.Time { return time.Now().Add(clockShift) }

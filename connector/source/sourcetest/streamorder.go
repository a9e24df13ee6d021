package sourcetest

import (
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// CheckStreamOrder checks, for any read, failed or not, what the Airbyte
// platform checks of each stream's messages as they arrive: its statuses
// go STARTED, RUNNING…, then at most one COMPLETE or INCOMPLETE (or a bare
// INCOMPLETE for a stream never started); none of its RECORD, STATE,
// ESTIMATE or status lines comes after that last status (the platform
// closes the stream there, and a record after COMPLETE is counted against
// no state); none of its records comes before its STARTED; and, when
// records are printed at all (not --no-records), each STATE's
// sourceStats.recordCount is the number of the stream's records since its
// previous STATE (0 for a STATE that covers none): the platform compares
// the two and fails or warns the sync on a mismatch.
func CheckStreamOrder(t testing.TB, r *Result) {
	t.Helper()
	printed := false
	statuses := r.Statuses()
	for _, m := range r.Messages {
		if m.Record != nil {
			printed = true
			break
		}
	}
	type stream struct {
		status protocol.Status // last status; "" before any
		ended  bool
		since  int
	}
	streams := map[string]*stream{}
	get := func(name string) *stream {
		s := streams[name]
		if s == nil {
			s = &stream{}
			streams[name] = s
		}
		return s
	}
	errs := 0
	fail := func(line int, format string, args ...any) {
		if errs++; errs <= 10 {
			t.Errorf("line %d: "+format, append([]any{line + 1}, args...)...)
		}
	}
	for i, m := range r.Messages {
		switch {
		case m.Record != nil:
			s := get(m.Record.Stream)
			switch {
			case s.ended:
				fail(i, "a record of %s after its %s", m.Record.Stream, s.status)
			case s.status == "" && len(statuses[m.Record.Stream]) > 0:
				fail(i, "a record of %s before its STARTED", m.Record.Stream)
			}
			s.since++
		case m.State != nil && m.State.Stream != nil:
			name := m.State.Stream.StreamDescriptor.Name
			s := get(name)
			if s.ended {
				fail(i, "a STATE of %s after its %s", name, s.status)
			}
			if printed && m.State.SourceStats != nil && int(m.State.SourceStats.RecordCount) != s.since {
				fail(i, "STATE of %s: recordCount %v, but %d records of it since its previous STATE", name, m.State.SourceStats.RecordCount, s.since)
			}
			s.since = 0
		case m.Trace != nil && m.Trace.Estimate != nil:
			if s := get(m.Trace.Estimate.Name); s.ended {
				fail(i, "an ESTIMATE of %s after its %s", m.Trace.Estimate.Name, s.status)
			}
		case m.Trace != nil && m.Trace.StreamStatus != nil:
			name := m.Trace.StreamStatus.StreamDescriptor.Name
			st := m.Trace.StreamStatus.Status
			s := get(name)
			switch {
			case s.ended:
				fail(i, "status %s of %s after its %s", st, name, s.status)
			case s.status == "" && st != protocol.Started && st != protocol.Incomplete:
				fail(i, "the first status of %s is %s, want STARTED", name, st)
			case s.status != "" && st == protocol.Started:
				fail(i, "a second STARTED of %s", name)
			}
			s.status = st
			s.ended = st == protocol.Complete || st == protocol.Incomplete
		}
	}
}

package sourcetest

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what CheckStreamOrder reports.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestCheckStreamOrder(t *testing.T) {
	const (
		started  = `{"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":1,"stream_status":{"stream_descriptor":{"name":"s"},"status":"STARTED"}}}`
		running  = `{"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":1,"stream_status":{"stream_descriptor":{"name":"s"},"status":"RUNNING"}}}`
		complete = `{"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":1,"stream_status":{"stream_descriptor":{"name":"s"},"status":"COMPLETE"}}}`
		failed   = `{"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":1,"stream_status":{"stream_descriptor":{"name":"s"},"status":"INCOMPLETE"}}}`
		errTrace = `{"type":"TRACE","trace":{"type":"ERROR","emitted_at":1,"error":{"message":"x","stream_descriptor":{"name":"s"}}}}`
		record   = `{"type":"RECORD","record":{"stream":"s","data":{},"emitted_at":1}}`
		other    = `{"type":"RECORD","record":{"stream":"o","data":{},"emitted_at":1}}`
		estimate = `{"type":"TRACE","trace":{"type":"ESTIMATE","emitted_at":1,"estimate":{"name":"s","type":"STREAM","row_estimate":2}}}`
	)
	state := func(n int) string {
		return `{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"s"},"stream_state":{}},"sourceStats":{"recordCount":` + fmt.Sprint(n) + `.0}}}`
	}
	cases := []struct {
		name  string
		lines []string
		want  string // a part of the one error, "" for none
	}{
		{"counts", []string{started, running, record, other, record, state(2), state(0), record, state(1), complete}, ""},
		{"failed stream", []string{started, running, record, state(1), failed, errTrace}, ""},
		{"never started", []string{failed, errTrace}, ""},
		{"no records printed (--no-records)", []string{started, running, state(7), complete}, ""},
		{"estimate", []string{started, estimate, running, record, state(1), complete}, ""},
		{"count of the previous state again", []string{started, running, record, state(1), state(1), complete}, "recordCount 1, but 0 records"},
		{"count of another stream's records", []string{started, running, other, record, state(2), complete}, "recordCount 2, but 1 records"},
		{"record after COMPLETE", []string{started, running, record, state(1), complete, record}, "a record of s after its COMPLETE"},
		{"state after INCOMPLETE", []string{started, running, record, failed, state(1)}, "a STATE of s after its INCOMPLETE"},
		{"estimate after COMPLETE", []string{started, running, record, state(1), complete, estimate}, "an ESTIMATE of s after its COMPLETE"},
		{"two ends", []string{started, running, record, state(1), complete, failed}, "status INCOMPLETE of s after its COMPLETE"},
		{"RUNNING first", []string{running, record, state(1), complete}, "the first status of s is RUNNING"},
		{"STARTED again", []string{started, running, started, complete}, "a second STARTED of s"},
		{"record before STARTED", []string{record, started, running, state(1), complete}, "a record of s before its STARTED"},
	}
	for _, c := range cases {
		rec := &recorder{TB: t}
		Parse(rec, []byte(strings.Join(c.lines, "\n")+"\n")) // Parse checks the order
		switch {
		case c.want == "" && len(rec.errs) > 0:
			t.Errorf("%s: unexpected %q", c.name, rec.errs)
		case c.want != "" && (len(rec.errs) != 1 || !strings.Contains(rec.errs[0], c.want)):
			t.Errorf("%s: reported %q, want one error with %q", c.name, rec.errs, c.want)
		}
	}
}

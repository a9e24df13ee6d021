package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// TestEstimateRowsSumsTheParts: EstimateRows sends the stream's running
// sum as a STREAM ESTIMATE when it changes (the first part's even at 0, a
// part of 0 rows after it not again, a negative one never), past the
// sinks (a sink sees none of it) and with --no-records too; nothing once
// the stream has begun to finish, so no ESTIMATE follows its COMPLETE;
// a sum too large for an int64 stays at the largest; outside a read it
// does nothing.
func TestEstimateRowsSumsTheParts(t *testing.T) {
	EstimateRows(context.Background(), 5) // outside a read: no panic, nothing
	for _, skip := range []bool{false, true} {
		var got bytes.Buffer
		w := protocol.NewWriter(&got, nil)
		sink := &memSink{}
		out, err := newStreamOutput(w, StreamInfo{Stream: stubStream{name: "accounts"}, Mode: protocol.FullRefresh}, []Sink{sink}, skip)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.WithValue(context.Background(), outputKey{}, out)
		for _, n := range []int64{0, 0, 3, -2, 0, 4} {
			EstimateRows(ctx, n)
		}
		if err := out.Record(jsonrow.Of([]byte(`{"id":"a"}`))); err != nil {
			t.Fatal(err)
		}
		if _, err := out.finish(nil, nil); err != nil {
			t.Fatal(err)
		}
		EstimateRows(ctx, 10) // after COMPLETE: dropped
		_ = w.Flush()

		var seq []string
		for _, line := range strings.Split(strings.TrimSpace(got.String()), "\n") {
			var m protocol.Message
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatal(err)
			}
			switch {
			case m.Trace != nil && m.Trace.Estimate != nil:
				e := m.Trace.Estimate
				if e.Name != "accounts" || e.Type != protocol.EstimateStream || !strings.Contains(line, `"row_estimate":`) {
					t.Errorf("ESTIMATE %s", line)
				}
				seq = append(seq, fmt.Sprint(e.RowEstimate))
			case m.Trace != nil && m.Trace.StreamStatus != nil:
				seq = append(seq, string(m.Trace.StreamStatus.Status))
			}
		}
		if want := "0 3 7 RUNNING COMPLETE"; strings.Join(seq, " ") != want {
			t.Errorf("no-records %v: estimates and statuses %q, want %q", skip, strings.Join(seq, " "), want)
		}
		if len(sink.rows) != 1 {
			t.Errorf("the sink got %d rows, want the one record", len(sink.rows))
		}
	}

	var got bytes.Buffer
	w := protocol.NewWriter(&got, nil)
	out, err := newStreamOutput(w, StreamInfo{Stream: stubStream{name: "s"}, Mode: protocol.FullRefresh}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.WithValue(context.Background(), outputKey{}, out)
	EstimateRows(ctx, math.MaxInt64-1)
	EstimateRows(ctx, 5)
	if out.rowEstimate != math.MaxInt64 {
		t.Errorf("an overflowing sum is %d, want the largest int64", out.rowEstimate)
	}
}

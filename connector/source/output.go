package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// noCursorState is the state a full_refresh stream ends with: the protocol
// asks for a state in every mode, and this sentinel is ignored when it comes
// back (see loadState).
var noCursorState = json.RawMessage(`{"__ab_no_cursor_state_message":true}`)

// streamOutput is the Output of one stream in one read. It owns the stream's
// lifecycle statuses and its checkpoint rules:
//   - RUNNING before the first record (or before COMPLETE if none came);
//   - a STATE carries sourceStats.recordCount, the records since the last one;
//   - identical consecutive states are not emitted twice;
//   - in full_refresh the stream's checkpoints are ignored and one sentinel
//     state ends the stream.
//
// One mutex covers a record's count and its write, so a STATE written by one
// worker never counts a record another worker has not yet written.
type streamOutput struct {
	w    *protocol.Writer
	name string
	mode protocol.SyncMode
	sink RecordSink // nil without --parquet-dir etc.
	skip bool       // write no RECORD messages to stdout

	mu      sync.Mutex
	running bool
	count   int64 // records since the last emitted state
	total   int64
	// lastState is the SHA-256 of the last state emitted, for the repeat
	// check: a hash rather than the bytes, as a state with per-account
	// windows can weigh megabytes.
	lastState []byte
	pending   []byte // a state held back until the sink has committed the records it covers
	// uncommitted counts records the sink has taken but not yet made
	// durable; a checkpoint is held back only while it is not zero.
	uncommitted int64
}

var _ Output = (*streamOutput)(nil)

func (o *streamOutput) Record(data []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.startLocked(); err != nil {
		return err
	}
	if !o.skip {
		if err := o.w.Record(o.name, data); err != nil {
			return err
		}
	}
	o.count++
	o.total++
	if o.sink != nil {
		committed, err := o.sink.Write(data)
		if err != nil {
			return fmt.Errorf("writing %s record to the sink: %w", o.name, err)
		}
		o.uncommitted++
		if committed {
			o.uncommitted = 0
			if o.pending != nil {
				return o.emitStateLocked(o.pending)
			}
		}
	}
	return nil
}

// RecordJoin is Record(jsonrow.Join(raw, key, value)) without building the
// joined row: the writer writes the member and then raw's bytes.
func (o *streamOutput) RecordJoin(raw []byte, key, value string) error {
	if o.sink != nil || mayHaveKey(raw, key) {
		// The sink takes whole rows; and only jsonrow knows whether a
		// mention of key is a top-level member.
		return o.Record(jsonrow.Join(raw, key, value))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.startLocked(); err != nil {
		return err
	}
	if !o.skip {
		if err := o.w.RecordJoin(o.name, key, value, raw); err != nil {
			return err
		}
	}
	o.count++
	o.total++
	return nil
}

// mayHaveKey reports whether raw might have key as a member: false when the
// quoted key appears nowhere in it. Keys that need escaping always answer
// true.
//
// bytes.Contains anchors its search on the needle's first byte, here '"',
// the commonest byte of JSON, and falls back to a byte-by-byte scan; so the
// search anchors on the key's least common byte instead (an upper-case
// letter in a camelCase key), which IndexByte finds 16-32 bytes at a time.
func mayHaveKey(raw []byte, key string) bool {
	var buf [64]byte
	q := append(append(append(buf[:0], '"'), key...), '"')
	anchor := 0
	for i, c := range q[1 : len(q)-1] {
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return true
		}
		if rarity(c) > rarity(q[anchor]) {
			anchor = i + 1
		}
	}
	for from := anchor; from < len(raw); {
		j := bytes.IndexByte(raw[from:], q[anchor])
		if j < 0 {
			return false
		}
		at := from + j - anchor // where q would start
		if at+len(q) <= len(raw) && string(raw[at:at+len(q)]) == string(q) {
			return true
		}
		from += j + 1
	}
	return false
}

// rarity ranks bytes by how seldom they occur in JSON rows: structure and
// lower-case text most often, upper case and symbols least.
func rarity(c byte) int {
	switch {
	case c == '"' || c == ':' || c == ',':
		return 0
	case 'a' <= c && c <= 'z' || c == ' ':
		return 1
	case '0' <= c && c <= '9':
		return 2
	default:
		return 3
	}
}

// startLocked sends RUNNING before the stream's first record.
func (o *streamOutput) startLocked() error {
	if o.running {
		return nil
	}
	o.running = true
	return o.w.StreamStatus(o.name, protocol.Running)
}

func (o *streamOutput) Checkpoint(state any) error {
	if o.mode != protocol.Incremental {
		return nil
	}
	b, err := encodeState(state)
	if err != nil {
		return fmt.Errorf("encoding %s state: %w", o.name, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.checkpointLocked(b)
}

// encodeState marshals a checkpoint. A state that encodes itself (a
// json.Marshaler, like the transactions state with its id windows) is taken
// as it comes rather than through encoding/json, which would re-validate and
// copy megabytes at every checkpoint; it is only made compact if it spans
// lines, since a STATE must stay on one line.
func encodeState(state any) ([]byte, error) {
	m, ok := state.(json.Marshaler)
	if !ok {
		return json.Marshal(state)
	}
	b, err := m.MarshalJSON()
	if err != nil {
		return nil, err
	}
	if bytes.IndexByte(b, '\n') >= 0 || bytes.IndexByte(b, '\r') >= 0 {
		var c bytes.Buffer
		if err := json.Compact(&c, b); err != nil {
			return nil, err
		}
		b = c.Bytes()
	}
	return b, nil
}

func (o *streamOutput) checkpointLocked(b []byte) error {
	if o.sink != nil && o.uncommitted > 0 {
		// The records this state covers are not durable in the sink's files
		// yet: hold the state until the sink commits them.
		o.pending = b
		return nil
	}
	return o.emitStateLocked(b)
}

func (o *streamOutput) emitStateLocked(b []byte) error {
	o.pending = nil
	sum := sha256.Sum256(b)
	if o.lastState != nil && bytes.Equal(sum[:], o.lastState) {
		return nil
	}
	if err := o.w.Send(&protocol.Message{Type: protocol.TypeState, State: &protocol.State{
		Type: protocol.StateStream,
		Stream: &protocol.StreamState{
			StreamDescriptor: protocol.StreamDescriptor{Name: o.name},
			StreamState:      b,
		},
		SourceStats: &protocol.StateStats{RecordCount: protocol.Count(o.count)},
	}}); err != nil {
		return err
	}
	o.lastState = sum[:]
	o.count = 0
	return nil
}

func (o *streamOutput) Log(level protocol.Level, msg string) {
	_ = o.w.Log(level, o.name+": "+msg)
}

// finish ends the stream: on success the final state (after the sink has
// committed) and COMPLETE; on failure INCOMPLETE and an ERROR trace. States
// already emitted stand either way.
func (o *streamOutput) finish(readErr error, input json.RawMessage) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sink != nil {
		// Even a failed stream's committed records keep their state: the
		// next run must not read them again, nor skip what was not written.
		if err := o.sink.Commit(); err != nil {
			if readErr == nil {
				readErr = fmt.Errorf("committing %s files: %w", o.name, err)
			}
		} else if o.pending != nil {
			if err := o.emitStateLocked(o.pending); err != nil {
				return err
			}
		}
	}
	if readErr == nil {
		// A full_refresh stream's checkpoints are ignored, so it always ends
		// with the sentinel. An incremental stream checkpoints itself; only
		// one that never did (no partitions at all) gets its input state back.
		switch {
		case o.mode != protocol.Incremental:
			if err := o.emitStateLocked(noCursorState); err != nil {
				return err
			}
		case o.lastState == nil:
			final := input
			if len(final) == 0 {
				final = []byte(`{}`)
			}
			if err := o.emitStateLocked(final); err != nil {
				return err
			}
		}
		if !o.running {
			if err := o.w.StreamStatus(o.name, protocol.Running); err != nil {
				return err
			}
		}
		return o.w.StreamStatus(o.name, protocol.Complete)
	}
	if err := o.w.StreamStatus(o.name, protocol.Incomplete); err != nil {
		return err
	}
	return o.w.Error(FailureTypeOf(readErr), o.name, userMessage(readErr), readErr.Error())
}

type outputKey struct{}

// NotifyRateLimited tells the platform the stream read with ctx is waiting
// out a rate limit until resetAt: a RUNNING status with a RATE_LIMITED reason.
// HTTP clients call it from their retry loop; outside a read it does nothing.
func NotifyRateLimited(ctx context.Context, resetAt time.Time) {
	o, ok := ctx.Value(outputKey{}).(*streamOutput)
	if !ok {
		return
	}
	_ = o.w.StreamStatus(o.name, protocol.Running, protocol.StatusReason{
		Type:        "RATE_LIMITED",
		RateLimited: &protocol.RateLimited{QuotaReset: resetAt.UnixMilli()},
	})
}

// LogFrom writes a LOG message attributed to the stream being read with ctx,
// or a plain one when ctx is not a stream's.
func LogFrom(ctx context.Context, level protocol.Level, msg string) {
	if o, ok := ctx.Value(outputKey{}).(*streamOutput); ok {
		o.Log(level, msg)
		return
	}
	if l, ok := ctx.Value(loggerKey{}).(*Logger); ok {
		l.log(level, msg)
	}
}

package source

import (
	"crypto/sha256"
	"encoding/json"
	"io"
	"sync"
)

// State is a stream's whole state on its way down the sink chain: a
// checkpoint or an announcement. Its JSON is made when a link first asks
// for it (JSON), once: a sink that holds a state and then drops it for a
// newer one, as PostgreSQL does between its commits, never pays for that
// state's bytes. The transactions state weighs megabytes (its tombstone
// windows); made at every checkpoint and announcement, up to three copies
// of it were alive at once in a load into PostgreSQL (the one being
// committed, the newest held, the next being made), now one. The zero
// State is no state.
type State struct{ v *stateValue }

type stateValue struct {
	once sync.Once
	snap json.Marshaler // until encoded
	b    json.RawMessage
	err  error
}

// StateOf returns the state whose JSON is b (compact, one line).
func StateOf(b json.RawMessage) State {
	if b == nil {
		return State{}
	}
	return State{&stateValue{b: b}}
}

// IsZero reports whether s is no state.
func (s State) IsZero() bool { return s.v == nil }

// JSON returns the state's JSON, compact, encoding it on the first call.
// Safe for concurrent use; the zero State's is nil.
func (s State) JSON() (json.RawMessage, error) {
	if s.v == nil {
		return nil, nil
	}
	s.v.once.Do(func() {
		if s.v.snap != nil {
			s.v.b, s.v.err = encodeState(s.v.snap)
			s.v.snap = nil // the bytes replace the snapshot's hold on the state
		}
	})
	return s.v.b, s.v.err
}

// A Snapshotter is a state the runtime need not encode when the stream
// checkpoints or announces it. Snapshot returns a value that no later
// change to the state alters, whose JSON is the state's now; the runtime
// calls it from the Checkpoint or Announce call (under the partitions'
// lock, for a Partitions state) and encodes the snapshot only when a sink
// asks for the state's JSON, perhaps on another goroutine, perhaps never.
// So a snapshot shares what does not change with the state and encodes
// without writing to anything shared. Its JSON must be compact.
type Snapshotter interface {
	Snapshot() json.Marshaler
}

// A JSONWriter writes its JSON (the bytes MarshalJSON returns) to w
// without building it whole first: the runtime hashes a snapshot that is
// one (to drop a state that repeats the last one) without making a copy of
// a state of megabytes.
type JSONWriter interface {
	WriteJSON(w io.Writer) error
}

// sum is the SHA-256 of the state's JSON, taken from the snapshot while it
// is not encoded, so that checking a state against the last one does not
// make its bytes.
func (s State) sum() ([sha256.Size]byte, error) {
	var out [sha256.Size]byte
	if s.v == nil {
		return out, nil
	}
	h := sha256.New()
	if w, ok := s.v.snap.(JSONWriter); ok && !s.encoded() {
		if err := w.WriteJSON(h); err != nil {
			return out, err
		}
	} else {
		b, err := s.JSON()
		if err != nil {
			return out, err
		}
		h.Write(b)
	}
	h.Sum(out[:0])
	return out, nil
}

// encoded reports whether JSON has run. Only the goroutine that made the
// state calls it, before handing the state on.
func (s State) encoded() bool { return s.v.snap == nil }

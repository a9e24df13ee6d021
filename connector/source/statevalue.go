package source

import (
	"crypto/sha256"
	"encoding/json"
	"io"
	"sync"
)

// State is a stream's whole state on its way down the sink chain: a
// checkpoint or an announcement. It is made neither when the stream emits
// it nor when a sink holds it: a stream's snapshot (Snapshotter) is
// written (WriteJSON) straight to where it goes, stdout or a database,
// and its bytes are made (JSON) only for a link that needs them whole.
// The transactions state weighs megabytes (its tombstone windows); made
// whole at every checkpoint and announcement, up to three copies of it
// were alive at once in a load into PostgreSQL (the one being committed,
// the newest held, the next being made) and a fourth in the driver's
// buffer; now none is. The zero State is no state.
type State struct{ v *stateValue }

type stateValue struct {
	// snap is the stream's snapshot, or nil for a state made from its
	// bytes; it never changes.
	snap json.Marshaler
	once sync.Once
	b    json.RawMessage
	err  error
}

// StateOf returns the state whose JSON is b (compact, one line).
func StateOf(b json.RawMessage) State {
	if b == nil {
		return State{}
	}
	v := &stateValue{b: b}
	v.once.Do(func() {})
	return State{v}
}

// StateOfSnapshot returns the state whose JSON is snap's (see Snapshotter:
// it never changes, and is encoded only when a sink asks). A nil snap is
// no state.
func StateOfSnapshot(snap json.Marshaler) State {
	if snap == nil {
		return State{}
	}
	return State{&stateValue{snap: snap}}
}

// Snapshot returns the stream's snapshot the state was made from, or nil
// for a state made from its bytes (StateOf) and for no state. A stream
// may read its own snapshot back (StateMerger) instead of parsing the
// state's JSON; it must not change it.
func (s State) Snapshot() json.Marshaler {
	if s.v == nil {
		return nil
	}
	return s.v.snap
}

// IsZero reports whether s is no state.
func (s State) IsZero() bool { return s.v == nil }

// JSON returns the state's JSON, compact, making it on the first call and
// keeping it. Safe for concurrent use; the zero State's is nil.
func (s State) JSON() (json.RawMessage, error) {
	if s.v == nil {
		return nil, nil
	}
	s.v.once.Do(func() { s.v.b, s.v.err = encodeState(s.v.snap) })
	return s.v.b, s.v.err
}

// WriteJSON writes the state's JSON to w: streamed from the snapshot when
// it is a JSONWriter, so that neither the bytes nor a copy of them are
// made (PostgreSQL's COPY and stdout take a state of megabytes this way),
// else the bytes JSON returns. An error of a JSONWriter snapshot is w's.
// Safe for concurrent use; the zero State writes nothing.
func (s State) WriteJSON(w io.Writer) error {
	if s.v == nil {
		return nil
	}
	if jw, ok := s.v.snap.(JSONWriter); ok {
		return jw.WriteJSON(w)
	}
	b, err := s.JSON()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// A Snapshotter is a state the runtime need not encode when the stream
// checkpoints or announces it. Snapshot returns a value that no later
// change to the state alters, whose JSON is the state's now; the runtime
// calls it from the Checkpoint or Announce call (under the partitions'
// lock, for a Partitions state) and encodes the snapshot only when a sink
// asks for the state's JSON, perhaps on another goroutine, perhaps more
// than once, perhaps never. So a snapshot shares what does not change with
// the state and encodes without writing to anything shared. Its JSON must
// be compact.
type Snapshotter interface {
	Snapshot() json.Marshaler
}

// A JSONWriter writes its JSON (the bytes MarshalJSON returns) to w
// without building it whole first, and fails only when w does: the
// runtime hashes such a snapshot (to drop a state that repeats the last
// one), writes it to stdout and PostgreSQL streams it into its _state
// table, each without making the state's bytes.
type JSONWriter interface {
	WriteJSON(w io.Writer) error
}

// Sum is the SHA-256 of the state's JSON, streamed from a JSONWriter
// snapshot: a sink that must not pass on the same state twice compares
// states of megabytes without making their bytes.
func (s State) Sum() ([sha256.Size]byte, error) {
	var out [sha256.Size]byte
	h := sha256.New()
	if err := s.WriteJSON(h); err != nil {
		return out, err
	}
	h.Sum(out[:0])
	return out, nil
}

// streams reports whether WriteJSON streams the state rather than write
// its bytes.
func (s State) streams() bool {
	if s.v == nil {
		return false
	}
	_, ok := s.v.snap.(JSONWriter)
	return ok
}

package source

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// loadState reads a state file into each stream's last state. It accepts
// what platforms pass and what users keep of a read's output: every form
// ParseState (statedecode.go) takes, or no file at all.
//
// A state for a stream this source does not have is a config error rather
// than something to skip: it means the file belongs to another connector or
// was hand-edited, and reading on would silently re-read everything.
//
// reset names the streams the file gives a null state (ParseStateResets).
func loadState(path string, streams []Stream) (states map[string]json.RawMessage, reset []string, err error) {
	if path == "" {
		return map[string]json.RawMessage{}, nil, nil
	}
	raw, err := readInput("state", path)
	if err != nil {
		return nil, nil, err
	}
	return ParseStateResets(path, raw, streams)
}

// decodeStateMessage decodes one state message. One without a type but
// with a "stream" (or "global") object is taken as that type: read as a
// legacy state it had no data, so its stream started over from start_date
// without a word, spending a bank's daily calls on history already read.
func decodeStateMessage(raw json.RawMessage) (protocol.State, error) {
	var m protocol.State
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, fmt.Errorf("%s", describeJSONError(err))
	}
	if m.Type == "" && m.Data == nil {
		switch {
		case m.Stream != nil && m.Global == nil:
			m.Type = protocol.StateStream
		case m.Global != nil && m.Stream == nil:
			m.Type = protocol.StateGlobal
		}
	}
	return m, nil
}

func addLegacy(field string, data json.RawMessage, add func(field, name string, st json.RawMessage) error) error {
	if len(data) == 0 {
		return nil
	}
	var legacy map[string]json.RawMessage
	if err := json.Unmarshal(data, &legacy); err != nil {
		return ConfigErrorf("state: %s must map stream names to states: %s", field, describeJSONError(err))
	}
	for name, st := range legacy {
		if err := add(fmt.Sprintf("%s[%q]", field, name), name, st); err != nil {
			return err
		}
	}
	return nil
}

func isNoCursorSentinel(st json.RawMessage) bool {
	var m map[string]any
	if json.Unmarshal(st, &m) != nil {
		return false
	}
	_, ok := m[noCursorKey]
	return ok && len(m) == 1
}

// States gathers the streams' states out of a state file: the one path
// every shape of state takes, Airbyte's messages and legacy object here,
// Singer's bookmarks in connector/singer, so each is checked the same way.
type States struct {
	path    string
	streams []Stream
	seen    map[string]string // stream name → the field that gave its state
	out     map[string]json.RawMessage
	// reset names the streams whose state was given as null (or a state
	// message without one), which start from scratch: Airbyte sends that
	// after a stream reset. resetAll is a whole state given as null.
	reset    map[string]bool
	resetAll bool
}

// NewStates starts gathering the states of the file path (named in errors)
// for a source with streams.
func NewStates(path string, streams []Stream) *States {
	return &States{path: path, streams: streams, seen: map[string]string{}, out: map[string]json.RawMessage{}, reset: map[string]bool{}}
}

// Add takes st as stream name's state, found at field of the file (say
// `[0].stream`, or `bookmarks["transactions"]`). The stream must be the
// source's and given once; null, the no-cursor sentinel and an absent
// state mean none; anything else must be a JSON object.
func (s *States) Add(field, name string, st json.RawMessage) error {
	if name == "" {
		return ConfigErrorf("state %s: %s has no stream name", s.path, field)
	}
	if !slices.ContainsFunc(s.streams, func(x Stream) bool { return x.Name() == name }) {
		return ConfigErrorf("state %s: %s names stream %q, which this source does not have (streams: %s); pass the state file this connector wrote", s.path, field, name, streamNames(s.streams))
	}
	if first, dup := s.seen[name]; dup {
		return ConfigErrorf("state %s: %s gives stream %q a second state (the first is %s); which one holds is anyone's guess, so keep one", s.path, field, name, first)
	}
	s.seen[name] = field
	delete(s.reset, name)
	st = bytes.TrimSpace(st)
	if len(st) == 0 || bytes.Equal(st, []byte("null")) || isEmptyObject(st) {
		// null means "reset this stream"; so does {}, as Airbyte's CDK
		// and the Meltano SDK read an empty stream state.
		s.reset[name] = true
		return nil
	}
	if isNoCursorSentinel(st) {
		return nil // a full refresh's end marker: nothing to resume
	}
	if st[0] != '{' {
		return ConfigErrorf("state %s: %s for stream %q must be a JSON object, or null to read the stream from the start", s.path, field, name)
	}
	s.out[name] = withoutSentinel(st)
	return nil
}

// isEmptyObject reports st is {} (with any spacing inside).
func isEmptyObject(st json.RawMessage) bool {
	if len(st) < 2 || st[0] != '{' {
		return false
	}
	var m map[string]json.RawMessage
	return json.Unmarshal(st, &m) == nil && len(m) == 0
}

// withoutSentinel is st without the no-cursor sentinel member beside its
// own members. Meltano merges the STATE values of a run that failed into
// the last complete state at depth, so a stream read FULL_TABLE in that run
// (its bookmark the sentinel) and incrementally before keeps its
// incremental state with the sentinel in it, which no connector wrote and
// the stream's check refused at every later run. The rest is the state the
// stream had before the full-table read: resuming from it re-reads, never
// skips.
func withoutSentinel(st json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if !bytes.Contains(st, []byte(noCursorKey)) || json.Unmarshal(st, &m) != nil {
		return st
	}
	if _, ok := m[noCursorKey]; !ok {
		return st
	}
	delete(m, noCursorKey)
	out, err := json.Marshal(m)
	if err != nil {
		return st
	}
	return out
}

// noCursorKey is the member of Airbyte's no-cursor sentinel state,
// {"__ab_no_cursor_state_message": true}.
const noCursorKey = "__ab_no_cursor_state_message"

// ResetAll takes a whole state given as null: every stream it leaves
// without a state starts from scratch.
func (s *States) ResetAll() { s.resetAll = true }

// Map is the states gathered so far, by stream name; a stream without one
// has no entry. It is nil when the file named no stream at all (an empty
// file, [], {}, {"bookmarks": {}}): that is no state, and the read says so
// as it does when none is passed (logStateless), not as of a state that
// holds full-refresh streams' end markers only.
func (s *States) Map() map[string]json.RawMessage {
	if len(s.seen) == 0 && !s.resetAll {
		return nil
	}
	return s.out
}

// Reset is the sorted names of the streams the file resets: those given a
// null state, and, after a whole state given as null, every stream left
// without one.
func (s *States) Reset() []string {
	var names []string
	for _, st := range s.streams {
		name := st.Name()
		if _, has := s.out[name]; !has && (s.reset[name] || s.resetAll) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

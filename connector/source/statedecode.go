package source

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// DecodeState decodes a stream state this connector wrote into v, which must
// carry a "version" field equal to version: states keep a version so their
// shape can evolve, and one of another shape is rejected rather than
// misread. An empty raw (no state yet) leaves v as it is and returns false.
// Errors name the stream, for StateChecker.
func DecodeState(stream string, raw json.RawMessage, version int, v any) (bool, error) {
	return decodeState(stream, raw, version, v, false)
}

// DecodeStateStrict is DecodeState refusing a member v does not know, at
// any depth: a state whose own fields are all optional (a per-account place
// that may be empty) would otherwise take another connector's state for an
// empty one, and silently re-read everything.
func DecodeStateStrict(stream string, raw json.RawMessage, version int, v any) (bool, error) {
	return decodeState(stream, raw, version, v, true)
}

func decodeState(stream string, raw json.RawMessage, version int, v any, strict bool) (bool, error) {
	if len(raw) == 0 {
		return false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		if strict && strings.HasPrefix(err.Error(), "json: unknown field") {
			return false, fmt.Errorf("%s state: %s: this is not a state this connector wrote (another connector's?); pass the state it wrote, or none to read from the start", stream, strings.TrimPrefix(err.Error(), "json: "))
		}
		return false, fmt.Errorf("%s state: %w", stream, err)
	}
	if trailing(dec, raw) {
		return false, fmt.Errorf("%s state: data after its JSON object", stream)
	}
	var probe struct {
		Version int `json:"version"`
	}
	_ = json.Unmarshal(raw, &probe)
	if probe.Version != version {
		return false, fmt.Errorf("%s state: version %d is not one this connector reads (it writes version %d)", stream, probe.Version, version)
	}
	return true, nil
}

// CheckEntries checks the per-partition entries of a decoded state
// (accounts, quotas): none null, and each passing check when it is not nil.
// Errors name the stream, the field and the key, for StateChecker.
func CheckEntries[T any](stream, field string, entries map[string]*T, check func(e *T) error) error {
	for key, e := range entries {
		if e == nil {
			return fmt.Errorf("%s state: %s[%q] is null", stream, field, key)
		}
		if check != nil {
			if err := check(e); err != nil {
				return fmt.Errorf("%s state: %s[%q].%w", stream, field, key, err)
			}
		}
	}
	return nil
}

// ParseState is loadState on a state already read: raw is the content of a
// state file, and path names it in errors. It takes:
//
//   - what platforms pass: a JSON array of AirbyteStateMessage (STREAM, or a
//     single GLOBAL), one such message on its own, a legacy object mapping
//     stream names to states, or no state (empty, [] or null);
//   - what a read printed: its STATE messages, {"type":"STATE","state":...},
//     one on its own, in a JSON array, or one JSON value per line (grep
//     '"STATE"' of a saved stdout, or the whole stdout: its RECORD, LOG,
//     TRACE and other messages are skipped);
//   - what the Singer mode printed: its state {"bookmarks": {...}} or its
//     STATE message {"type":"STATE","value":{...}}, whose bookmarks are
//     the per-stream states the Airbyte mode writes (connector/singer);
//     and Meltano's record of that state, {"singer_state": {...}};
//   - the Connection state Airbyte's UI shows and takes back: an array of
//     {"streamDescriptor": {"name": ...}, "streamState": {...}}.
//
// In a sequence of states (lines, or an array holding messages), a
// stream's later STREAM state replaces its earlier one: a stream's state
// holds everything before it, so the last is where the stream resumes. A
// platform's array of state messages holds one per stream, and one given
// twice there is refused, as is a GLOBAL state beside any other, or a
// stream named by a GLOBAL or legacy state and by another state.
func ParseState(path string, raw []byte, streams []Stream) (map[string]json.RawMessage, error) {
	states, _, err := ParseStateResets(path, raw, streams)
	return states, err
}

// ParseStateResets is ParseState also returning the streams the state
// resets: those whose state it gives as null (a STREAM state without
// stream_state, as Airbyte sends after a stream reset, or a Singer
// bookmark of null), and every stream, when the whole state is null (null,
// a Singer STATE message whose value is null, Meltano's {"singer_state":
// null}). A read starts them from scratch and says so.
func ParseStateResets(path string, raw []byte, streams []Stream) (map[string]json.RawMessage, []string, error) {
	p := &stateParser{path: path, streams: streams, states: NewStates(path, streams),
		kinds: map[protocol.StateType]int{}, cumulative: map[string]bool{}}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return p.states.Map(), nil, nil
	}
	if bytes.Equal(raw, []byte("null")) {
		p.states.ResetAll()
		return p.states.Map(), p.states.Reset(), nil
	}
	values, lines, serr := splitJSONValues(raw)
	if serr != nil {
		return nil, nil, serr.describe(path, raw)
	}
	if len(values) == 1 {
		if err := p.document(values[0]); err != nil {
			return nil, nil, err
		}
	} else {
		p.sequence = true
		for i, v := range values {
			root := fmt.Sprintf("line %d", lines[i])
			if v[0] != '{' {
				return nil, nil, ConfigErrorf("state %s: %s is not a JSON object; a state file of one JSON value per line holds STATE messages (the lines a read printed) or state objects, one per line", path, root)
			}
			if err := p.object(root, v, false); err != nil {
				return nil, nil, err
			}
		}
	}
	if p.items == 0 && p.skipped > 0 {
		return nil, nil, ConfigErrorf("state %s holds %d protocol messages but no STATE message: the read it comes from ended before its first checkpoint (then pass no --state, to read from start_date), or this is not a read's output; pass the STATE lines a read printed", path, p.skipped)
	}
	return p.states.Map(), p.states.Reset(), nil
}

// stateParser gathers the states of one state file.
type stateParser struct {
	path    string
	streams []Stream
	states  *States
	// sequence is set for a sequence of states (lines, or an array holding
	// messages), where a stream's later STREAM state replaces its earlier.
	sequence bool
	// cumulative names the streams whose state a STREAM state of the
	// sequence gave, which a later one may replace.
	cumulative map[string]bool
	// kinds counts the state messages by type, to keep a GLOBAL state alone.
	kinds map[protocol.StateType]int
	// items counts the states found; skipped, the other messages.
	items, skipped int
}

// skippedTypes are the messages of a read's output other than STATE, in
// Airbyte's protocol and in Singer's: a saved stdout passed whole skips them.
var skippedTypes = map[string]bool{
	"RECORD": true, "LOG": true, "TRACE": true, "SPEC": true, "CONNECTION_STATUS": true,
	"CATALOG": true, "CONTROL": true, "SCHEMA": true, "ACTIVATE_VERSION": true, "BATCH": true,
}

// document parses a state file that is one JSON value.
func (p *stateParser) document(raw json.RawMessage) error {
	switch raw[0] {
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return ConfigErrorf("state %s is not a JSON array of state messages: %s", p.path, describeJSONError(err))
		}
		// An array holding a read's messages ({"type":"STATE",...}, as
		// `jq -s` gathers them) is a sequence; one of bare state messages
		// is a platform's state, one message per stream.
		for _, e := range elems {
			if t := messageType(e); t == "STATE" || skippedTypes[t] {
				p.sequence = true
			}
		}
		for i, e := range elems {
			if err := p.object(fmt.Sprintf("[%d]", i), e, true); err != nil {
				return err
			}
		}
		return nil
	case '{':
		return p.object("state", raw, false)
	}
	return ConfigErrorf("state %s must be a JSON array of state messages, a state object, or STATE messages one per line (as a read printed them); it is a JSON %s", p.path, jsonKind(raw))
}

// object parses one JSON object of the file, found at root: a message of a
// read's output, a state message, or a state object. In an array, an
// object that is no message is a state message, as it always was.
func (p *stateParser) object(root string, raw json.RawMessage, inArray bool) error {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil || probe == nil {
		if inArray {
			// As it always was: decoded as a state message, null (no
			// state) included.
			m, err := decodeStateMessage(raw)
			if err != nil {
				return ConfigErrorf("state %s: %s is not a state message: %s", p.path, root, err)
			}
			return p.message(root, m)
		}
		return ConfigErrorf("state %s: %s is not a JSON object: %s", p.path, root, describeJSONError(err))
	}
	typ := typeOf(probe["type"])
	switch {
	case typ == "STATE":
		if inner, ok := probe["state"]; ok {
			// An Airbyte message: its "state" is the AirbyteStateMessage.
			field := root + ".state"
			if len(bytes.TrimSpace(inner)) == 0 || bytes.TrimSpace(inner)[0] != '{' {
				return ConfigErrorf("state %s: %s must be a state message object, as a read prints it ({\"type\":\"STREAM\",\"stream\":{...}})", p.path, field)
			}
			m, err := decodeStateMessage(inner)
			if err != nil {
				return ConfigErrorf("state %s: %s is not a state message: %s", p.path, field, err)
			}
			return p.message(field, m)
		}
		if value, ok := probe["value"]; ok {
			// A Singer STATE message: its value is the Singer state.
			field := root + ".value"
			if bytes.Equal(bytes.TrimSpace(value), []byte("null")) {
				// No state, as the tap takes it: every stream this
				// file leaves without a state starts from scratch.
				p.items++
				p.states.ResetAll()
				return nil
			}
			var v map[string]json.RawMessage
			if err := json.Unmarshal(value, &v); err != nil || v == nil {
				return ConfigErrorf("state %s: %s, the Singer STATE message's value, must be a JSON object ({\"bookmarks\": {...}}), or null for no state", p.path, field)
			}
			if bm, ok := v["bookmarks"]; ok && !p.hasStream("bookmarks") {
				return p.bookmarks(field+".bookmarks", bm)
			}
			return p.object(field, value, false)
		}
		return ConfigErrorf("state %s: %s is a STATE message with neither \"state\" (Airbyte's) nor \"value\" (Singer's); pass the STATE lines as the read printed them", p.path, root)
	case skippedTypes[typ]:
		p.skipped++
		return nil
	case probe["streamDescriptor"] != nil && probe["type"] == nil:
		return p.apiStreamState(root, probe)
	case inArray:
		if len(probe) > 0 && !slices.ContainsFunc([]string{"type", "stream", "global", "data"}, func(k string) bool { return probe[k] != nil }) {
			// Taken for a legacy message of no data, it would hold
			// nothing, and the read would start every stream over.
			return ConfigErrorf("state %s: %s is not a state message: it has none of \"type\", \"stream\", \"global\" and \"data\" (its members: %s); pass the state file a platform or --state-file wrote, or the STATE messages a read printed",
				p.path, root, strings.Join(slices.Sorted(maps.Keys(probe)), ", "))
		}
		m, err := decodeStateMessage(raw)
		if err != nil {
			return ConfigErrorf("state %s: %s is not a state message: %s", p.path, root, err)
		}
		return p.message(root, m)
	}
	_, isMsg := probe["type"]
	_, hasStream := probe["stream"]
	_, hasGlobal := probe["global"]
	if isMsg || hasStream || hasGlobal {
		m, err := decodeStateMessage(raw)
		if err != nil {
			return ConfigErrorf("state %s: %s is not a state message: %s", p.path, root, err)
		}
		return p.message(root, m)
	}
	if bm, ok := probe["bookmarks"]; ok && !p.hasStream("bookmarks") {
		return p.bookmarks(root+".bookmarks", bm)
	}
	if ss, ok := probe["singer_state"]; ok && len(probe) == 1 && !p.hasStream("singer_state") {
		// Meltano's record of a Singer state, as `meltano state get`
		// prints it and `meltano state set` takes it: the tap's state
		// under "singer_state" (null: none).
		if ss = bytes.TrimSpace(ss); bytes.Equal(ss, []byte("null")) {
			p.states.ResetAll()
			return nil
		}
		return p.object(root+".singer_state", ss, false)
	}
	// A legacy object: stream names to states.
	p.items++
	p.kinds[protocol.StateLegacy]++
	if err := p.checkGlobal(root); err != nil {
		return err
	}
	return addLegacy(root, raw, p.states.Add)
}

// apiStreamState takes a stream's state as Airbyte's API and UI give it,
// {"streamDescriptor": {"name": …}, "streamState": {…}}: the Connection
// state a user copies from the connection's settings (an array of these)
// to move it, as connect --reconnect does, and pastes back. Taken for a
// legacy state message, it held nothing, and the read started every
// stream over.
func (p *stateParser) apiStreamState(root string, probe map[string]json.RawMessage) error {
	var d protocol.StreamDescriptor
	if err := json.Unmarshal(probe["streamDescriptor"], &d); err != nil {
		return ConfigErrorf("state %s: %s.streamDescriptor must be an object naming the stream ({\"name\": \"transactions\"}), as Airbyte's Connection state gives it: %s", p.path, root, describeJSONError(err))
	}
	p.items++
	p.kinds[protocol.StateStream]++
	if err := p.checkGlobal(root); err != nil {
		return err
	}
	return p.stream(root, d.Name, probe["streamState"])
}

// message takes one AirbyteStateMessage, found at field.
func (p *stateParser) message(field string, m protocol.State) error {
	p.items++
	switch m.Type {
	case protocol.StateStream, protocol.StateGlobal, protocol.StateLegacy, "":
	default:
		return ConfigErrorf("state %s: %s.type %q is not STREAM, GLOBAL or LEGACY (a state message's), nor STATE (a read's message); pass the state file a platform or --state-file wrote, or the STATE messages a read printed", p.path, field, m.Type)
	}
	kind := m.Type
	if kind == "" {
		kind = protocol.StateLegacy
	}
	p.kinds[kind]++
	if err := p.checkGlobal(field); err != nil {
		return err
	}
	switch m.Type {
	case protocol.StateStream:
		if m.Stream == nil {
			return ConfigErrorf("state %s: %s has type STREAM but no \"stream\" object", p.path, field)
		}
		return p.stream(field+".stream", m.Stream.StreamDescriptor.Name, m.Stream.StreamState)
	case protocol.StateGlobal:
		if m.Global == nil {
			return ConfigErrorf("state %s: %s has type GLOBAL but no \"global\" object", p.path, field)
		}
		for i, s := range m.Global.StreamStates {
			if err := p.states.Add(fmt.Sprintf("%s.global.stream_states[%d]", field, i), s.StreamDescriptor.Name, s.StreamState); err != nil {
				return err
			}
		}
		return nil
	}
	return addLegacy(field+".data", m.Data, p.states.Add)
}

// checkGlobal refuses a GLOBAL state beside any other state message: a
// state file holds one GLOBAL message, or others.
func (p *stateParser) checkGlobal(field string) error {
	if g := p.kinds[protocol.StateGlobal]; g > 0 && (g > 1 || len(p.kinds) > 1) {
		return ConfigErrorf("state %s: %s mixes a GLOBAL state with other state messages; a state file holds one GLOBAL message or STREAM messages, never both", p.path, field)
	}
	return nil
}

// bookmarks takes a Singer state's bookmarks, found at field: each is the
// stream's state, as the Airbyte mode writes it.
func (p *stateParser) bookmarks(field string, raw json.RawMessage) error {
	p.items++
	p.kinds[protocol.StateStream]++
	if err := p.checkGlobal(field); err != nil {
		return err
	}
	var bm map[string]json.RawMessage
	if err := json.Unmarshal(raw, &bm); err != nil {
		return ConfigErrorf("state %s: %s must map stream names to their states (a Singer state's \"bookmarks\"): %s", p.path, field, describeJSONError(err))
	}
	for _, name := range slices.Sorted(maps.Keys(bm)) {
		if err := p.stream(fmt.Sprintf("%s[%q]", field, name), name, bm[name]); err != nil {
			return err
		}
	}
	return nil
}

// stream takes st as stream name's state, found at field. In a sequence a
// stream's later state replaces its earlier one; elsewhere a stream given
// twice is refused (States.Add).
func (p *stateParser) stream(field, name string, st json.RawMessage) error {
	if p.sequence && p.cumulative[name] {
		delete(p.states.seen, name)
		delete(p.states.out, name)
	}
	if err := p.states.Add(field, name, st); err != nil {
		return err
	}
	if p.sequence {
		p.cumulative[name] = true
	}
	return nil
}

func (p *stateParser) hasStream(name string) bool {
	return slices.ContainsFunc(p.streams, func(s Stream) bool { return s.Name() == name })
}

// messageType is the "type" of a JSON object, upper-cased, or "".
func messageType(raw json.RawMessage) string {
	var probe struct {
		Type json.RawMessage `json:"type"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return ""
	}
	return typeOf(probe.Type)
}

// typeOf is a "type" member, upper-cased, or "" when it is not a string.
func typeOf(raw json.RawMessage) string {
	var t string
	if json.Unmarshal(raw, &t) != nil {
		return ""
	}
	return strings.ToUpper(t)
}

func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// splitError is a state file that is not JSON, or not JSON values one
// after the other.
type splitError struct {
	line int   // of the value that failed; 0 for the first
	err  error // the decoder's
}

func (e *splitError) describe(path string, raw []byte) error {
	if e.line == 0 {
		// The file's first value: say what the whole file is not, as
		// json.Unmarshal of it says.
		err := json.Unmarshal(raw, new(any))
		if err == nil {
			err = e.err
		}
		if raw[0] == '[' {
			return ConfigErrorf("state %s is not a JSON array of state messages: %s", path, describeJSONError(err))
		}
		return ConfigErrorf("state %s is not valid JSON: %s", path, describeJSONError(err))
	}
	return ConfigErrorf("state %s: line %d is not valid JSON: %s; a state file holds one JSON document, or one JSON value per line (such as the STATE lines a read printed)", path, e.line, describeJSONError(e.err))
}

// splitJSONValues splits raw into its JSON values, one after the other
// (one a line, usually), and the line each starts on.
func splitJSONValues(raw []byte) ([]json.RawMessage, []int, *splitError) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var values []json.RawMessage
	var lines []int
	line, counted := 1, 0
	for {
		end := int(dec.InputOffset())
		start := end + len(raw[end:]) - len(bytes.TrimLeft(raw[end:], " \t\r\n"))
		if start == len(raw) {
			return values, lines, nil
		}
		line += bytes.Count(raw[counted:start], []byte("\n"))
		counted = start
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			if len(values) == 0 {
				return nil, nil, &splitError{err: err}
			}
			return nil, nil, &splitError{line: line, err: err}
		}
		values = append(values, bytes.TrimSpace(v))
		lines = append(lines, line)
	}
}

// logStateless logs, in one line, the selected incremental streams that
// start without a state, so that a state missing a stream (a state file
// without its lines, only the last STATE line of a read, a stream new to
// the catalog) is not a silent re-read from start_date: a WARN when the
// input state has states for other streams or only full-refresh streams'
// end markers or resets, an INFO when none was passed or the one passed
// names no stream (a first sync).
//
// A stream the input state resets (its state given as null, as Airbyte
// sends after a stream reset, or the whole state null) gets an INFO
// saying so instead: starting it over is what the state asked for.
func logStateless(log *slog.Logger, sel []Selection, states map[string]json.RawMessage, given bool) {
	var missing, reset []string
	for _, s := range sel {
		if s.Mode != protocol.Incremental || states[s.Stream.Name()] != nil {
			continue
		}
		if s.Reset {
			reset = append(reset, strconv.Quote(s.Stream.Name()))
		} else {
			missing = append(missing, strconv.Quote(s.Stream.Name()))
		}
	}
	if len(reset) > 0 {
		what, verb := "stream "+reset[0]+" (its state is null)", "it is"
		if len(reset) > 1 {
			what, verb = "streams "+strings.Join(reset, ", ")+" (their states are null)", "they are"
		}
		log.Info(fmt.Sprintf("the input state resets %s: %s read from start_date, as on a first sync", what, verb))
	}
	if len(missing) == 0 {
		return
	}
	what, verb, it := "stream "+missing[0], "it is", "it"
	if len(missing) > 1 {
		what, verb, it = "streams "+strings.Join(missing, ", "), "they are", "them"
	}
	switch {
	case len(states) == 0 && (!given || states == nil):
		// No state passed, or one naming no stream (States.Map).
		log.Info(fmt.Sprintf("no state for %s: %s read from start_date, as on a first sync", what, verb))
		return
	case len(states) == 0:
		// A state was passed, and holds none for any stream that keeps
		// one: the last STATE line alone, often a full-refresh stream's,
		// or (Airbyte's clear data of one stream) resets only.
		holds := "only full-refresh streams' end markers"
		if len(reset) > 0 {
			holds = "it only resets " + strings.Join(reset, ", ") + ", besides any full-refresh streams' end markers"
		}
		log.Warn(fmt.Sprintf("no state for %s in the input state, which holds no incremental stream's state (%s): %s read from start_date, as on a first sync; unless this is one, pass the last STATE message of every stream (grep '\"STATE\"' of the last run's output)",
			what, holds, verb))
		return
	}
	have := make([]string, 0, len(states))
	for _, name := range slices.Sorted(maps.Keys(states)) {
		have = append(have, strconv.Quote(name))
	}
	log.Warn(fmt.Sprintf("no state for %s in the input state (it has states for %s only): %s read from start_date, as on a first sync; unless new to the catalog, the state passed lacks %s: pass the last STATE message of every stream",
		what, strings.Join(have, ", "), verb, it))
}

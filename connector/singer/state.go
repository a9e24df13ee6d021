package singer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/source"
)

// ReadState reads --state into each stream's state. It accepts the Singer
// shape, {"bookmarks": {"<stream>": <stream state>}} (the value of the last
// STATE message, which is what targets and Meltano hand back), a whole STATE
// message {"type": "STATE", "value": {...}}, and, so a state can move from
// Airbyte to Singer, every Airbyte state file `read --state` accepts. Empty,
// null and {} mean no state. The bookmarks go through the same checks as an
// Airbyte state: a stream the tap does not have is a config error.
func ReadState(path string, streams []source.Stream) (map[string]json.RawMessage, error) {
	states, _, _, err := readState(path, streams)
	return states, err
}

// readState is ReadState also returning the streams the state resets
// (source.ParseStateResets: a bookmark of null, or a null state) and the
// table versions it holds (tableVersionsOf).
func readState(path string, streams []source.Stream) (map[string]json.RawMessage, []string, map[string]int64, error) {
	if path == "" {
		return map[string]json.RawMessage{}, nil, nil, nil
	}
	raw, err := source.ReadInputFile("state", path)
	if err != nil {
		return nil, nil, nil, err
	}
	states, reset, err := readBookmarks(path, bytes.TrimSpace(raw), streams)
	if err != nil {
		return nil, nil, nil, err
	}
	versions, err := tableVersionsOf(path, raw, streams)
	if err != nil {
		return nil, nil, nil, err
	}
	return states, reset, versions, nil
}

// readBookmarks reads the streams' states out of the state file's text raw.
func readBookmarks(path string, raw []byte, streams []source.Stream) (map[string]json.RawMessage, []string, error) {
	var probe map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &probe) != nil {
		return source.ParseStateResets(path, raw, streams)
	}
	if v, ok := probe["value"]; ok && isStateType(probe["type"]) {
		if v = bytes.TrimSpace(v); bytes.Equal(v, []byte("null")) {
			return source.ParseStateResets(path, v, streams) // no state
		}
		var inner map[string]json.RawMessage
		if json.Unmarshal(v, &inner) != nil || inner["bookmarks"] == nil {
			// Not a Singer state (an Airbyte one, or no object at all):
			// the whole message, so that an error names state.value, not
			// the file, as the value at fault.
			return source.ParseStateResets(path, raw, streams)
		}
		probe = inner
	}
	bm, ok := probe["bookmarks"]
	if !ok {
		return source.ParseStateResets(path, raw, streams)
	}
	var bookmarks map[string]json.RawMessage
	if err := json.Unmarshal(bm, &bookmarks); err != nil {
		return nil, nil, source.ConfigErrorf("state %s: \"bookmarks\" must map stream names to their bookmarks", path)
	}
	// A bookmark takes the path of an Airbyte stream state: the same checks
	// (a stream the tap has, given once, an object), nothing re-encoded.
	names := slices.Sorted(maps.Keys(bookmarks))
	states := source.NewStates(path, streams)
	for _, n := range names {
		if err := states.Add(fmt.Sprintf("bookmarks[%q]", n), n, bookmarks[n]); err != nil {
			return nil, nil, err
		}
	}
	return states.Map(), states.Reset(), nil
}

func isStateType(raw json.RawMessage) bool {
	var t string
	return json.Unmarshal(raw, &t) == nil && strings.EqualFold(t, "STATE")
}

// tableVersionsKey is the member of the tap's state, beside "bookmarks",
// that maps each full-table stream the tap stamped with a table version
// (ActivateVersionSetting) to the last version it stamped: the next run's
// versions come after it even when the clock has stepped back since
// (stampVersions). A member of its own, not one of the bookmarks, which are
// the Airbyte mode's stream states: that mode, and a tap older than it,
// read the state as they did (they ignore the member).
const tableVersionsKey = "table_versions"

// tableVersionsOf is the table versions the state file's text raw holds:
// those of its Singer state, of every Singer state it holds when it is the
// STATE lines of a run (the greatest of each stream's), or of Meltano's
// record of one ({"singer_state": ...}). A state without them (written by
// the Airbyte mode, or by an older tap) holds none. A value that is no
// version, or a stream the tap does not have, is a config error naming it:
// versions the tap did not write could be lower than the target's.
func tableVersionsOf(path string, raw []byte, streams []source.Stream) (map[string]int64, error) {
	out := map[string]int64{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			// The end, or text readBookmarks took as no Singer state.
			return out, nil
		}
		st := singerState(v)
		tv, ok := st[tableVersionsKey]
		if !ok || bytes.Equal(bytes.TrimSpace(tv), []byte("null")) {
			continue
		}
		var byStream map[string]json.RawMessage
		if err := json.Unmarshal(tv, &byStream); err != nil {
			return nil, source.ConfigErrorf("state %s: %s must map stream names to the table version the tap last stamped on their records (epoch milliseconds), as the tap writes it; remove it, and each stream's next version is the clock's time", path, tableVersionsKey)
		}
		for _, name := range slices.Sorted(maps.Keys(byStream)) {
			if !slices.ContainsFunc(streams, func(s source.Stream) bool { return s.Name() == name }) {
				return nil, source.ConfigErrorf("state %s: %s[%q] names stream %q, which this tap does not have (streams: %s); pass the state this tap printed, or remove the entry", path, tableVersionsKey, name, name, nameList(streams))
			}
			if bytes.Equal(bytes.TrimSpace(byStream[name]), []byte("null")) {
				continue // none, as a bookmark of null
			}
			var n int64
			if err := json.Unmarshal(byStream[name], &n); err != nil || n <= 0 {
				return nil, source.ConfigErrorf("state %s: %s[%q] is %s, not a table version (a positive whole number, epoch milliseconds, as the tap writes it); remove the entry, and the stream's next version is the clock's time", path, tableVersionsKey, name, bytes.TrimSpace(byStream[name]))
			}
			out[name] = max(out[name], n)
		}
	}
}

// singerState is the Singer state that the state file's JSON value v is,
// or holds as a STATE message's value or as Meltano's "singer_state";
// nil when it is none (an Airbyte state, say).
func singerState(v json.RawMessage) map[string]json.RawMessage {
	var obj map[string]json.RawMessage
	if json.Unmarshal(v, &obj) != nil {
		return nil
	}
	if ss, ok := obj["singer_state"]; ok && len(obj) == 1 {
		return singerState(ss)
	}
	if val, ok := obj["value"]; ok && isStateType(obj["type"]) {
		return singerState(val)
	}
	if _, ok := obj["bookmarks"]; !ok {
		return nil
	}
	return obj
}

// nameList is the streams' names, for a message that lists them.
func nameList(streams []source.Stream) string {
	names := make([]string, len(streams))
	for i, s := range streams {
		names[i] = s.Name()
	}
	return strings.Join(names, ", ")
}

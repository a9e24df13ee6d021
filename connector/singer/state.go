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
	states, _, err := readState(path, streams)
	return states, err
}

// readState is ReadState also returning the streams the state resets
// (source.ParseStateResets): a bookmark of null, or a null state.
func readState(path string, streams []source.Stream) (map[string]json.RawMessage, []string, error) {
	if path == "" {
		return map[string]json.RawMessage{}, nil, nil
	}
	raw, err := source.ReadInputFile("state", path)
	if err != nil {
		return nil, nil, err
	}
	raw = bytes.TrimSpace(raw)
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

package singer

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
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
	if path == "" {
		return map[string]json.RawMessage{}, nil
	}
	raw, err := source.ReadInputFile("state", path)
	if err != nil {
		return nil, err
	}
	raw = bytes.TrimSpace(raw)
	var probe map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &probe) != nil {
		return source.ParseState(path, raw, streams)
	}
	if v, ok := probe["value"]; ok && isStateType(probe["type"]) {
		raw = bytes.TrimSpace(v)
		probe = nil
		if len(raw) > 0 && raw[0] == '{' && json.Unmarshal(raw, &probe) != nil {
			return nil, source.ConfigErrorf("state %s: the STATE message's value is not a JSON object", path)
		}
		if _, ok := probe["bookmarks"]; !ok {
			return source.ParseState(path, raw, streams)
		}
	}
	bm, ok := probe["bookmarks"]
	if !ok {
		return source.ParseState(path, raw, streams)
	}
	var bookmarks map[string]json.RawMessage
	if err := json.Unmarshal(bm, &bookmarks); err != nil {
		return nil, source.ConfigErrorf("state %s: \"bookmarks\" must map stream names to their bookmarks", path)
	}
	known := map[string]bool{}
	var streamNames []string
	for _, s := range streams {
		known[s.Name()] = true
		streamNames = append(streamNames, s.Name())
	}
	names := make([]string, 0, len(bookmarks))
	for n := range bookmarks {
		if !known[n] {
			return nil, source.ConfigErrorf("state %s: \"bookmarks\" has stream %q, which this tap does not have (streams: %s); pass the state this tap wrote", path, n, strings.Join(streamNames, ", "))
		}
		names = append(names, n)
	}
	sort.Strings(names)
	// The rest of the checks are an Airbyte state's: one STREAM message per bookmark.
	msgs := make([]protocol.State, 0, len(names))
	for _, n := range names {
		msgs = append(msgs, protocol.State{Type: protocol.StateStream, Stream: &protocol.StreamState{
			StreamDescriptor: protocol.StreamDescriptor{Name: n}, StreamState: bookmarks[n],
		}})
	}
	arr, err := json.Marshal(msgs)
	if err != nil {
		return nil, source.ConfigErrorf("state %s: %v", path, err)
	}
	return source.ParseState(path+" (bookmarks)", arr, streams)
}

func isStateType(raw json.RawMessage) bool {
	var t string
	return json.Unmarshal(raw, &t) == nil && strings.EqualFold(t, "STATE")
}

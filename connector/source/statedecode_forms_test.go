package source

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// Lines as a read prints them: an Airbyte STATE message of a stream, and
// the other messages of a saved stdout.
func stateLine(stream, state string) string {
	return `{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"` + stream + `"},"stream_state":` + state + `},"sourceStats":{"recordCount":3.0}}}`
}

const (
	recordLine = `{"type":"RECORD","record":{"stream":"transactions","data":{"id":"a"},"emitted_at":1}}`
	logLine    = `{"type":"LOG","log":{"level":"INFO","message":"hello"}}`
	traceLine  = `{"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":1.0,"stream_status":{"stream_descriptor":{"name":"transactions"},"status":"COMPLETE"}}}`
)

func parse(t *testing.T, body string) (map[string]json.RawMessage, error) {
	t.Helper()
	return ParseState("state.json", []byte(body), stubStreams)
}

// TestParseStateOfAReadsOutput: --state takes what a read printed, in the
// forms users keep it: the last STATE line (the audit's `state.type "STATE"
// is not STREAM, GLOBAL or LEGACY`), every STATE line (`grep '"STATE"'`,
// which failed as "invalid character '{' after top-level value"), an array
// of STATE messages (`[0].type "STATE" ...`), the whole stdout, and the
// same of the Singer mode, whose bookmarks are the stream states.
func TestParseStateOfAReadsOutput(t *testing.T) {
	tx1, tx2 := `{"version":1,"n":1}`, `{"version":1,"n":2}`
	sentinel := `{"__ab_no_cursor_state_message":true}`
	for name, body := range map[string]string{
		"one STATE message":                 stateLine("transactions", tx2),
		"STATE lines":                       strings.Join([]string{stateLine("transactions", tx1), stateLine("items", sentinel), stateLine("transactions", tx2)}, "\n") + "\n",
		"STATE lines, CRLF":                 stateLine("transactions", tx1) + "\r\n" + stateLine("transactions", tx2) + "\r\n",
		"array of STATE messages":           "[" + stateLine("transactions", tx1) + "," + stateLine("transactions", tx2) + "]",
		"whole stdout":                      strings.Join([]string{logLine, recordLine, stateLine("transactions", tx1), recordLine, traceLine, stateLine("transactions", tx2), stateLine("items", sentinel), traceLine}, "\n"),
		"whole stdout as a JSON array":      "[" + strings.Join([]string{recordLine, stateLine("transactions", tx1), stateLine("transactions", tx2), traceLine}, ",") + "]",
		"state messages one per line":       `{"type":"STREAM","stream":{"stream_descriptor":{"name":"transactions"},"stream_state":` + tx1 + "}}\n" + `{"type":"STREAM","stream":{"stream_descriptor":{"name":"transactions"},"stream_state":` + tx2 + "}}",
		"pretty-printed, one after another": "{\n  \"type\": \"STATE\",\n  \"state\": {\"type\": \"STREAM\", \"stream\": {\"stream_descriptor\": {\"name\": \"transactions\"}, \"stream_state\": " + tx1 + "}}\n}\n" + stateLine("transactions", tx2),
		"Singer state":                      `{"bookmarks":{"items":` + sentinel + `,"transactions":` + tx2 + `}}`,
		"Singer state, currently_syncing":   `{"currently_syncing":null,"bookmarks":{"transactions":` + tx2 + `}}`,
		"Singer STATE message":              `{"type":"STATE","value":{"bookmarks":{"items":` + sentinel + `,"transactions":` + tx2 + `}}}`,
		"Singer STATE lines":                `{"type":"STATE","value":{"bookmarks":{"transactions":` + tx1 + `}}}` + "\n" + `{"type":"STATE","value":{"bookmarks":{"items":` + sentinel + `,"transactions":` + tx2 + `}}}`,
		"Singer stdout": strings.Join([]string{
			`{"type":"SCHEMA","stream":"transactions","schema":{"type":"object"},"key_properties":["id"]}`,
			`{"type":"RECORD","stream":"transactions","record":{"id":"a"},"time_extracted":"2026-01-01T00:00:00.000000Z"}`,
			`{"type":"STATE","value":{"bookmarks":{"transactions":` + tx1 + `}}}`,
			`{"type":"ACTIVATE_VERSION","stream":"items","version":1}`,
			`{"type":"STATE","value":{"bookmarks":{"transactions":` + tx2 + `}}}`,
		}, "\n"),
		"a Singer STATE message holding an Airbyte state": `{"type":"STATE","value":{"transactions":` + tx2 + `}}`,
		// What `meltano state get` prints (and `meltano state set` takes).
		"Meltano's state": `{"singer_state":{"bookmarks":{"items":` + sentinel + `,"transactions":` + tx2 + `}}}`,
		// What Airbyte's UI shows under Connection state (the API's
		// camelCase StreamState objects), copied into a file.
		"Airbyte's connection state": `[{"streamDescriptor":{"name":"items"},"streamState":` + sentinel + `},{"streamDescriptor":{"name":"transactions"},"streamState":` + tx2 + `}]`,
	} {
		t.Run(name, func(t *testing.T) {
			got, err := parse(t, body)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || string(got["transactions"]) != tx2 {
				t.Fatalf("states %q, want transactions %s alone", got, tx2)
			}
		})
	}
}

// TestParseStateLastWins: in a sequence of states a stream's later STREAM
// state replaces its earlier one, whatever came between, and a later null
// one resets it; a platform's array of bare state messages still refuses a
// stream given twice, and GLOBAL and legacy states keep their rules.
func TestParseStateLastWins(t *testing.T) {
	lines := strings.Join([]string{
		stateLine("transactions", `{"version":1,"n":1}`),
		stateLine("items", `{"n":1}`),
		stateLine("transactions", `{"version":1,"n":2}`),
		stateLine("items", `{"n":2}`),
		stateLine("transactions", `{"version":1,"n":3}`),
	}, "\n")
	got, err := parse(t, lines)
	if err != nil || string(got["transactions"]) != `{"version":1,"n":3}` || string(got["items"]) != `{"n":2}` {
		t.Fatalf("got %q, %v; want the last state of each stream", got, err)
	}
	got, err = parse(t, lines+"\n"+stateLine("items", "null"))
	if err != nil || got["items"] != nil || string(got["transactions"]) != `{"version":1,"n":3}` {
		t.Fatalf("a later null state: got %q, %v; want items reset", got, err)
	}
	for name, c := range map[string]struct{ body, mention string }{
		"platform array, a stream twice": {`[{"type":"STREAM","stream":{"stream_descriptor":{"name":"transactions"},"stream_state":{"n":1}}},{"type":"STREAM","stream":{"stream_descriptor":{"name":"transactions"},"stream_state":{"n":2}}}]`,
			`[1].stream gives stream "transactions" a second state (the first is [0].stream)`},
		"two GLOBAL lines": {`{"type":"STATE","state":{"type":"GLOBAL","global":{"stream_states":[]}}}` + "\n" + `{"type":"STATE","state":{"type":"GLOBAL","global":{"stream_states":[]}}}`,
			"line 2.state mixes a GLOBAL state with other state messages"},
		"GLOBAL after STREAM lines": {stateLine("transactions", `{"n":1}`) + "\n" + `{"type":"STATE","state":{"type":"GLOBAL","global":{"stream_states":[]}}}`,
			"never both"},
		"legacy after a STREAM line": {stateLine("transactions", `{"n":1}`) + "\n" + `{"type":"STATE","state":{"type":"LEGACY","data":{"transactions":{"n":2}}}}`,
			`line 2.state.data["transactions"] gives stream "transactions" a second state (the first is line 1.state.stream)`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parse(t, c.body)
			if err == nil || !strings.Contains(err.Error(), c.mention) || FailureTypeOf(err) != protocol.ConfigError {
				t.Fatalf("err = %v, want a config_error mentioning %s", err, c.mention)
			}
		})
	}
}

// TestParseStateAirbyteConnectionState: the state Airbyte's UI shows and
// takes back (Connection settings, Advanced, Connection state: the API's
// StreamState objects, camelCase) is read like the protocol's STREAM
// states, where it was taken for legacy messages holding nothing and the
// read started every stream over with a WARN: a stream without a state
// there resets it, a stream given twice or unknown is refused.
func TestParseStateAirbyteConnectionState(t *testing.T) {
	got, resets, err := ParseStateResets("state.json", []byte(`[
  {"streamDescriptor": {"name": "transactions"}, "streamState": {"version": 1, "n": 2}},
  {"streamDescriptor": {"name": "items"}}
]`), stubStreams)
	if err != nil || string(got["transactions"]) != `{"version": 1, "n": 2}` || len(got) != 1 || !slices.Equal(resets, []string{"items"}) {
		t.Fatalf("got %q, resets %q, %v; want transactions' state and items reset", got, resets, err)
	}
	for name, c := range map[string]struct{ body, mention string }{
		"a stream twice":  {`[{"streamDescriptor":{"name":"transactions"},"streamState":{"n":1}},{"streamDescriptor":{"name":"transactions"},"streamState":{"n":2}}]`, `[1] gives stream "transactions" a second state (the first is [0])`},
		"unknown stream":  {`[{"streamDescriptor":{"name":"gadgets"},"streamState":{"n":1}}]`, `[0] names stream "gadgets", which this source does not have`},
		"no name":         {`[{"streamDescriptor":{},"streamState":{"n":1}}]`, `[0] has no stream name`},
		"descriptor list": {`[{"streamDescriptor":["transactions"],"streamState":{"n":1}}]`, `[0].streamDescriptor`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parse(t, c.body)
			if err == nil || !strings.Contains(err.Error(), c.mention) || FailureTypeOf(err) != protocol.ConfigError {
				t.Fatalf("err = %v, want a config_error mentioning %s", err, c.mention)
			}
		})
	}
}

// TestParseStateNewFormsReject: a sequence or a message that holds no
// usable state says where, what is wrong, and what to pass.
func TestParseStateNewFormsReject(t *testing.T) {
	for name, c := range map[string]struct{ body, mention string }{
		"a line not JSON":            {stateLine("transactions", `{}`) + "\n" + `{"type":"STATE",`, "line 2 is not valid JSON"},
		"a line not JSON, the fix":   {stateLine("transactions", `{}`) + "\n" + `oops`, "one JSON value per line"},
		"a scalar line":              {stateLine("transactions", `{}`) + "\n42", "line 2 is not a JSON object"},
		"an array line":              {stateLine("transactions", `{}`) + "\n[]", "line 2 is not a JSON object"},
		"no STATE in the output":     {recordLine + "\n" + logLine, "holds 2 protocol messages but no STATE message"},
		"a RECORD alone":             {recordLine, "no STATE message"},
		"a STATE of nothing":         {`{"type":"STATE"}`, `neither "state" (Airbyte's) nor "value" (Singer's)`},
		"a STATE of a string":        {`{"type":"STATE","state":"x"}`, "state.state must be a state message object"},
		"unknown stream on a line":   {stateLine("transactions", `{}`) + "\n" + recordLine + "\n" + stateLine("nope", `{}`), `line 3.state.stream names stream "nope", which this source does not have`},
		"a STATE of a bad type":      {`{"type":"STATE","state":{"type":"WEIRD"}}`, `state.state.type "WEIRD" is not STREAM, GLOBAL or LEGACY`},
		"Singer value not an object": {`{"type":"STATE","value":5}`, "the Singer STATE message's value, must be a JSON object"},
		"Singer bookmarks a list":    {`{"bookmarks":[1]}`, `state.bookmarks must map stream names to their states`},
		"Singer unknown stream":      {`{"type":"STATE","value":{"bookmarks":{"gadgets":{}}}}`, `state.value.bookmarks["gadgets"] names stream "gadgets"`},
		"Singer bookmark a string":   {`{"bookmarks":{"transactions":"2024"}}`, "must be a JSON object"},
		"a string":                   {`"x"`, "must be a JSON array of state messages, a state object, or STATE messages one per line"},
		"an array of other objects":  {`[{"foo":1}]`, `[0] is not a state message: it has none of "type", "stream", "global" and "data"`},
		"a record in a state array":  {`[{"stream":"transactions","data":{"id":"1"}}]`, `[0] is not a state message`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parse(t, c.body)
			if err == nil || !strings.Contains(err.Error(), c.mention) || FailureTypeOf(err) != protocol.ConfigError {
				t.Fatalf("err = %v, want a config_error mentioning %s", err, c.mention)
			}
		})
	}
}

// logged is a slog handler that keeps what it is given.
type logged struct{ records []slog.Record }

func (l *logged) Enabled(context.Context, slog.Level) bool { return true }
func (l *logged) Handle(_ context.Context, r slog.Record) error {
	l.records = append(l.records, r)
	return nil
}
func (l *logged) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logged) WithGroup(string) slog.Handler      { return l }

// TestLogStateless: a selected incremental stream without a state is
// named in one line, a WARN when the input state has other streams' (a
// partial state) or when a state was passed that holds none (the last
// STATE line alone, a full-refresh stream's end marker), an INFO on a
// first sync, with no state passed or one naming no stream (nil states); full-refresh streams and streams with a state are not named.
func TestLogStateless(t *testing.T) {
	items, tx := stubStreams[0], stubStreams[1]
	other := stubStream{name: "accounts", cursor: []string{"x"}}
	inc := []Selection{{Stream: items, Mode: protocol.Incremental}, {Stream: tx, Mode: protocol.Incremental}, {Stream: other, Mode: protocol.FullRefresh}}
	for name, c := range map[string]struct {
		states map[string]json.RawMessage
		given  bool
		level  slog.Level
		want   string
	}{
		"partial": {map[string]json.RawMessage{"items": json.RawMessage(`{}`)}, true, slog.LevelWarn,
			`no state for stream "transactions" in the input state (it has states for "items" only): it is read from start_date, as on a first sync; unless new to the catalog, the state passed lacks it: pass the last STATE message of every stream`},
		"none": {map[string]json.RawMessage{}, false, slog.LevelInfo,
			`no state for streams "items", "transactions": they are read from start_date, as on a first sync`},
		"empty state given": {nil, true, slog.LevelInfo,
			`no state for streams "items", "transactions": they are read from start_date, as on a first sync`},
		"only markers given": {map[string]json.RawMessage{}, true, slog.LevelWarn,
			`no state for streams "items", "transactions" in the input state, which holds no incremental stream's state (only full-refresh streams' end markers): they are read from start_date, as on a first sync; unless this is one, pass the last STATE message of every stream (grep '"STATE"' of the last run's output)`},
		"every stream": {map[string]json.RawMessage{"items": json.RawMessage(`{}`), "transactions": json.RawMessage(`{}`)}, true, 0, ""},
	} {
		t.Run(name, func(t *testing.T) {
			var l logged
			logStateless(slog.New(&l), inc, c.states, c.given)
			switch {
			case c.want == "" && len(l.records) != 0:
				t.Fatalf("logged %q", l.records[0].Message)
			case c.want == "":
			case len(l.records) != 1 || l.records[0].Level != c.level || l.records[0].Message != c.want:
				t.Fatalf("logged %+v, want one %s %q", l.records, c.level, c.want)
			}
		})
	}
}

// TestStateTooLargeSaysGrep: a whole saved stdout over the input limit is
// refused, and the message says to pass its STATE lines.
func TestStateTooLargeSaysGrep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	line := append(bytes.Repeat([]byte("x"), 1<<20-1), '\n')
	for range maxInputFile>>20 + 1 {
		f.Write(line)
	}
	f.Close()
	_, err = readInput("state", path)
	if err == nil || !strings.Contains(err.Error(), `grep '"STATE"' `+path+` > state.jsonl`) || !strings.Contains(err.Error(), "--state-file") {
		t.Errorf("a state file over the limit: %v", err)
	}
}

// TestLogStatelessAfterAReset: a state that holds nothing but a reset of
// one incremental stream (Airbyte's "clear data" of it) makes the WARN for
// the others say so, not that it holds full-refresh streams' end markers.
func TestLogStatelessAfterAReset(t *testing.T) {
	items, tx := stubStreams[0], stubStreams[1]
	sel := []Selection{{Stream: items, Mode: protocol.Incremental}, {Stream: tx, Mode: protocol.Incremental, Reset: true}}
	var l logged
	logStateless(slog.New(&l), sel, map[string]json.RawMessage{}, true)
	const want = `no state for stream "items" in the input state, which holds no incremental stream's state (it only resets "transactions", besides any full-refresh streams' end markers): it is read from start_date, as on a first sync; unless this is one, pass the last STATE message of every stream (grep '"STATE"' of the last run's output)`
	for _, r := range l.records {
		if r.Level == slog.LevelWarn && r.Message != want {
			t.Fatalf("WARN %q, want %q", r.Message, want)
		}
	}
	if len(l.records) != 2 {
		t.Fatalf("logged %d lines, want the reset's INFO and one WARN: %+v", len(l.records), l.records)
	}
}

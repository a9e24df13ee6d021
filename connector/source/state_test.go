package source

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type stubStream struct {
	name   string
	cursor []string
}

func (s stubStream) Name() string                                    { return s.name }
func (s stubStream) Schema() json.RawMessage                         { return json.RawMessage(`{"type":"object"}`) }
func (s stubStream) PrimaryKey() [][]string                          { return [][]string{{"id"}} }
func (s stubStream) CursorField() []string                           { return s.cursor }
func (s stubStream) Read(context.Context, ReadRequest, Output) error { return nil }

var stubStreams = []Stream{stubStream{name: "items"}, stubStream{name: "transactions", cursor: []string{"createdAt"}}}

func writeTemp(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadStateForms(t *testing.T) {
	want := `{"version":1}`
	for name, body := range map[string]string{
		"array":        `[{"type":"STREAM","stream":{"stream_descriptor":{"name":"transactions"},"stream_state":{"version":1}}}]`,
		"one message":  `{"type":"STREAM","stream":{"stream_descriptor":{"name":"transactions"},"stream_state":{"version":1}}}`,
		"legacy":       `{"transactions":{"version":1}}`,
		"legacy typed": `[{"type":"LEGACY","data":{"transactions":{"version":1}}}]`,
		"global":       `[{"type":"GLOBAL","global":{"stream_states":[{"stream_descriptor":{"name":"transactions"},"stream_state":{"version":1}}]}}]`,
		// Without a type, a message is what it holds: it was read as an
		// empty legacy state, and the stream started over.
		"array, no type":       `[{"stream":{"stream_descriptor":{"name":"transactions"},"stream_state":{"version":1}}}]`,
		"one message, no type": `{"stream":{"stream_descriptor":{"name":"transactions"},"stream_state":{"version":1}}}`,
		"global, no type":      `[{"global":{"stream_states":[{"stream_descriptor":{"name":"transactions"},"stream_state":{"version":1}}]}}]`,
	} {
		t.Run(name, func(t *testing.T) {
			got, _, err := loadState(writeTemp(t, body), stubStreams)
			if err != nil {
				t.Fatal(err)
			}
			if string(got["transactions"]) != want {
				t.Fatalf("state = %s, want %s", got["transactions"], want)
			}
		})
	}
	for name, body := range map[string]string{"empty": "", "blank": " \n", "null": "null", "empty array": "[]", "sentinel": `[{"type":"STREAM","stream":{"stream_descriptor":{"name":"items"},"stream_state":{"__ab_no_cursor_state_message":true}}}]`} {
		t.Run(name, func(t *testing.T) {
			got, _, err := loadState(writeTemp(t, body), stubStreams)
			if err != nil || len(got) != 0 {
				t.Fatalf("got %v, %v; want no state", got, err)
			}
		})
	}
}

func TestLoadStateRejects(t *testing.T) {
	for name, c := range map[string]struct{ body, mention string }{
		"unknown stream": {`[{"type":"STREAM","stream":{"stream_descriptor":{"name":"nope"},"stream_state":{}}}]`, `"nope"`},
		"not json":       {`[{`, "not a JSON array"},
		"scalar":         {`42`, "must be a JSON array"},
		"bad type":       {`[{"type":"WEIRD"}]`, `"WEIRD"`},
		"state string":   {`[{"type":"STREAM","stream":{"stream_descriptor":{"name":"transactions"},"stream_state":"x"}}]`, "must be a JSON object"},
		"no stream":      {`[{"type":"STREAM"}]`, `no "stream" object`},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := loadState(writeTemp(t, c.body), stubStreams)
			if err == nil || !strings.Contains(err.Error(), c.mention) || FailureTypeOf(err) != "config_error" {
				t.Fatalf("err = %v, want a config_error mentioning %s", err, c.mention)
			}
		})
	}
}

// TestStates: the typed path every shape of state takes (ParseState's
// messages here, Singer's bookmarks in connector/singer) keeps a state's
// bytes, drops a null one and refuses a stream given twice, naming both
// places.
func TestStates(t *testing.T) {
	s := NewStates("f.json", stubStreams)
	if err := s.Add(`bookmarks["transactions"]`, "transactions", json.RawMessage(` {"v": 1.50} `)); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(`bookmarks["items"]`, "items", json.RawMessage(`null`)); err != nil {
		t.Fatal(err)
	}
	if got := s.Map(); len(got) != 1 || string(got["transactions"]) != `{"v": 1.50}` {
		t.Errorf("states %q", got)
	}
	err := s.Add("[1].stream", "transactions", json.RawMessage(`{}`))
	if err == nil || !strings.Contains(err.Error(), `[1].stream gives stream "transactions" a second state (the first is bookmarks["transactions"])`) {
		t.Errorf("second state: %v", err)
	}
}

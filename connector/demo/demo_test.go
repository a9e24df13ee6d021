package demo

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

func TestDecimalSum(t *testing.T) {
	var s DecimalSum
	for _, v := range []string{"0.10", "0.20", "-5.50", "1e3", "x", "1/3"} {
		s.Add(v)
	}
	if s.String() != "-5.20" || s.Count != 3 || s.Bad != 3 {
		t.Fatalf("sum %s count %d bad %d", s.String(), s.Count, s.Bad)
	}
}

// TestReadCommandIsWhatRuns: the read command lines the demo prints carry
// the --read-flag values, as Read passes them, quoted where a shell would
// split or expand them, so that a line copied from the demo runs the read
// the demo ran.
func TestReadCommandIsWhatRuns(t *testing.T) {
	d := &Demo{Runner: &source.Runner{Source: named("source-x")}, Dir: "/tmp/d", ReadFlags: []string{"--parquet-dir=/tmp/my pq", "--no-states"}}
	want := map[int]string{
		1: "source-x read --config /tmp/d/config.json --catalog /tmp/d/catalog.json '--parquet-dir=/tmp/my pq' --no-states > /tmp/d/run1.jsonl",
		2: "source-x read --config /tmp/d/config.json --catalog /tmp/d/catalog.json --state /tmp/d/state.json '--parquet-dir=/tmp/my pq' --no-states > /tmp/d/run2.jsonl",
	}
	for n, w := range want {
		if got := d.ReadCommand(n); got != w {
			t.Errorf("ReadCommand(%d):\n got %s\nwant %s", n, got, w)
		}
	}
	for in, w := range map[string]string{"plain-word_1.json": "plain-word_1.json", "": "''", "it's": `'it'\''s'`, "a$b": "'a$b'", "*": "'*'"} {
		if got := shellQuote(in); got != w {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, w)
		}
	}
}

// named is a source that only has a name, for the command lines.
type named string

func (n named) Name() string { return string(n) }

func (named) Spec() protocol.Spec { return protocol.Spec{} }

func (named) Open(context.Context, json.RawMessage, source.Env) (source.Conn, error) {
	return nil, errors.New("not opened")
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 items", 1: "1 item", 2: "2 items", 25: "25 items"} {
		if got := Count(n, "item"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}

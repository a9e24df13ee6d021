package sourcetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// DocState is a stream state the manual shows: a ```json block of a doc
// whose object has a "version" member, as every state this repository's
// connectors write does.
type DocState struct {
	Line int // where the block's JSON begins
	JSON json.RawMessage
}

// DocStates returns the states doc (a path from the repository's root,
// such as "docs/gocardless.md") shows, failing t when there is none, so
// that a test can decode each with the connector's own state parser: an
// example that names a field the connector no longer has, or misspells
// one, then fails there rather than misleading whoever edits a state by
// hand.
func DocStates(t testing.TB, doc string) []DocState {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(), doc))
	if err != nil {
		t.Fatal(err)
	}
	var out []DocState
	var block []string
	start, in := 0, false
	for i, l := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(l)
		switch {
		case !in && trimmed == "```json":
			in, block, start = true, nil, i+2
		case in && strings.HasPrefix(trimmed, "```"):
			in = false
			raw := json.RawMessage(strings.Join(block, "\n"))
			var probe map[string]json.RawMessage
			if json.Unmarshal(raw, &probe) != nil {
				continue // not an object: no state
			}
			if _, ok := probe["version"]; ok {
				out = append(out, DocState{Line: start, JSON: raw})
			}
		case in:
			block = append(block, l)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s shows no state (a ```json block of an object with a \"version\")", doc)
	}
	return out
}

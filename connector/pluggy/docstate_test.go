package pluggy

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestDocumentedStatesParse: every transactions and investment_transactions
// state docs/incremental.md and docs/webhooks.md show is one this
// connector reads, and names only members it has. Its own parser takes
// unknown members (a state of an older version may hold some), so each is
// also decoded refusing them: a field renamed in the code, or misspelt in
// the doc, fails here until the example follows.
func TestDocumentedStatesParse(t *testing.T) {
	for _, doc := range []string{"docs/incremental.md", "docs/webhooks.md"} {
		for _, s := range sourcetest.DocStates(t, doc) {
			var probe map[string]json.RawMessage
			_ = json.Unmarshal(s.JSON, &probe)
			var err error
			var shape any
			if _, ok := probe["investments"]; ok {
				_, err = parseInvTxState(s.JSON)
				shape = &invTxState{}
			} else {
				_, err = parseTxState(s.JSON)
				shape = &txStateJSON{}
			}
			if err != nil {
				t.Errorf("%s:%d: %v", doc, s.Line, err)
				continue
			}
			dec := json.NewDecoder(bytes.NewReader(s.JSON))
			dec.DisallowUnknownFields()
			if err := dec.Decode(shape); err != nil {
				t.Errorf("%s:%d: %v", doc, s.Line, err)
			}
		}
	}
}

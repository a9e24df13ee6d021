package gocardless

import (
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestDocumentedStatesParse: the transactions state docs/gocardless.md
// shows is one this connector reads (its parser refuses a member it does
// not know), so a field renamed in the code fails here until the example
// follows.
func TestDocumentedStatesParse(t *testing.T) {
	for _, s := range sourcetest.DocStates(t, "docs/gocardless.md") {
		if _, err := parseTxState(s.JSON); err != nil {
			t.Errorf("docs/gocardless.md:%d: %v", s.Line, err)
		}
	}
}

package main

import (
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// keysFix is the advice of refused secret_id/secret_key.
const keysFix = "copy both from a user secret in the Bank Account Data portal"

// TestReadWithWrongKeysBlamesTheKeys: wrong keys fail every stream with a
// config_error about secret_id/secret_key, not one prefixed with a
// requisition, which sent the user to check the wrong thing; and the token
// is asked for once.
func TestReadWithWrongKeysBlamesTheKeys(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	r := e.run(e.catalog(true), map[string]any{"secret_key": "wrong-secret-value"})
	if r.Code != 1 {
		t.Fatalf("exit %d with wrong keys, want 1", r.Code)
	}
	traces := r.ErrorTraces()
	if len(traces) == 0 {
		t.Fatal("no ERROR trace")
	}
	for _, tr := range traces {
		if !strings.Contains(tr.Message, "secret_id/secret_key") || strings.Contains(tr.Message, "requisition ") || tr.FailureType != protocol.ConfigError {
			t.Errorf("%s: %q (%s); want the keys blamed, no requisition named, config_error", tr.StreamDescriptor, tr.Message, tr.FailureType)
		}
		// Every requisition met the refusal; the trace says it once, in
		// its internal_message too (errors.Join wrote it once each).
		if tr.StreamDescriptor != nil && strings.Count(tr.InternalMessage, keysFix) != 1 {
			t.Errorf("%s: internal_message says the keys' fix %d times, want 1: %.600q", tr.StreamDescriptor.Name, strings.Count(tr.InternalMessage, keysFix), tr.InternalMessage)
		}
	}
	if n := e.fake.Stats().TokenNew; n > 1 {
		t.Errorf("token/new asked %d times", n)
	}
}

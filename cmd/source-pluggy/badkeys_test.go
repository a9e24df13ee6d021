package main

import (
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// keysFix is the advice of a refused client_id/client_secret: the sentence
// a read with wrong keys must say once per ERROR trace, not once per item.
const keysFix = "copy both from your application in the Pluggy dashboard"

// TestWrongKeysAreRefusedOnce: the first POST /auth refused with 401 ends
// authentication for the run. Every stream fails with one config_error
// saying what to fix once, however many items it has (in its message and
// its internal_message), and no stream asks for a key again: the keys do
// not change during a run, so a second try only costs a request and
// repeats the message.
func TestWrongKeysAreRefusedOnce(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 3, TransactionsPerAccount: 5})
	wrong := "wrong-secret-0123456789"
	cat := e.discover()
	r := e.readWith(map[string]any{"client_secret": wrong}, e.catalog(false))
	if r.Code != 1 {
		t.Fatalf("exit %d with wrong keys, want 1\n%s", r.Code, tail(r.Stdout))
	}
	if n := e.fake.Stats().ByRoute["POST /auth"]; n != 1 {
		t.Errorf("POST /auth sent %d times, want 1: its refusal holds for the whole run", n)
	}
	if n := len(r.OfType(protocol.TypeRecord)); n != 0 {
		t.Errorf("%d records without a key", n)
	}
	var summary string
	failed := map[string]bool{}
	for _, tr := range r.ErrorTraces() {
		if tr.FailureType != protocol.ConfigError {
			t.Errorf("%v: failure_type %s, want config_error: %s", tr.StreamDescriptor, tr.FailureType, tr.Message)
		}
		if tr.StreamDescriptor == nil {
			summary = tr.Message
			continue
		}
		name := tr.StreamDescriptor.Name
		if failed[name] {
			t.Errorf("stream %s: more than one ERROR trace", name)
		}
		failed[name] = true
		if n := strings.Count(tr.Message, keysFix); n != 1 {
			t.Errorf("stream %s: the credentials' fix said %d times, want 1: %.600s", name, n, tr.Message)
		}
		// internal_message too: errors.Join wrote the refusal once per item.
		if n := strings.Count(tr.InternalMessage, keysFix); n != 1 {
			t.Errorf("stream %s: internal_message says the credentials' fix %d times, want 1: %.600q", name, n, tr.InternalMessage)
		}
		if !strings.Contains(tr.Message, "client_id/client_secret") || !strings.Contains(tr.Message, "CLIENT_KEYS_UNAUTHORIZED") {
			t.Errorf("stream %s: %q does not blame client_id/client_secret with Pluggy's answer", name, tr.Message)
		}
		// The keys are nobody's item: naming one sends the user to it.
		for _, id := range e.fake.ItemIDs() {
			if strings.Contains(tr.Message, id) {
				t.Errorf("stream %s: wrong keys blamed on item %s", name, id)
				break
			}
		}
	}
	if len(failed) != len(cat.Streams) {
		t.Errorf("%d streams reported an ERROR, want all %d", len(failed), len(cat.Streams))
	}
	// The closing summary says one message once, with every stream it
	// ended.
	if summary == "" {
		t.Fatal("no closing summary ERROR trace")
	}
	if n := strings.Count(summary, keysFix); n != 1 {
		t.Errorf("the summary says the credentials' fix %d times for %d streams, want once: %.600s", n, len(failed), summary)
	}
	for name := range failed {
		if !strings.Contains(summary, name) {
			t.Errorf("the summary does not name stream %s: %.600s", name, summary)
		}
	}
	e.assertNoSecrets(r, wrong)
}

// TestWrongKeysCheckAuthenticatesOnce: check with wrong keys gives one
// FAILED naming the keys, after one POST /auth.
func TestWrongKeysCheckAuthenticatesOnce(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 3})
	r := st.Run(t, e.bin, "check", "--config", e.config(map[string]any{"client_secret": "wrong-secret-0123456789"}))
	cs := r.OfType(protocol.TypeConnectionStatus)
	if len(cs) != 1 || cs[0].ConnectionStatus.Status != protocol.StatusFailed {
		t.Fatalf("check with wrong keys: %s", r.Stdout)
	}
	if msg := cs[0].ConnectionStatus.Message; strings.Count(msg, keysFix) != 1 {
		t.Errorf("check message %q: want the credentials' fix once", msg)
	}
	if n := e.fake.Stats().ByRoute["POST /auth"]; n != 1 {
		t.Errorf("POST /auth sent %d times, want 1", n)
	}
}

// TestUnreachableAPIFailsOnce: a POST /auth that gets no answer through its
// retries stands for the run (for a minute): the other items and streams
// fail at once with it, naming no item, where each item of each stream
// went through its own retries and a read of three items failed after
// minutes, every stream's error the same failure once per item.
func TestUnreachableAPIFailsOnce(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 3, TransactionsPerAccount: 5})
	r := e.readWith(map[string]any{"base_url": "http://127.0.0.1:" + st.ClosedPort(t)}, e.catalog(false))
	if r.Code != 1 {
		t.Fatalf("exit %d with the API unreachable, want 1\n%s", r.Code, tail(r.Stdout))
	}
	if n := strings.Count(string(r.Stdout), `retrying route=\"POST /auth\"`); n > 5 {
		t.Errorf("POST /auth retried %d times, want one round of retries (at most 5) for the run", n)
	}
	for _, tr := range r.ErrorTraces() {
		if tr.FailureType != protocol.TransientError {
			t.Errorf("%v: failure_type %s, want transient_error: %s", tr.StreamDescriptor, tr.FailureType, tr.Message)
		}
		if tr.StreamDescriptor == nil {
			continue
		}
		if n := strings.Count(tr.Message, "authenticating"); n != 1 {
			t.Errorf("stream %s: the failed POST /auth said %d times, want once: %.600s", tr.StreamDescriptor.Name, n, tr.Message)
		}
		for _, id := range e.fake.ItemIDs() {
			if strings.Contains(tr.Message, id) {
				t.Errorf("stream %s: the unreachable API blamed on item %s", tr.StreamDescriptor.Name, id)
				break
			}
		}
	}
}

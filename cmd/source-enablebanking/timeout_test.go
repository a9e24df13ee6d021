package main

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestHTTPTimeoutSecondsBoundsAnAttempt: http_timeout_seconds bounds one
// request attempt, as source-pluggy's does: a transactions call the bank
// behind Enable Banking leaves unanswered past it is abandoned and
// retried, the retry's log line naming the setting, and the read gets
// every row. The connector waited a fixed 60 s, whatever the config said
// (the key was warned of as unknown).
func TestHTTPTimeoutSecondsBoundsAnAttempt(t *testing.T) {
	var stalled, givenUp *atomic.Int32
	e := newAttackedEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 10}, false, func(h http.Handler) http.Handler {
		var stall http.Handler
		stall, stalled, givenUp = st.Stall(h, isTransactions, 1, 8*time.Second)
		return stall
	})
	e.cfg["http_timeout_seconds"] = 1
	e.cfg["include_pending"] = false
	catalog := e.catalog(false, "transactions")
	r := e.read(catalog)
	if stalled.Load() != 1 || givenUp.Load() != 1 {
		t.Fatalf("%d transactions calls stalled, %d given up; want the one stalled given up at the 1 s timeout", stalled.Load(), givenUp.Load())
	}
	const says = "no answer within 1s, the time one attempt may take (config http_timeout_seconds)"
	retried := 0
	for _, m := range r.OfType(protocol.TypeLog) {
		if strings.Contains(m.Log.Message, "retrying") && strings.Contains(m.Log.Message, says) {
			retried++
		}
	}
	if retried != 1 {
		t.Fatalf("%d retries logged saying %q, want 1:\n%s", retried, says, r.Stderr)
	}
	if got, want := len(r.Records()["transactions"]), len(e.read(catalog).Records()["transactions"]); got == 0 || got != want {
		t.Errorf("the read with a retried call got %d transactions, one without %d", got, want)
	}
	for _, bad := range []any{0, 601, "30"} {
		cs, _ := st.CheckRun(t, e.bin, e.config(map[string]any{"http_timeout_seconds": bad}))
		if cs.Status != protocol.StatusFailed || !strings.Contains(cs.Message, "config.http_timeout_seconds") {
			t.Errorf("http_timeout_seconds %v: check %s %q, want failed naming config.http_timeout_seconds", bad, cs.Status, cs.Message)
		}
	}
}

package main

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
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
	st.CheckAttemptTimedOut(t, r, func() *st.Result { return e.read(catalog) }, "transactions", stalled, givenUp, e.bin, e.config)
}

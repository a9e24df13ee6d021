package main

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestIntegersWrittenAsDecimals: a config's integers written as 1.0 or
// 7e+00, as tools that write JSON from floats do, are the integers the
// spec's JSON Schema takes them for: http_timeout_seconds 1.0 gives up on
// an attempt at 1 s as 1 does, and discover, read, check, the Singer mode
// and connect take such a config; every integer setting so written passes
// check, and 1.5 stays a config_error naming the field. The config failed
// to open ("cannot unmarshal number 1.0 into Go struct field
// Config.http_timeout_seconds of type int").
func TestIntegersWrittenAsDecimals(t *testing.T) {
	var stalled, givenUp *atomic.Int32
	e := newAttackedEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 10, DailyLimit: 100}, false, func(h http.Handler) http.Handler {
		var stall http.Handler
		stall, stalled, givenUp = st.Stall(h, isTransactions, 1, 8*time.Second)
		return stall
	})
	catalog := e.catalog(false, "transactions")
	e.cfg["http_timeout_seconds"] = st.Decimal(1)
	e.cfg["lookback_days"] = st.Exponent(7)
	e.cfg["include_pending"] = false
	r := e.read(catalog)
	st.CheckAttemptTimedOut(t, r, func() *st.Result { return e.read(catalog) }, "transactions", stalled, givenUp, e.bin, e.config)
	st.CheckIntegersWrittenAsDecimals(t, e.bin, e.config)

	// connect opens the config it is given as read does, then asks the
	// bank for the consent page.
	p := st.Start(t, e.bin, "connect", "--config", e.connectConfig(nil), "--country", "se", "--search", "swed", "--no-open")
	p.WaitLine(st.OpenURL)
}

package main

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
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
	e := newEnvWith(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 10, DailyLimit: 100}, func(_ *fake.Server, h http.Handler) http.Handler {
		var stall http.Handler
		stall, stalled, givenUp = st.Stall(h, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/transactions/") }, 1, 8*time.Second)
		return stall
	})
	catalog := e.catalog(false, "transactions")
	e.cfg["http_timeout_seconds"] = st.Decimal(1)
	e.cfg["lookback_days"] = st.Exponent(7)
	r := e.read(catalog)
	st.CheckAttemptTimedOut(t, r, func() *st.Result { return e.read(catalog) }, "transactions", stalled, givenUp, e.bin, e.config)
	st.CheckIntegersWrittenAsDecimals(t, e.bin, e.config)

	// connect opens the config it is given as read does, and links a bank.
	cfg := e.configFile()
	p := st.Start(t, e.bin, "connect", "--no-open", "--timeout", "30s", "--config", cfg, "--institution", "LHV_LHVBEE22")
	resp, err := http.PostForm(p.WaitLine(st.OpenURL)[1], url.Values{"action": {"approve"}, "account": {"0"}})
	st.Must(t, err, "consent at the bank")
	resp.Body.Close()
	if out, code := p.Wait(); code != 0 || parseResult(t, p).RequisitionID == "" {
		t.Fatalf("connect exited %d: %s\n%s", code, out, p.Stderr())
	}
}

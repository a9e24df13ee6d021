package main

import (
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
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
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 60, PageSize: 20})
	catalog := e.catalog(false, "items", "transactions")
	e.cfg["http_timeout_seconds"] = st.Decimal(1)
	e.cfg["lookback_days"] = st.Exponent(7)
	e.cfg["requests_per_minute"] = st.Decimal(0)
	e.cfg["max_concurrency"] = st.Exponent(4)
	e.fake.SetFaults(fake.Faults{EverySlow: 4, Slow: 5 * time.Second})
	r := e.read(catalog)
	e.allTransactions(r)
	const says = "no answer within 1s, the time one attempt may take (config http_timeout_seconds)"
	retried := 0
	for _, m := range r.OfType(protocol.TypeLog) {
		if strings.Contains(m.Log.Message, "retrying") && strings.Contains(m.Log.Message, says) {
			retried++
		}
	}
	if n := e.fake.Stats().Faults["slow"]; n == 0 || retried == 0 {
		t.Fatalf("%d answers held 5 s, %d retries logged saying %q; want each held answer given up at 1 s and retried:\n%s", n, retried, says, r.Stderr)
	}
	e.fake.SetFaults(fake.Faults{})
	st.CheckIntegersWrittenAsDecimals(t, e.bin, e.config)

	// connect opens the config it is given as read does, then serves
	// the Connect widget's page.
	p := st.Start(t, e.bin, "connect", "--config", e.config(nil), "--no-open", "--sandbox", "--widget-url", e.srv.URL+"/connect/pluggy-connect.js")
	p.WaitLine(st.OpenURL)
}

package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestSameOutputInEveryMachineZone: the machine's zone changes nothing a
// read writes. A first sync and an incremental read from its state, under
// TZ=UTC, America/Sao_Paulo (UTC-3), Pacific/Kiritimati (UTC+14) and
// Pacific/Pago_Pago (UTC-11), give the same records and states on stdout,
// the same Parquet rows and the same PostgreSQL rows and states: at any
// hour one of the last two is on another day than UTC, where a day taken
// from the local clock would show. Pluggy's times are UTC, and the fake
// serves some without their zone. The requests the two reads make are
// the same too. Only the run's own times differ (synced_at, _extracted_at).
func TestSameOutputInEveryMachineZone(t *testing.T) {
	_, _ = time.Now().Zone() // this process's zone is loaded before TZ changes: TZ is for the binary
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 40, TransactionTimesWithoutZone: true, WebhookTimesWithoutZone: true})
	// What the binary asks the API: a day taken in the machine's zone
	// shows in a dateFrom even where no row falls on that day.
	var mu sync.Mutex
	var asked []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.Method+" "+r.URL.RequestURI())
		mu.Unlock()
		e.fake.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	e.cfg["base_url"] = proxy.URL
	cat := e.catalog(true)
	runTimes := regexp.MustCompile(`"synced_at": ?"[^"]*"`)
	var want []string
	for _, zone := range []string{"UTC", "America/Sao_Paulo", "Pacific/Kiritimati", "Pacific/Pago_Pago"} {
		t.Setenv("TZ", zone)
		dir, url := t.TempDir(), pgtest.DB(t)
		mu.Lock()
		asked = nil
		mu.Unlock()
		first := e.readFast(cat, "--parquet-dir", dir, "--postgres", url)
		second := e.readFast(cat, "--parquet-dir", dir, "--postgres", url)
		var got []string
		for _, r := range []*st.Result{first, second} {
			var lines []string
			for stream, recs := range r.Records() {
				for _, raw := range recs {
					lines = append(lines, stream+" "+string(raw))
				}
			}
			for stream, s := range r.FinalStates() {
				lines = append(lines, "STATE "+stream+" "+string(s))
			}
			slices.Sort(lines)
			got = append(got, runTimes.ReplaceAllString(strings.Join(lines, "\n"), `"synced_at":"…"`))
		}
		got = append(got, st.ParquetDump(t, dir, "_extracted_at"), runTimes.ReplaceAllString(pgDump(t, pgtest.Connect(t, url), "pluggy"), `"synced_at":"…"`))
		mu.Lock()
		slices.Sort(asked)
		got = append(got, strings.Join(asked, "\n"))
		mu.Unlock()
		if want == nil {
			want = got
			continue
		}
		for i, what := range []string{"first read's stdout", "second read's stdout", "Parquet rows", "PostgreSQL rows", "requests to the API"} {
			if got[i] != want[i] {
				t.Errorf("TZ=%s: the %s differ from TZ=UTC's:\n%s", zone, what, st.Diff(want[i], got[i], 1, 20))
			}
		}
	}
}

// pgDump is every row of schema's tables, _state included, one line a
// row as JSON without _extracted_at, sorted.
func pgDump(t *testing.T, conn *pgx.Conn, schema string) string {
	t.Helper()
	var lines []string
	for _, table := range pgRows(t, conn, `SELECT quote_ident(table_name) FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\_load\_%'`, schema) {
		for _, r := range pgRows(t, conn, fmt.Sprintf(`SELECT (to_jsonb(t) - '_extracted_at' - 'updated_at')::text FROM %s.%s t`, pgx.Identifier{schema}.Sanitize(), table)) {
			lines = append(lines, table+" "+r)
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

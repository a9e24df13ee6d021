package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// corpusCase is one file of testdata/gocardless/realworld (see its
// README.md).
type corpusCase struct {
	Case   string `json:"case"`
	Source string `json:"source"`
	// Filled says how the parts the source elides ("…") were filled in.
	Filled string            `json:"filled"`
	Route  string            `json:"route"`
	Status int               `json:"status"`
	Bodies []json.RawMessage `json:"bodies"`
	// Times is how many of a run's calls to the route get the body; the
	// later ones go to the fake (0: every call).
	Times int `json:"times"`
	// StateBookedThroughDaysAgo starts the first run from a transactions
	// state whose booked_through is that many days ago (0: no state).
	StateBookedThroughDaysAgo int `json:"state_booked_through_days_ago"`
	Expect                    struct {
		Exit            int      `json:"exit"`
		FailureType     string   `json:"failure_type"`
		Message         []string `json:"message"`
		Warn            []string `json:"warn"`
		NotWarn         []string `json:"not_warn"`
		Booked          *int     `json:"booked"`
		Calls           int      `json:"calls"`
		TokenRefreshes  *int     `json:"token_refreshes"`
		SameKeysEachRun bool     `json:"same_keys_each_run"`
		DistinctKeys    int      `json:"distinct_keys"`
		// OthersRead: every other account's booked rows are emitted, all
		// of them: the case costs no other account anything.
		OthersRead bool `json:"others_read"`
		// QuotaKept: the account's transactions quota in the final state
		// is not spent (a company-level limit is no account's).
		QuotaKept bool `json:"quota_kept"`
		// BookedThroughKept: the account's booked_through in the final
		// state is the one the run started from (none without state).
		BookedThroughKept bool `json:"booked_through_kept"`
	} `json:"expect"`
}

const corpusDir = "../../testdata/gocardless/realworld"

// corpusRows is the booked rows the fake holds per account.
const corpusRows = 10

var dayPlaceholder = regexp.MustCompile(`\{\{day-(\d+)\}\}`)

// withDays replaces {{day-N}} by the date N days before today (UTC).
func withDays(body []byte, today time.Time) []byte {
	return dayPlaceholder.ReplaceAllFunc(body, func(m []byte) []byte {
		n, _ := strconv.Atoi(string(dayPlaceholder.FindSubmatch(m)[1]))
		return []byte(today.AddDate(0, 0, -n).Format(time.DateOnly))
	})
}

// TestRealWorldCorpus replays every recorded real-world answer through the
// binary: the fake answers the first account's call with the case's body,
// and the run ends as the case expects, with every message valid.
func TestRealWorldCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.json"))
	st.Must(t, err, "corpus")
	if len(files) == 0 {
		t.Fatal("no corpus files in " + corpusDir)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			st.Must(t, err, file)
			var c corpusCase
			st.Must(t, json.Unmarshal(raw, &c), file)
			if c.Source == "" || c.Case == "" || c.Route == "" || c.Status == 0 || len(c.Bodies) == 0 {
				t.Fatalf("%s: case, source, route, status and bodies are required", file)
			}
			t.Run("stdout", func(t *testing.T) { replayCase(t, c, "") })
			t.Run("parquet", func(t *testing.T) { replayCase(t, c, t.TempDir()) })
		})
	}
}

// replayCase replays c; with parquetDir set, every run also writes
// Parquet files there, and those must hold the rows the run emitted.
func replayCase(t *testing.T, c corpusCase, parquetDir string) {
	var target string
	var run atomic.Int32
	var calls atomic.Int32
	e := newEnvWith(t, fake.Options{TransactionsPerAccount: corpusRows}, func(f *fake.Server, h http.Handler) http.Handler {
		target = f.AccountIDs(f.RequisitionIDs()[0])[0]
		suffix := "/accounts/" + target + "/" + c.Route + "/"
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, suffix) {
				h.ServeHTTP(w, r)
				return
			}
			if n := calls.Add(1); c.Times > 0 && int(n) > c.Times {
				h.ServeHTTP(w, r)
				return
			}
			today := f.Now().UTC().Truncate(24 * time.Hour)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Date", f.Now().Format(http.TimeFormat))
			w.WriteHeader(c.Status)
			w.Write(withDays(c.Bodies[run.Load()], today))
		})
	})
	stream := c.Route
	if stream == "details" {
		stream = "accounts"
	}
	cat := e.catalog(true, stream)
	state, startedFrom := "", ""
	if c.StateBookedThroughDaysAgo > 0 {
		day := e.fake.Now().UTC().AddDate(0, 0, -c.StateBookedThroughDaysAgo).Format(time.DateOnly)
		state = st.StreamStateFile(t, "transactions", map[string]any{"version": 1, "accounts": map[string]any{
			target: map[string]any{"booked_through": day, "key_rule": "internal_transaction_id", "synced_at": e.fake.Now().UTC().Format(time.RFC3339)},
		}})
		startedFrom = day
	}
	var keysByRun []map[string]bool
	for i := range c.Bodies {
		run.Store(int32(i))
		calls.Store(0)
		e.fake.ResetStats()
		var extra []string
		if state != "" {
			extra = []string{"--state", state}
		}
		if parquetDir != "" {
			extra = append(extra, "--parquet-dir", parquetDir)
		}
		r := e.run(cat, nil, extra...)
		label := fmt.Sprintf("run %d (%s)", i+1, c.Source)
		for _, et := range r.ErrorTraces() {
			t.Logf("run %d: %s: %s", i+1, et.FailureType, et.Message)
		}
		if r.Code != c.Expect.Exit {
			t.Fatalf("%s: exit %d, want %d; errors %+v\n%s", label, r.Code, c.Expect.Exit, r.ErrorTraces(), r.Stderr)
		}
		if c.Expect.Exit == 0 {
			st.CheckLifecycle(t, r, []string{stream})
		}
		if len(c.Expect.Message) > 0 {
			want := make([]string, len(c.Expect.Message))
			for i, m := range c.Expect.Message {
				want[i] = strings.ReplaceAll(m, "{account}", target)
			}
			errs := errorsMention(r, want...)
			if len(errs) == 0 {
				t.Fatalf("%s: no error mentioning %q: %+v", label, want, r.ErrorTraces())
			}
			if c.Expect.FailureType != "" && string(errs[0].FailureType) != c.Expect.FailureType {
				t.Errorf("%s: failure type %s, want %s", label, errs[0].FailureType, c.Expect.FailureType)
			}
		}
		if len(c.Expect.Warn) > 0 && !warned(r, append([]string{target}, c.Expect.Warn...)...) {
			t.Errorf("%s: no WARN naming %s and %q", label, target, c.Expect.Warn)
		}
		if len(c.Expect.NotWarn) > 0 && warned(r, c.Expect.NotWarn...) {
			t.Errorf("%s: a WARN says %q", label, c.Expect.NotWarn)
		}
		if c.Expect.OthersRead && c.Route == "transactions" {
			rows := rowsByAccount(t, r, stream)
			for _, a := range e.accounts() {
				if a != target && rows[a] != corpusRows {
					t.Errorf("%s: account %s: %d rows, want all %d", label, a, rows[a], corpusRows)
				}
			}
		}
		if raw, ok := r.FinalStates()["transactions"]; ok && c.Route == "transactions" {
			s := decodeTxState(t, raw)
			if q, ok := s.Quota[target]; c.Expect.QuotaKept && ok && q.Remaining == 0 {
				t.Errorf("%s: the state's ledger says account %s's transactions quota is spent", label, target)
			}
			if c.Expect.BookedThroughKept && s.Accounts[target].BookedThrough != startedFrom {
				t.Errorf("%s: account %s's booked_through moved from %q to %q: rows the run did not read would be skipped", label, target, startedFrom, s.Accounts[target].BookedThrough)
			}
		}
		keys := map[string]bool{}
		for _, raw := range r.Records()[stream] {
			if x := decode(t, raw); x.AccountID == target {
				keys[x.TransactionKey] = true
			}
		}
		if c.Expect.Booked != nil && c.Route == "transactions" {
			n := 0
			for _, raw := range r.Records()[stream] {
				if decode(t, raw).AccountID == target {
					n++
				}
			}
			if n != *c.Expect.Booked {
				t.Errorf("%s: %d rows of the account emitted, want %d", label, n, *c.Expect.Booked)
			}
		}
		if c.Expect.DistinctKeys > 0 && len(keys) != c.Expect.DistinctKeys {
			t.Errorf("%s: %d distinct keys %v, want %d", label, len(keys), keys, c.Expect.DistinctKeys)
		}
		if c.Expect.Calls > 0 && int(calls.Load()) != c.Expect.Calls {
			t.Errorf("%s: the account's %s endpoint was called %d times, want %d", label, c.Route, calls.Load(), c.Expect.Calls)
		}
		if c.Expect.TokenRefreshes != nil && e.fake.Stats().Count(fake.RouteTokenRefresh) != *c.Expect.TokenRefreshes {
			t.Errorf("%s: %d token refreshes, want %d", label, e.fake.Stats().Count(fake.RouteTokenRefresh), *c.Expect.TokenRefreshes)
		}
		if parquetDir != "" && len(r.Records()[stream]) > 0 {
			files, _ := filepath.Glob(filepath.Join(parquetDir, stream, "*.parquet"))
			if len(files) == 0 {
				t.Errorf("%s: %d %s records, no Parquet file in %s", label, len(r.Records()[stream]), stream, parquetDir)
			}
		}
		keysByRun = append(keysByRun, keys)
		if r.Code == 0 || len(r.OfType(protocol.TypeState)) > 0 {
			state = r.StateFile(t)
		}
	}
	if c.Expect.SameKeysEachRun {
		for i := 1; i < len(keysByRun); i++ {
			if fmt.Sprint(keysByRun[i]) != fmt.Sprint(keysByRun[0]) {
				t.Errorf("run %d keyed the rows %v, run 1 %v", i+1, keysByRun[i], keysByRun[0])
			}
		}
	}
}

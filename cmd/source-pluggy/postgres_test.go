package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// These tests load the fake's data into a real PostgreSQL (pgtest) through
// the binary's --postgres, and compare the tables with what the fake serves.

func TestMain(m *testing.M) { pgtest.Main(m) }

func pgRows(t *testing.T, conn *pgx.Conn, query string, args ...any) []string {
	t.Helper()
	return pgtest.Rows(t, conn, query, args...)
}

// fakeTruth is what the fake serves now: per transaction id, the fields a
// mutation changes.
func (e *env) fakeTruth() map[string]string {
	out := map[string]string{}
	for _, item := range e.fake.ItemIDs() {
		for _, acct := range e.fake.AccountIDs(item) {
			for _, raw := range e.fake.Transactions(acct) {
				var x struct {
					ID          string      `json:"id"`
					Description string      `json:"description"`
					Amount      json.Number `json:"amount"`
					UpdatedAt   string      `json:"updatedAt"`
					Status      string      `json:"status"`
				}
				st.Must(e.t, json.Unmarshal(raw, &x), "fake transaction")
				u, err := time.Parse(time.RFC3339Nano, x.UpdatedAt)
				st.Must(e.t, err, "updatedAt")
				out[x.ID] = strings.Join([]string{x.Description, x.Amount.String(), u.UTC().Format(time.RFC3339Nano), x.Status}, "|")
			}
		}
	}
	return out
}

// liveTransactions reads the table's live rows in fakeTruth's shape, and
// fails on a duplicate key.
func liveTransactions(t *testing.T, conn *pgx.Conn) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range pgRows(t, conn, `SELECT id, description, amount::text, to_char("updatedAt" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), status
		FROM pluggy.transactions WHERE _deleted_at IS NULL`) {
		id, rest, _ := strings.Cut(r, "|")
		if _, dup := out[id]; dup {
			t.Fatalf("transaction %s twice", id)
		}
		out[id] = rest
	}
	return out
}

// compareTruth checks the live rows against the fake, and that every id in
// deleted carries _deleted_at.
func compareTruth(t *testing.T, e *env, conn *pgx.Conn, deleted []string) {
	t.Helper()
	truth := e.fakeTruth()
	live := liveTransactions(t, conn)
	var missing, extra, differ []string
	for id, want := range truth {
		got, ok := live[id]
		switch {
		case !ok:
			missing = append(missing, id)
		case normalizeTime(got) != normalizeTime(want):
			differ = append(differ, fmt.Sprintf("%s: table %q, fake %q", id, got, want))
		}
	}
	for id := range live {
		if _, ok := truth[id]; !ok {
			extra = append(extra, id)
		}
	}
	if len(missing)+len(extra)+len(differ) > 0 {
		t.Fatalf("live rows differ from the fake's truth (%d rows): %d missing %v, %d extra %v, %d differ %v",
			len(truth), len(missing), head(missing), len(extra), head(extra), len(differ), head(differ))
	}
	for _, id := range deleted {
		r := pgRows(t, conn, `SELECT _deleted_at IS NOT NULL FROM pluggy.transactions WHERE id = $1`, id)
		if len(r) != 1 || r[0] != "true" {
			t.Errorf("deleted transaction %s: %v, want a row with _deleted_at", id, r)
		}
	}
	dups := pgRows(t, conn, `SELECT count(*) - count(DISTINCT id) FROM pluggy.transactions`)
	if dups[0] != "0" {
		t.Fatalf("%s duplicate keys", dups[0])
	}
}

// normalizeTime compares timestamps to the millisecond the fake serves.
func normalizeTime(s string) string {
	parts := strings.Split(s, "|")
	if len(parts) >= 3 {
		if ts, err := time.Parse(time.RFC3339Nano, parts[2]); err == nil {
			parts[2] = ts.UTC().Format("2006-01-02T15:04:05.000Z")
		}
		// amounts: numeric keeps the JSON text's digits, which may end in 0
		if strings.Contains(parts[1], ".") {
			parts[1] = strings.TrimRight(strings.TrimRight(parts[1], "0"), ".")
		}
	}
	return strings.Join(parts, "|")
}

func head(s []string) []string {
	sort.Strings(s)
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

// TestPostgresFirstSyncMutationsSecondSync: every stream loads into its
// table, one row per key; after the fake's mutations (new, back-dated,
// pending→posted, updated, deleted rows) a second run that takes its state
// from the database leaves the live rows equal to what the fake serves,
// with _deleted_at on every deleted id.
func TestPostgresFirstSyncMutationsSecondSync(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 150})
	e.cfg["lookback_days"] = 30
	url := pgtest.DB(t)
	cat := e.catalog(true)
	r1 := e.read(cat, "--postgres", url)
	conn := pgtest.Connect(t, url)

	recs := r1.Records()
	pgtest.CheckStreamsLoaded(t, conn, "pluggy", e.discover().Streams, recs)
	compareTruth(t, e, conn, nil)
	// Money is exact numeric; a typed value is in its column, not in the
	// leftovers.
	if got := pgRows(t, conn, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'pluggy.transactions'::regclass AND attname = 'amount'`); got[0] != "numeric" {
		t.Errorf("amount is %v", got)
	}
	if got := pgRows(t, conn, `SELECT count(*) FROM pluggy.transactions WHERE _leftovers ? 'amount' OR _leftovers ? 'date'`); got[0] != "0" {
		t.Errorf("%s rows keep a typed field in _leftovers", got[0])
	}

	added := e.fake.AddNew(6)
	backdated := e.fake.AddBackdated(3, 3*24*time.Hour)
	oldPending, newPosted := e.fake.PostPending(4)
	updated := e.fake.UpdateInPlace(5)
	deleted := e.fake.Delete(5)
	if len(added)+len(backdated) == 0 || len(oldPending) == 0 || len(updated) == 0 || len(deleted) == 0 {
		t.Fatalf("the fake mutated too little: %d new, %d back-dated, %d posted, %d updated, %d deleted",
			len(added), len(backdated), len(newPosted), len(updated), len(deleted))
	}
	r2 := e.read(cat, "--postgres", url)
	if !strings.Contains(string(r2.Stdout), `resuming from the states the sink stored sink=\"PostgreSQL`) {
		t.Errorf("the second run did not say it resumed from the database's states")
	}
	if n1, n2 := len(recs["transactions"]), len(r2.Records()["transactions"]); n2 >= n1 {
		t.Errorf("the second run read %d transactions, the first %d: it did not resume from the stored state", n2, n1)
	}
	// A pending row that AddNew or AddBackdated made and PostPending
	// replaced was never read: it has no row to mark.
	seen := map[string]bool{}
	for _, id := range append(added, backdated...) {
		seen[id] = true
	}
	var gone []string
	for _, id := range append(deleted, oldPending...) {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	compareTruth(t, e, conn, gone)
	if strings.Contains(string(r2.Stdout), pgtest.Password) {
		t.Error("the output shows the database password")
	}

	// The report over the tables.
	report := pgRows(t, conn, `SELECT count(*), sum(transactions)::bigint, bool_and(money_out >= 0 AND money_in >= 0) FROM pluggy.category_spending`)
	live := pgRows(t, conn, `SELECT count(*) FROM pluggy.transactions WHERE _deleted_at IS NULL`)
	if parts := strings.Split(report[0], "|"); parts[0] == "0" || parts[1] != live[0] || parts[2] != "true" {
		t.Errorf("category_spending: %s (groups, transactions, signs ok); %s live transactions", report[0], live[0])
	}
}

// killAfter starts a read and SIGKILLs it after d (or lets it finish).
func (e *env) killAfter(d time.Duration, args ...string) (killed bool) {
	e.t.Helper()
	return e.killAfterStates(0, d, args...)
}

// killAfterStates starts a read and SIGKILLs it d after it printed its n-th
// STATE of transactions (d after its start when n is 0), or lets it finish.
// A STATE reaches stdout only once its sink committed it, so n > 0 kills a
// run that has committed at least that much, wherever d then falls; a kill
// that comes as the run ends counts only if the signal ended it.
func (e *env) killAfterStates(n int, d time.Duration, args ...string) (killed bool) {
	e.t.Helper()
	p := e.start(args...)
	if n > 0 && !p.Reach(e.t, killPoint{States: n}) {
		return false
	}
	select {
	case <-p.Done():
		return false
	case <-time.After(d):
	}
	p.Kill(e.t)
	<-p.Done()
	return p.Code() == -1 // ExitCode's answer for a process a signal ended
}

// TestPostgresKilledRunsResumeExactlyOnce kills the binary with SIGKILL at
// random moments of a slow load, mutating the fake between runs; a final
// run to the end leaves the table equal to the fake's truth, with no key
// twice and every deleted id marked.
func TestPostgresKilledRunsResumeExactlyOnce(t *testing.T) {
	// One account at a time, 720 pages at 10 ms: a run takes seconds.
	e := newEnv(t, fake.Options{Items: 4, AccountsPerItem: 3, TransactionsPerAccount: 3000, PageSize: 50, Latency: 10 * time.Millisecond})
	e.cfg["lookback_days"] = 30
	e.cfg["max_concurrency"] = 1
	url := pgtest.DB(t)
	cat := e.catalog(true, "accounts", "transactions")
	args := []string{"read", "--config", e.config(nil), "--catalog", cat, "--postgres", url, "--no-records"}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	var deleted []string
	kills := 0
	for i := range 4 {
		// Killed at a random moment after its start, its first STATE (an
		// announcement, committed with no rows) or its second (rows), so
		// that some runs commit rows first. Each account takes at least
		// 0.6 s of the fake's latency, and in 33 tries two runs had
		// committed at most 6 of the 12 accounts and four runs at most 9:
		// no run ended before its kill. Killing after the second or third
		// STATE instead loaded rows in every try, but left runs with so
		// little to do that only two of the four were killed in three
		// tries of ten. (Kills of up to 3 s from the start, as this test
		// had, let one run in six finish a load of 6 accounts, and then
		// the next ones too.)
		n, d := rng.IntN(3), time.Duration(rng.IntN(1000))*time.Millisecond
		if e.killAfterStates(n, d, args...) {
			kills++
		}
		if i%2 == 1 {
			// Only a row a run committed before its deletion has a row
			// to mark; one deleted before any run loaded it is just gone.
			// Two of the deleted rows are picked among those loaded,
			// inside the window a run re-reads, and two anywhere recent.
			ids := pgRows(t, pgtest.Connect(t, url), `SELECT id FROM pluggy.transactions`)
			loaded := map[string]bool{}
			for _, id := range ids {
				loaded[id] = true
			}
			gone := e.fake.DeleteRecentAmong(ids, 2, 30*24*time.Hour)
			t.Logf("after run %d: %d rows loaded, %d of them deleted", i+1, len(ids), len(gone))
			for _, id := range append(gone, e.fake.Delete(2)...) {
				if loaded[id] {
					deleted = append(deleted, id)
				}
			}
			e.fake.AddNew(3)
			e.fake.UpdateInPlace(2)
		}
	}
	t.Logf("%d of 4 runs killed; %d deleted rows had been loaded", kills, len(deleted))
	if kills < 2 {
		t.Fatalf("only %d of 4 runs were killed before they finished: make the fake slower", kills)
	}
	r := st.Run(t, e.bin, args...)
	if r.Code != 0 {
		t.Fatalf("final run exited %d: %v\n%s", r.Code, r.ErrorTraces(), r.Stderr)
	}
	st.ValidateProtocol(t, r)
	compareTruth(t, e, pgtest.Connect(t, url), deleted)
}

// TestPostgresSecondRunFailsFast: while one run holds the schema, a second
// exits at once with an error naming when the first started.
func TestPostgresSecondRunFailsFast(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 6000, PageSize: 50, Latency: 50 * time.Millisecond})
	url := pgtest.DB(t)
	cat := e.catalog(true, "transactions")
	first := exec.Command(e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", url, "--no-records")
	out, err := first.StdoutPipe()
	st.Must(t, err, "pipe")
	st.Must(t, first.Start(), "start")
	t.Cleanup(func() { _ = first.Process.Kill(); _ = first.Wait() })
	// The first run holds the lock once it has printed anything: its
	// first message comes after the sink is open.
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 64<<20)
	if !sc.Scan() {
		t.Fatal("the first run printed nothing")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	start := time.Now()
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", url)
	took := time.Since(start)
	if r.Code != 1 || len(r.ErrorTraces()) != 1 {
		t.Fatalf("second run: exit %d, traces %v", r.Code, r.ErrorTraces())
	}
	tr := r.ErrorTraces()[0]
	if !strings.Contains(tr.Message, "holds its lock") || !strings.Contains(tr.Message, "source-pluggy --postgres, started 20") {
		t.Errorf("error %q does not name the holder and its start", tr.Message)
	}
	// How to end the session of a run that is gone (killed on a node that
	// lost contact), which keeps the lock until the server notices.
	if !regexp.MustCompile(`server pid (\d+), (active|idle|idle in transaction) since 20[^)]*\).*SELECT pg_terminate_backend\((\d+)\)`).MatchString(tr.Message) {
		t.Errorf("error %q does not say what the holder's session does and how to end it", tr.Message)
	}
	if len(r.Records()) != 0 {
		t.Error("the second run read records")
	}
	if took > 60*time.Second {
		t.Errorf("the second run took %s to fail", took)
	}
	st.ValidateProtocol(t, r)

	// Another client's config into the same schema (two connections of
	// one provider sharing it) fails the same way, before any call to its
	// API.
	var calls atomic.Int64
	other := newWrappedEnv(t, fake.Options{Items: 1}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			h.ServeHTTP(w, r)
		})
	})
	r = st.Run(t, other.bin, "read", "--config", other.config(nil), "--catalog", other.catalog(true, "transactions"), "--postgres", url)
	if r.Code != 1 || len(r.ErrorTraces()) != 1 || !strings.Contains(r.ErrorTraces()[0].Message, "holds its lock") {
		t.Fatalf("a run of another config: exit %d, traces %v", r.Code, r.ErrorTraces())
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("a run of another config called its API %d times before failing on the lock", n)
	}
}

// TestPostgresSchemaEvolutionAndConflicts: a table made by an older schema
// (a column missing) gains the column; a column of another type is a
// config_error naming the table, the masked URL and the fix, and nothing is
// written.
func TestPostgresSchemaEvolutionAndConflicts(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 40})
	url := pgtest.DB(t)
	cat := e.catalog(true, "accounts", "transactions")
	e.read(cat, "--postgres", url)
	conn := pgtest.Connect(t, url)
	pgtest.Exec(t, url, `ALTER TABLE pluggy.transactions DROP COLUMN "operationType"`)
	e.read(cat, "--postgres", url, "--state", st.WriteFile(t, "empty.json", []any{}))
	if got := pgRows(t, conn, `SELECT count(*) FROM pluggy.transactions WHERE "operationType" IS NOT NULL`); got[0] == "0" {
		t.Error(`column "operationType" was not added back and filled`)
	}

	pgtest.Exec(t, url, `ALTER TABLE pluggy.transactions ALTER COLUMN description TYPE jsonb USING to_jsonb(description)`)
	// A view of the user's over the column: ALTER COLUMN … TYPE refuses
	// it, so the fix names it first.
	pgtest.Exec(t, url, `CREATE VIEW pluggy."My descriptions" AS SELECT id, description FROM pluggy.transactions`)
	before := pgRows(t, conn, `SELECT count(*), max(_extracted_at) FROM pluggy.transactions`)
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", url)
	if r.Code != 1 || len(r.ErrorTraces()) != 1 {
		t.Fatalf("exit %d, traces %v", r.Code, r.ErrorTraces())
	}
	tr := r.ErrorTraces()[0]
	for _, want := range []string{`"pluggy"."transactions"`, `column "description" is jsonb`, `DROP VIEW "pluggy"."My descriptions" (views that read the column`, "ALTER TABLE", "postgres://postgres:xxxxx@"} {
		if !strings.Contains(tr.Message, want) {
			t.Errorf("error %q lacks %q", tr.Message, want)
		}
	}
	if tr.FailureType != protocol.ConfigError {
		t.Errorf("failure type %s", tr.FailureType)
	}
	if strings.Contains(string(r.Stdout)+string(r.Stderr), pgtest.Password) {
		t.Error("the output shows the database password")
	}
	if after := pgRows(t, conn, `SELECT count(*), max(_extracted_at) FROM pluggy.transactions`); after[0] != before[0] {
		t.Errorf("the failed run wrote: %s -> %s", before[0], after[0])
	}
	// The fix as the error gives it, and the next run loads.
	pgtest.Exec(t, url, `DROP VIEW pluggy."My descriptions"`)
	pgtest.Exec(t, url, `ALTER TABLE pluggy.transactions ALTER COLUMN description TYPE text USING description #>> '{}'`)
	e.read(cat, "--postgres", url)

	// An unreachable server and wrong credentials fail the same clear way.
	// A server that refuses the connection may be restarting: a scheduler
	// should retry (transient_error); a host name that does not resolve,
	// wrong credentials or TLS are the URL to fix (config_error).
	for _, c := range []struct {
		url, want string
		typ       protocol.FailureType
	}{
		{"postgres://u:hunter2secret@127.0.0.1:" + st.ClosedPort(t) + "/db?connect_timeout=5", "cannot reach PostgreSQL at postgres://u:xxxxx@", protocol.TransientError},
		{"postgres://u:hunter2secret@db.invalid:5432/db?connect_timeout=5", "cannot reach PostgreSQL at postgres://u:xxxxx@db.invalid", protocol.ConfigError},
		{strings.Replace(url, pgtest.Password, "hunter2secret", 1), `refused user "postgres"`, protocol.ConfigError},
		// The test server has no TLS: it is reachable, sslmode is what to fix.
		{strings.Replace(strings.Replace(url, pgtest.Password, "hunter2secret", 1), "sslmode=disable", "sslmode=require", 1), "the TLS connection that sslmode asks for failed", protocol.ConfigError},
		// A CA file that is not there (a secret mounted elsewhere) is a
		// TLS setting to fix, not a URL to percent-encode.
		{strings.Replace(strings.Replace(url, pgtest.Password, "hunter2secret", 1), "sslmode=disable", "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", 1), "sslrootcert", protocol.ConfigError},
		{strings.Replace(strings.Replace(url, pgtest.Password, "hunter2secret", 1), "sslmode=disable", "sslmode=verify-everything", 1), "sslmode one of disable, allow, prefer, require, verify-ca, verify-full", protocol.ConfigError},
	} {
		if strings.Contains(c.url, ".invalid") {
			var dns *net.DNSError
			if _, err := net.LookupHost("db.invalid"); !errors.As(err, &dns) || !dns.IsNotFound {
				t.Logf("skipped the host that does not resolve: this machine's resolver answers %v, not that the name does not exist", err)
				continue
			}
		}
		r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", c.url)
		if r.Code != 1 || len(r.ErrorTraces()) != 1 || !strings.Contains(r.ErrorTraces()[0].Message, c.want) || r.ErrorTraces()[0].FailureType != c.typ {
			t.Errorf("--postgres %s: exit %d, %v; want a %s with %q", c.url, r.Code, r.ErrorTraces(), c.typ, c.want)
		} else if strings.Contains(r.ErrorTraces()[0].Message, "percent-encoded") {
			t.Errorf("--postgres %s: %q says to percent-encode the URL, which parses", c.url, r.ErrorTraces()[0].Message)
		}
		if strings.Contains(string(r.Stdout)+string(r.Stderr), "hunter2secret") {
			t.Error("the output shows the password")
		}
	}
}

// TestStateFile: --state-file starts a first sync when absent, is replaced
// at every checkpoint (mode 0600, always a whole file, even when the run is
// killed), and the next run resumes from it.
func TestStateFile(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 2, AccountsPerItem: 3, TransactionsPerAccount: 1500, PageSize: 100, Latency: 3 * time.Millisecond})
	cat := e.catalog(true, "accounts", "transactions")
	path := filepath.Join(t.TempDir(), "state.json")
	args := []string{"read", "--config", e.config(nil), "--catalog", cat, "--state-file", path}
	killed := e.killAfter(700*time.Millisecond, args...)
	if fi, err := os.Stat(path); err == nil {
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
		}
		raw, _ := os.ReadFile(path)
		var msgs []protocol.State
		if err := json.Unmarshal(raw, &msgs); err != nil {
			t.Fatalf("the state file left by a killed run is not whole: %v\n%s", err, raw)
		}
	} else if killed {
		t.Logf("killed before the first checkpoint")
	}
	r1 := e.read(cat, args[5:]...)
	raw, err := os.ReadFile(path)
	st.Must(t, err, "state file")
	var msgs []protocol.State
	st.Must(t, json.Unmarshal(raw, &msgs), "state file")
	states := r1.OfType(protocol.TypeState)
	last := map[string]string{}
	for _, m := range states {
		last[m.State.Stream.StreamDescriptor.Name] = string(m.State.Stream.StreamState)
	}
	for _, m := range msgs {
		if want, ok := last[m.Stream.StreamDescriptor.Name]; ok && string(m.Stream.StreamState) != want {
			t.Errorf("stream %s: the file holds another state than the run's last", m.Stream.StreamDescriptor.Name)
		}
	}
	if len(msgs) != 2 {
		t.Errorf("the file holds %d states, want 2", len(msgs))
	}
	added := e.fake.AddNew(4)
	checkResumed(t, e, e.read(cat, args[5:]...), added)
}

// TestPostgresWithParquetAndStdout: one run writes stdout's records,
// Parquet files and the tables; every STATE printed covers rows that are
// in both the files and the database.
func TestPostgresWithParquetAndStdout(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 300})
	url := pgtest.DB(t)
	dir := t.TempDir()
	cat := e.catalog(true, "accounts", "transactions")
	r := e.read(cat, "--postgres", url, "--parquet-dir", dir)
	printed := len(r.Records()["transactions"])
	conn := pgtest.Connect(t, url)
	if got := pgRows(t, conn, `SELECT count(*) FROM pluggy.transactions`); got[0] != fmt.Sprint(printed) {
		t.Errorf("%d transactions printed, %s in the table", printed, got[0])
	}
	files, _ := filepath.Glob(filepath.Join(dir, "transactions", "*.parquet"))
	if len(files) == 0 {
		t.Error("no Parquet file written")
	}
	compareTruth(t, e, conn, nil)
}

// TestPostgresMisfitsNulledAndNoted: values no typed column holds (the
// fake's Misfits) load: the column is null, the value verbatim in
// _leftovers, the change in _changes, one WARN per field, and the state
// is committed.
func TestPostgresMisfitsNulledAndNoted(t *testing.T) {
	e := newHostileEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 40}, fake.Hostile{Misfits: true}, nil)
	url := pgtest.DB(t)
	// Not e.read: these records break the schema on purpose.
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"), "--postgres", url)
	if r.Code != 0 {
		t.Fatalf("read exited %d\n%s", r.Code, r.Stderr)
	}
	st.ValidateProtocol(t, r)
	recs := r.Records()["transactions"]
	if len(recs) == 0 {
		t.Fatal("no transactions")
	}
	conn := pgtest.Connect(t, url)
	got := pgRows(t, conn, `SELECT count(*), count("order"), count(*) FILTER (WHERE _leftovers->'order' = '"3"'::jsonb),
		count(*) FILTER (WHERE _changes @> '[{"field":"order","change":"NULLED","reason":"DESTINATION_TYPECAST_ERROR"}]'::jsonb),
		count(*) FILTER (WHERE jsonb_array_length(_changes) = 1)
		FROM pluggy.transactions`)
	if want := fmt.Sprintf("%d|0|%d|%d|%d", len(recs), len(recs), len(recs), len(recs)); got[0] != want {
		t.Errorf("rows, typed order, kept, noted, one change each: %s, want %s", got[0], want)
	}
	n := 0
	for _, m := range r.OfType(protocol.TypeLog) {
		if m.Log.Level == protocol.LevelWarn && strings.Contains(m.Log.Message, "does not fit") && strings.Contains(m.Log.Message, "field=order") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d WARNs for field order, want one per run", n)
	}
	if len(r.FinalStates()["transactions"]) == 0 {
		t.Error("no transactions STATE")
	}
}

// TestPostgresCrashLeavesNoGhostRows is TestCrashLeavesNoGhostRows for
// --postgres, with accounts read three at a time: a state committed when
// one account ends holds the rows the others emitted so far, so a run
// killed after such a commit leaves rows of accounts the state has not
// finished. Rows the table holds are deleted in the fake between killed
// runs; the final run marks every one of them deleted, and no deleted row
// stays live.
func TestPostgresCrashLeavesNoGhostRows(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 2, AccountsPerItem: 3, TransactionsPerAccount: 3000, PageSize: 50, Latency: 20 * time.Millisecond})
	e.cfg["lookback_days"] = 30
	e.cfg["max_concurrency"] = 3
	url := pgtest.DB(t)
	conn := pgtest.Connect(t, url)
	cat := e.catalog(true, "transactions")
	args := []string{"read", "--config", e.config(nil), "--catalog", cat, "--postgres", url, "--no-records"}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 4))
	recent := time.Now().AddDate(0, 0, -25).Format(time.DateOnly)
	var deleted []string
	kills := 0
	for range 4 {
		// A first sync takes a few seconds; the runs after it, less.
		if e.killAfter(time.Duration(300+rng.IntN(2500))*time.Millisecond, args...) {
			kills++
		}
		// Delete live rows the table holds, dated inside the window.
		ids := pgRows(t, conn, `SELECT id FROM pluggy.transactions WHERE _deleted_at IS NULL AND date >= $1 ORDER BY id`, recent)
		rng.Shuffle(len(ids), func(a, b int) { ids[a], ids[b] = ids[b], ids[a] })
		deleted = append(deleted, e.fake.DeleteIDs(ids[:min(len(ids), 20)])...)
	}
	t.Logf("%d of 4 runs killed; %d rows the table held deleted", kills, len(deleted))
	if kills == 0 {
		t.Fatal("no run was killed before it finished: make the fake slower")
	}
	r := st.Run(t, e.bin, args...)
	if r.Code != 0 {
		t.Fatalf("final run exited %d: %v\n%s", r.Code, r.ErrorTraces(), r.Stderr)
	}
	compareTruth(t, e, conn, deleted)
}

// TestPostgresEscapesJsonbRefusesLoad: Pluggy's JavaScript back end sends a
// string cut in the middle of an emoji as a lone surrogate escape
// ("\ud83d"), valid JSON that PostgreSQL's jsonb refuses; a field the
// schema lacks with one, or with \u0000 in its name, failed the COPY and
// so the transactions stream at every run. The rows load, the values in
// _leftovers as the text they came as.
func TestPostgresEscapesJsonbRefusesLoad(t *testing.T) {
	edit := func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return r.URL.Path == "/v2/transactions" }, func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte(`"description":`), []byte(`"cutNote":"Caf\u00e9 \ud83d","x\u0000y":1,"description":`))
		})
	}
	e := newHostileEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 30}, fake.Hostile{}, edit)
	url := pgtest.DB(t)
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"), "--postgres", url)
	if r.Code != 0 {
		t.Fatalf("read exited %d: %v", r.Code, r.ErrorTraces())
	}
	recs := r.Records()["transactions"]
	if len(recs) == 0 || !bytes.Contains(recs[0], []byte(`\ud83d`)) {
		t.Fatalf("the records do not carry the escapes: %d records", len(recs))
	}
	got := pgRows(t, pgtest.Connect(t, url), `SELECT count(*), count(*) FILTER (WHERE _leftovers->>'cutNote' = '"Caf\u00e9 \ud83d"' AND _leftovers ? 'x\u0000y') FROM pluggy.transactions`)
	if want := fmt.Sprintf("%d|%d", len(recs), len(recs)); got[0] != want {
		t.Errorf("rows, with both fields in _leftovers: %s, want %s", got[0], want)
	}
	// Each field the schema lacks is noted once a run, not once a row.
	for _, field := range []string{"field=cutNote", "field=x\x00y"} {
		n := 0
		for _, m := range r.OfType(protocol.TypeLog) {
			if m.Log.Level == protocol.LevelInfo && strings.Contains(m.Log.Message, "does not list") && strings.Contains(m.Log.Message, field) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d INFO lines note %s, want 1", n, field)
		}
	}
}

// TestPostgresKeyWithNUL: a key PostgreSQL text cannot hold (a NUL, valid
// JSON as \u0000) is stored with U+FFFD for each NUL, the same every run,
// and kept as sent in _leftovers with a REPLACED note: a key is never
// nulled, which failed the stream at every run. A second read upserts the
// same rows.
func TestPostgresKeyWithNUL(t *testing.T) {
	edit := func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return r.URL.Path == "/v2/transactions" }, func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte(`"id":"`), []byte(`"id":"nul\u0000`))
		})
	}
	e := newHostileEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 20}, fake.Hostile{}, edit)
	url := pgtest.DB(t)
	for run := 1; run <= 2; run++ {
		r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(false, "transactions"), "--postgres", url)
		if r.Code != 0 {
			t.Fatalf("run %d exited %d: %v", run, r.Code, r.ErrorTraces())
		}
		n := len(r.Records()["transactions"])
		got := pgRows(t, pgtest.Connect(t, url), `SELECT count(*), count(*) FILTER (WHERE id LIKE 'nul'||chr(65533)||'%' AND position('"nul\u0000' in _leftovers->>'id') = 1
			AND _changes @> '[{"field":"id","change":"REPLACED","reason":"DESTINATION_SERIALIZATION_ERROR"}]') FROM pluggy.transactions`)
		if want := fmt.Sprintf("%d|%d", n, n); n == 0 || got[0] != want {
			t.Fatalf("run %d: rows, with the key replaced and kept: %s, want %s", run, got[0], want)
		}
	}
}

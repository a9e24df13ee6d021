package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const txSchema = `{"type":"object","required":["id"],"properties":{
	"id":{"type":"string"},
	"amount":{"type":["number","null"]},
	"date":{"type":["string","null"],"format":"date-time"},
	"day":{"type":["string","null"],"format":"date"},
	"n":{"type":["integer","null"]},
	"ok":{"type":["boolean","null"]},
	"meta":{"type":["object","null"],"properties":{"a":{"type":"string"}}},
	"updatedAt":{"type":["string","null"],"format":"date-time"},
	"_ab_cdc_deleted_at":{"type":["string","null"],"format":"date-time"}}}`

func txStream() Stream {
	return Stream{Name: "tx", Schema: json.RawMessage(txSchema), PrimaryKey: [][]string{{"id"}}}
}

func open(t *testing.T, url string, opts Options, streams ...Stream) *Destination {
	t.Helper()
	opts.URL, opts.Connector, opts.Version = url, "source-test", "0.0.1"
	d, err := Open(context.Background(), opts, streams)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func write(t *testing.T, tb *Table, rows ...string) {
	t.Helper()
	for _, r := range rows {
		if err := tb.Write([]byte(r)); err != nil {
			t.Fatalf("Write(%s): %v", r, err)
		}
	}
}

// rows runs query on database url.
func rows(t *testing.T, url, query string) []string {
	t.Helper()
	return pgtest.Rows(t, pgtest.Connect(t, url), query)
}

func TestIncrementalMergeStateAndTombstones(t *testing.T) {
	url := pgtest.DB(t)
	ctx := context.Background()
	d := open(t, url, Options{}, txStream())
	if len(d.States()) != 0 {
		t.Fatalf("fresh schema has states %v", d.States())
	}
	tb, _ := d.Table(ctx, "tx", true)
	write(t, tb,
		`{"id":"a","amount":-12.3456,"date":"2026-01-02T03:04:05.123Z","day":"2026-01-02","n":7,"ok":true,"meta":{"a":"x"},"updatedAt":"2026-01-02T00:00:00Z","extra":{"new":1}}`,
		`{"id":"b","amount":"oops","date":"yesterday","n":1.5,"updatedAt":"2026-01-02T00:00:00Z"}`,
		`{"id":"c","amount":1e2,"updatedAt":"2026-01-02T00:00:00Z"}`,
		`{"id":"c","amount":3,"updatedAt":"2026-01-03T00:00:00Z"}`, // later in the checkpoint: wins
	)
	if err := tb.Commit(json.RawMessage(`{"cursor":1}`)); err != nil {
		t.Fatal(err)
	}
	got := rows(t, url, `SELECT id, amount::text, date, day, n, ok, meta::text, _leftovers::text, _deleted_at IS NULL FROM "test".tx ORDER BY id`)
	want := []string{
		`a|-12.3456|2026-01-02 03:04:05.123 +0000 UTC|2026-01-02 00:00:00 +0000 UTC|7|true|{"a": "x"}|{"extra": {"new": 1}}|true`,
		`b|<nil>|<nil>|<nil>|<nil>|<nil>|<nil>|{"n": 1.5, "date": "yesterday", "amount": "oops"}|true`,
		`c|3|<nil>|<nil>|<nil>|<nil>|<nil>|<nil>|true`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// _changes names each nulled column, as Airbyte's _airbyte_meta.changes
	// does; a field the schema lacks is no change.
	got = rows(t, url, `SELECT id, coalesce((SELECT string_agg(c->>'field' || ':' || (c->>'change') || ':' || (c->>'reason'), ',' ORDER BY c->>'field') FROM jsonb_array_elements(_changes) c), '-') FROM "test".tx ORDER BY id`)
	want = []string{
		`a|-`,
		`b|amount:NULLED:DESTINATION_TYPECAST_ERROR,date:NULLED:DESTINATION_TYPECAST_ERROR,n:NULLED:DESTINATION_TYPECAST_ERROR`,
		`c|-`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("_changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Rows written but not committed are not in the table, and not in the
	// state, after the run dies.
	write(t, tb, `{"id":"z","updatedAt":"2026-01-09T00:00:00Z"}`)
	d.Close()

	d = open(t, url, Options{}, txStream())
	if s := string(d.States()["tx"]); s != `{"cursor":1}` {
		t.Fatalf("stored state %q", s)
	}
	tb, _ = d.Table(ctx, "tx", true)
	write(t, tb,
		`{"id":"a","_ab_cdc_deleted_at":"2026-02-01T00:00:00Z"}`,                    // tombstone: row kept
		`{"id":"gone","accountId":"x","_ab_cdc_deleted_at":"2026-02-01T00:00:00Z"}`, // never loaded: on record
		`{"id":"c","amount":99,"updatedAt":"2026-01-01T00:00:00Z"}`,                 // older version: ignored
	)
	if err := tb.Commit(json.RawMessage(`{"cursor":2}`)); err != nil {
		t.Fatal(err)
	}
	write(t, tb,
		`{"id":"a","amount":5,"updatedAt":"2026-01-05T00:00:00Z"}`, // replay of a version older than its deletion
	)
	if err := tb.Commit(json.RawMessage(`{"cursor":3}`)); err != nil {
		t.Fatal(err)
	}
	got = rows(t, url, `SELECT id, amount::text, _deleted_at, _leftovers::text FROM "test".tx ORDER BY id`)
	want = []string{
		`a|-12.3456|2026-02-01 00:00:00 +0000 UTC|{"extra": {"new": 1}}`,
		`b|<nil>|<nil>|{"n": 1.5, "date": "yesterday", "amount": "oops"}`,
		`c|3|<nil>|<nil>`,
		`gone|<nil>|2026-02-01 00:00:00 +0000 UTC|{"accountId": "x"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s := rows(t, url, `SELECT state::text FROM "test"._state WHERE stream = 'tx'`); s[0] != `{"cursor":3}` {
		t.Fatalf("state %v", s)
	}
}

// TestFirstSyncMeetsItsOwnKeys: on a first sync the merge tries a plain
// INSERT; a checkpoint that brings back a key an earlier one loaded (a
// newer version, then a late replay of an older one) falls back to the
// upsert and its rules, and the later checkpoints keep upserting.
func TestFirstSyncMeetsItsOwnKeys(t *testing.T) {
	url := pgtest.DB(t)
	d := open(t, url, Options{}, txStream())
	tb, _ := d.Table(context.Background(), "tx", true)
	for _, cp := range [][]string{
		{`{"id":"a","n":1,"updatedAt":"2026-01-01T00:00:00Z"}`, `{"id":"b","n":1,"updatedAt":"2026-01-01T00:00:00Z"}`},
		{`{"id":"c","n":1,"updatedAt":"2026-01-01T00:00:00Z"}`, `{"id":"a","n":2,"updatedAt":"2026-01-02T00:00:00Z"}`},
		{`{"id":"a","n":0,"updatedAt":"2025-12-31T00:00:00Z"}`, `{"id":"d","n":1,"updatedAt":"2026-01-01T00:00:00Z"}`},
		{`{"id":"b","n":3,"updatedAt":"2026-01-03T00:00:00Z"}`},
	} {
		write(t, tb, cp...)
		if err := tb.Commit(json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(rows(t, url, `SELECT id || '=' || n FROM "test".tx ORDER BY id`), ","); got != "a=2,b=3,c=1,d=1" {
		t.Fatalf("rows %s, want a=2,b=3,c=1,d=1", got)
	}
}

func TestHardDelete(t *testing.T) {
	url := pgtest.DB(t)
	d := open(t, url, Options{HardDelete: true}, txStream())
	tb, _ := d.Table(context.Background(), "tx", true)
	write(t, tb, `{"id":"a"}`, `{"id":"b"}`)
	if err := tb.Commit(json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	write(t, tb, `{"id":"a","_ab_cdc_deleted_at":"2026-02-01T00:00:00Z"}`, `{"id":"never","_ab_cdc_deleted_at":"2026-02-01T00:00:00Z"}`)
	if err := tb.Commit(json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, url, `SELECT id FROM "test".tx ORDER BY id`); strings.Join(got, ",") != "b" {
		t.Fatalf("rows %v, want b", got)
	}
}

func TestFullRefreshReplacesAtEnd(t *testing.T) {
	url := pgtest.DB(t)
	ctx := context.Background()
	d := open(t, url, Options{}, txStream())
	tb, _ := d.Table(ctx, "tx", false)
	write(t, tb, `{"id":"a"}`, `{"id":"b"}`)
	if err := tb.End(source.StateOf(json.RawMessage(`{"__ab_no_cursor_state_message":true}`))); err != nil {
		t.Fatal(err)
	}
	tb, _ = d.Table(ctx, "tx", false)
	write(t, tb, `{"id":"c"}`)
	if got := rows(t, url, `SELECT id FROM "test".tx ORDER BY id`); strings.Join(got, ",") != "a,b" {
		t.Fatalf("before the end: rows %v, want the old set a,b", got)
	}
	tb.Abort() // a failed stream leaves the old set
	if got := rows(t, url, `SELECT id FROM "test".tx ORDER BY id`); strings.Join(got, ",") != "a,b" {
		t.Fatalf("after a failed stream: rows %v, want a,b", got)
	}
	tb, _ = d.Table(ctx, "tx", false)
	write(t, tb, `{"id":"c"}`, `{"id":"d"}`)
	if err := tb.End(source.State{}); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, url, `SELECT id FROM "test".tx ORDER BY id`); strings.Join(got, ",") != "c,d" {
		t.Fatalf("rows %v, want c,d", got)
	}
}

func TestSchemaEvolutionAndConflicts(t *testing.T) {
	url := pgtest.DB(t)
	d := open(t, url, Options{}, txStream())
	d.Close()
	grown := txStream()
	grown.Schema = json.RawMessage(strings.Replace(txSchema, `"id":{"type":"string"},`, `"id":{"type":"string"},"brandNew":{"type":["number","null"]},`, 1))
	d = open(t, url, Options{}, grown)
	d.Close()
	if got := rows(t, url, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '"test".tx'::regclass AND attname = 'brandNew'`); len(got) != 1 || got[0] != "numeric" {
		t.Fatalf("brandNew column: %v", got)
	}
	pgtest.Exec(t, url, `ALTER TABLE "test".tx ALTER COLUMN amount TYPE text`)
	_, err := Open(context.Background(), Options{URL: url, Connector: "source-test"}, []Stream{grown})
	assertConfigError(t, err, `"test"."tx"`, `column "amount" is text`, "ALTER TABLE", "xxxxx")
}

func assertConfigError(t *testing.T, err error, parts ...string) {
	t.Helper()
	assertFailure(t, err, protocol.ConfigError, parts...)
}

func assertFailure(t *testing.T, err error, typ protocol.FailureType, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if source.FailureTypeOf(err) != typ {
		t.Errorf("failure type %s, want %s: %v", source.FailureTypeOf(err), typ, err)
	}
	msg := err.Error()
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q lacks %q", msg, p)
		}
	}
	if strings.Contains(msg, pgtest.Password) {
		t.Errorf("error %q shows the password", msg)
	}
}

func TestBadDatabases(t *testing.T) {
	url := pgtest.DB(t)
	s := pgtest.Shared(t)
	ctx := context.Background()
	open1 := func(u string) error {
		d, err := Open(ctx, Options{URL: u, Connector: "source-test"}, []Stream{txStream()})
		if err == nil {
			d.Close()
		}
		return err
	}
	wrong := strings.Replace(url, pgtest.Password, "not-"+pgtest.Password, 1)
	assertConfigError(t, open1(wrong), "refused user", "xxxxx", "password")
	// Refused: the server may be restarting, so a scheduler should retry.
	assertFailure(t, open1(fmt.Sprintf("postgres://u:%s@127.0.0.1:1/db?connect_timeout=5", pgtest.Password)), protocol.TransientError, "cannot reach", "127.0.0.1:1", "xxxxx")
	assertConfigError(t, open1(s.URL("nosuchdb")), `no database "nosuchdb"`)

	// A schema that belongs to a role the user is not a member of. Roles
	// belong to the whole server, which the package's tests share (and
	// -count=N runs repeat): the names are the database's own.
	db := pgtest.DBName(url)
	other, loader := "other_"+db, "loader_"+db
	pgtest.Exec(t, url, `CREATE ROLE `+other+` NOLOGIN; CREATE ROLE `+loader+` LOGIN PASSWORD 'loaderpw'; GRANT CREATE ON DATABASE `+db+` TO `+loader+`; CREATE SCHEMA test AUTHORIZATION `+other)
	loaderURL := strings.Replace(url, "postgres:"+pgtest.Password, loader+":loaderpw", 1)
	assertConfigError(t, open1(loaderURL), `schema "test" belongs to role "`+other+`"`, "--postgres-schema")
}

// TestBadDatabasesThroughPgBouncer: a wrong password, an unknown user and
// a database the pooler has no entry for, through a real PgBouncer, are
// each a config_error naming the fix, at once and without the password.
// PgBouncer 1.18 refuses them as protocol violations (08P01), and they
// were a transient_error, for a scheduler to retry at every run, saying
// only "refused the connection: password authentication failed".
func TestBadDatabasesThroughPgBouncer(t *testing.T) {
	through := pgtest.PgBouncer(t, pgtest.DB(t), pgtest.SessionPool)
	open1 := func(u string) error {
		t.Helper()
		start := time.Now()
		d, err := Open(context.Background(), Options{URL: u, Connector: "source-test"}, []Stream{txStream()})
		if err == nil {
			d.Close()
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("refused after %s: tried again", took)
		}
		return err
	}
	wrong := strings.Replace(through, pgtest.Password, "not-"+pgtest.Password, 1)
	assertConfigError(t, open1(wrong), `refused user "postgres"`, "password authentication failed", "fix the user or password in --postgres", "xxxxx")
	nobody := strings.Replace(through, "://"+pgtest.User+":", "://nobody:", 1)
	assertConfigError(t, open1(nobody), `refused user "nobody"`, "fix the user or password in --postgres")
	u, err := neturl.Parse(through)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/nosuchdb"
	assertConfigError(t, open1(u.String()), `no database "nosuchdb"`, "fix the database in --postgres", "[databases]")

	// The server's refusals of the pooler's login, which PgBouncer passes
	// on as 08P01 too: a password changed on the server and not in the
	// pooler's auth_file, a database its entry names that is gone.
	s := pgtest.Shared(t)
	db := pgtest.DBName(through)
	role, gone := "bounced_"+db, "gone_"+db
	for _, sql := range []string{`CREATE ROLE ` + role + ` LOGIN PASSWORD 'bouncedpw'`, `CREATE DATABASE ` + gone} {
		pgtest.Exec(t, s.URL("postgres"), sql)
	}
	t.Cleanup(func() {
		for _, sql := range []string{`DROP DATABASE IF EXISTS ` + gone, `DROP ROLE IF EXISTS ` + role} {
			pgtest.Exec(t, s.URL("postgres"), sql)
		}
	})
	roleThrough := pgtest.PgBouncer(t, strings.Replace(s.URL(gone), "postgres:"+pgtest.Password, role+":bouncedpw", 1), pgtest.SessionPool)
	pgtest.Exec(t, s.URL("postgres"), `ALTER ROLE `+role+` PASSWORD 'changed'`)
	assertConfigError(t, open1(roleThrough), `refused user "`+role+`"`, `password authentication failed for user "`+role+`"`, "auth_file")
	goneThrough := pgtest.PgBouncer(t, s.URL(gone), pgtest.SessionPool)
	pgtest.Exec(t, s.URL("postgres"), `DROP DATABASE `+gone)
	assertConfigError(t, open1(goneThrough), `no database "`+gone+`"`, `database "`+gone+`" does not exist`, "CREATE DATABASE")
}

// TestFullPgBouncerRefusesPromptly: a PgBouncer holding as many clients
// as its max_client_conn refuses the run's first session every time it
// is tried again (after refusing it a startup parameter, see dial): the
// run fails within about 1.5 s, a transient_error naming the pooler's
// setting and the fix, where it quoted the pooler's words alone.
func TestFullPgBouncerRefusesPromptly(t *testing.T) {
	through := pgtest.PgBouncer(t, pgtest.DB(t), pgtest.SessionPool)
	pgtest.PgBouncerSet(t, through, "max_client_conn", "1")
	// The one client it takes, held to the test's end, once PgBouncer
	// has freed the admin console's (on a later turn of its loop).
	var holder *pgx.Conn
	for deadline := time.Now().Add(5 * time.Second); holder == nil; time.Sleep(50 * time.Millisecond) {
		c, err := pgx.Connect(context.Background(), through)
		switch {
		case err == nil:
			holder = c
		case time.Now().After(deadline):
			t.Fatalf("PgBouncer took no client: %v", err)
		}
	}
	defer holder.Close(context.Background())
	start := time.Now()
	d, err := Open(context.Background(), Options{URL: through, Connector: "source-test"}, []Stream{txStream()})
	if err == nil {
		d.Close()
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("refused after %s", took)
	}
	assertFailure(t, err, protocol.TransientError, "no more connections allowed (max_client_conn)", "PgBouncer", "raise max_client_conn", "xxxxx")
}

// TestConnectFailureTypes: what a scheduler should do about a connection
// that failed. The URL to fix (a host name that does not exist, a role's
// own connection limit) is a config_error; a server that refuses, is
// starting up or is out of connection slots is a transient_error, retried,
// where a config_error (exit 78) made a Kubernetes Job give up at once.
func TestConnectFailureTypes(t *testing.T) {
	d := &Destination{opts: Options{URL: "postgres://u:pw@db:5432/bank"}, shown: "postgres://u:xxxxx@db:5432/bank"}
	cfg, err := pgx.ParseConfig(d.opts.URL)
	if err != nil {
		t.Fatal(err)
	}
	dial := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} }
	for _, c := range []struct {
		name string
		err  error
		want protocol.FailureType
	}{
		{"refused", dial(syscall.ECONNREFUSED), protocol.TransientError},
		{"timed out", dial(os.ErrDeadlineExceeded), protocol.TransientError},
		{"a temporary DNS failure", dial(&net.DNSError{Err: "server misbehaving", Name: "db", IsTemporary: true}), protocol.TransientError},
		{"a host that does not exist", dial(&net.DNSError{Err: "no such host", Name: "db", IsNotFound: true}), protocol.ConfigError},
		{"a role's connection limit", &pgconn.PgError{Code: "53300", Message: `too many connections for role "u"`}, protocol.ConfigError},
		{"the server's connection slots", &pgconn.PgError{Code: "53300", Message: "sorry, too many clients already"}, protocol.TransientError},
		{"starting up", &pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}, protocol.TransientError},
		{"wrong password", &pgconn.PgError{Code: "28P01", Message: `password authentication failed for user "u"`}, protocol.ConfigError},
		{"no database", &pgconn.PgError{Code: "3D000", Message: `database "bank" does not exist`}, protocol.ConfigError},
		{"wrong password, PgBouncer's", &pgconn.PgError{Code: "08P01", Message: "password authentication failed"}, protocol.ConfigError},
		{"wrong password, PgBouncer's SCRAM", &pgconn.PgError{Code: "08P01", Message: "SASL authentication failed"}, protocol.ConfigError},
		{"no database, PgBouncer's", &pgconn.PgError{Code: "08P01", Message: "no such database: bank"}, protocol.ConfigError},
		{"wrong password, the server's through PgBouncer", &pgconn.PgError{Code: "08P01", Message: `password authentication failed for user "u"`}, protocol.ConfigError},
		{"no database, the server's through PgBouncer", &pgconn.PgError{Code: "08P01", Message: `database "bank" does not exist`}, protocol.ConfigError},
		{"a full pooler", &pgconn.PgError{Code: "08P01", Message: "no more connections allowed (max_client_conn)"}, protocol.TransientError},
		{"a pooler that cannot reach the server", &pgconn.PgError{Code: "08P01", Message: "pgbouncer cannot connect to server"}, protocol.TransientError},
	} {
		got := d.connectError(fmt.Errorf("failed to connect: %w", c.err), cfg)
		if typ := source.FailureTypeOf(got); typ != c.want {
			t.Errorf("%s: %s, want %s: %v", c.name, typ, c.want, got)
		}
		if strings.Contains(got.Error(), ":pw@") {
			t.Errorf("%s: the password is shown: %v", c.name, got)
		}
	}
}

func TestOneWriterPerSchema(t *testing.T) {
	url := pgtest.DB(t)
	open(t, url, Options{}, txStream())
	start := time.Now()
	_, err := Open(context.Background(), Options{URL: url, Connector: "source-test"}, []Stream{txStream()})
	if err == nil {
		t.Fatal("a second writer opened the schema")
	}
	var se *source.Error
	if !errors.As(err, &se) || se.Type != protocol.TransientError || !strings.Contains(err.Error(), "source-test --postgres, started 20") {
		t.Fatalf("error %v (%T)", err, err)
	}
	if time.Since(start) > 30*time.Second {
		t.Fatalf("the second writer waited %s", time.Since(start))
	}
	// Another schema is another lock.
	open(t, url, Options{Schema: "other"}, txStream())
}

// TestEveryColumnType: a row of every type the schema derivation makes,
// through the binary COPY and the merge, read back as the server prints
// it; then a row of nulls and one whose values fit nowhere.
func TestEveryColumnType(t *testing.T) {
	url := pgtest.DB(t)
	const schema = `{"type":"object","required":["id"],"properties":{
	"id":{"type":"string"},
	"s":{"type":["string","null"]},
	"lt":{"type":["string","null"],"x-lenient-time":true},
	"num":{"type":["number","null"]},
	"ds":{"type":["string","null"],"x-decimal-string":true},
	"i":{"type":["integer","null"]},
	"b":{"type":["boolean","null"]},
	"ts":{"type":["string","null"],"format":"date-time"},
	"d":{"type":["string","null"],"format":"date"},
	"o":{"type":["object","null"],"properties":{"a":{"type":"string"}}},
	"arr":{"type":["array","null"],"items":{"type":"object","properties":{"x":{"type":"integer"}}}},
	"multi":{"type":["string","integer","null"]},
	"any":{}}}`
	d := open(t, url, Options{}, Stream{Name: "all", Schema: json.RawMessage(schema), PrimaryKey: [][]string{{"id"}}})
	tb, _ := d.Table(context.Background(), "all", true)
	write(t, tb,
		`{"id":"full","s":"tab\there \\ \"q\" é","lt":"2026-01-02 03:04:05","num":-1234567890.000012345678900,"ds":"0.10","i":-42,"b":true,`+
			`"ts":"2026-01-02T03:04:05.000006-02:00","d":"1999-12-31","o":{"a":"x\ny"},"arr":[{"x":1},{"x":2}],"multi":7,"any":"s"}`,
		`{"id":"nulls","s":null,"lt":null,"num":null,"ds":null,"i":null,"b":null,"ts":null,"d":null,"o":null,"arr":null,"multi":null,"any":null}`,
		`{"id":"misfits","s":{"no":1},"lt":"soon","num":"1,5","ds":"abc","i":1.5,"b":"yes","ts":"2026-01-02","d":"2026-13-01","o":[1],"arr":{"x":1},"any":[]}`,
		`{"id":"empty","s":"","lt":"2026-01-02","num":0.00,"ds":"-0","i":0,"b":false,"ts":"0001-01-01T00:00:00Z","d":"9999-12-31","o":{},"arr":[],"multi":"","any":null}`,
	)
	if err := tb.Commit(json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	got := rows(t, url, `SELECT id, quote_nullable(s), quote_nullable(lt), quote_nullable(lt_parsed AT TIME ZONE 'UTC'), quote_nullable(num), quote_nullable(ds),
		quote_nullable(i), quote_nullable(b), quote_nullable(ts AT TIME ZONE 'UTC'), quote_nullable(d), quote_nullable(o), quote_nullable(arr),
		quote_nullable(multi), quote_nullable("any"), quote_nullable(_leftovers), quote_nullable(_changes IS NOT NULL)
		FROM "test"."all" ORDER BY id`)
	want := []string{
		`empty|''|'2026-01-02'|'2026-01-02 00:00:00'|'0.00'|'0'|'0'|'false'|'0001-01-01 00:00:00'|'9999-12-31'|'{}'|'[]'|'""'|NULL|NULL|'false'`,
		`full|E'tab` + "\t" + `here \\ "q" é'|'2026-01-02 03:04:05'|'2026-01-02 03:04:05'|'-1234567890.000012345678900'|'0.10'|'-42'|'true'|` +
			`'2026-01-02 05:04:05.000006'|'1999-12-31'|E'{"a": "x\\ny"}'|'[{"x": 1}, {"x": 2}]'|'7'|'"s"'|NULL|'false'`,
		// jsonb columns take any JSON value.
		`misfits|NULL|'soon'|NULL|NULL|NULL|NULL|NULL|NULL|NULL|'[1]'|'{"x": 1}'|NULL|'[]'|` +
			`'{"b": "yes", "d": "2026-13-01", "i": 1.5, "s": {"no": 1}, "ds": "abc", "ts": "2026-01-02", "num": "1,5"}'|'true'`,
		`nulls|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|'false'`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestStateStoredUncompressed: the _state column is stored out of line
// without compression, for schemas made by this version and by earlier
// ones (whose _state had the default): compressing a state of megabytes at
// every commit cost the merging connection 7% of its CPU.
func TestStateStoredUncompressed(t *testing.T) {
	url := pgtest.DB(t)
	storage := func() string {
		t.Helper()
		got := rows(t, url, `SELECT attstorage::text FROM pg_attribute WHERE attrelid = '"test"._state'::regclass AND attname = 'state'`)
		if len(got) != 1 {
			t.Fatalf("state column: %v", got)
		}
		return got[0]
	}
	d := open(t, url, Options{Schema: "test"}, txStream())
	d.Close()
	if got := storage(); got != "e" {
		t.Fatalf("a new schema's _state.state has storage %q, want e (external)", got)
	}
	conn := pgtest.Connect(t, url)
	if _, err := conn.Exec(context.Background(), `ALTER TABLE "test"._state ALTER COLUMN state SET STORAGE EXTENDED`); err != nil {
		t.Fatal(err)
	}
	open(t, url, Options{Schema: "test"}, txStream()).Close()
	if got := storage(); got != "e" {
		t.Fatalf("an earlier schema's _state.state has storage %q after Open, want e (external)", got)
	}
}

// TestStateStreamedVerbatim: a state streamed into _state through COPY
// comes back byte for byte, backslashes, escapes and non-ASCII included,
// and a large one too; copyText escapes what COPY's text format reads.
func TestStateStreamedVerbatim(t *testing.T) {
	url := pgtest.DB(t)
	ctx := context.Background()
	d := open(t, url, Options{}, txStream())
	tb, _ := d.Table(ctx, "tx", true)
	for _, st := range []string{
		`{"a":"back\\slash \"quoted\" tab\t newline\n cr\r \u0001 é 💶","b":[1,2.50,null]}`,
		`{"ids":"` + strings.Repeat(`0123456789\\`, 200_000) + `"}`, // 2.2 MB, many pieces
	} {
		write(t, tb, `{"id":"a","updatedAt":"2026-01-02T00:00:00Z"}`)
		if err := tb.Commit(json.RawMessage(st)); err != nil {
			t.Fatal(err)
		}
		got := rows(t, url, `SELECT stream, connector_version, updated_at > now() - interval '1 hour', state::text FROM "test"._state`)
		if len(got) != 1 || got[0] != `tx|0.0.1|true|`+st {
			t.Fatalf("stored state differs (%d rows): %.160s", len(got), got)
		}
	}
	var b bytes.Buffer
	if _, err := (copyText{&b}).Write([]byte("a\\b\nc\rd\te")); err != nil || b.String() != `a\\b\nc\rd\te` {
		t.Errorf("copyText wrote %q, %v", b.String(), err)
	}
}

// TestValuesJsonbRefusesStillLoad: JSON that is valid but that jsonb
// refuses (a UTF-16 surrogate escape without its other half, as JavaScript
// back ends send a string cut in the middle of an emoji, or \u0000 in a
// key) used to fail the whole COPY, and so the stream at every run. Such
// a value goes to _leftovers as the JSON string of its text, such a key
// as the text of its escapes, and the row loads; an escaped backslash
// before "u0000" is no NUL and stays where it is. A jsonb column holds
// its value with U+FFFD for the lone half (what JSON readers make of it),
// noted REPLACED, rather than null.
func TestValuesJsonbRefusesStillLoad(t *testing.T) {
	url := pgtest.DB(t)
	d := open(t, url, Options{}, txStream())
	tb, _ := d.Table(context.Background(), "tx", true)
	write(t, tb,
		`{"id":"col","meta":{"a":"cut \ud83d"}}`,
		`{"id":"left","extra":"\udc00 low","pair":"\ud83d\ude00"}`,
		`{"id":"key","x\u0000y":1,"\ud800":2}`,
		`{"id":"backslash","meta":{"a":"C:\\u0000dir"}}`,
	)
	if err := tb.Commit(json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	got := rows(t, url, `SELECT id, quote_nullable(meta), quote_nullable(_leftovers), coalesce((_changes->0->>'field') || ' ' || (_changes->0->>'change'), '-') FROM "test".tx ORDER BY id`)
	want := []string{
		`backslash|E'{"a": "C:\\\\u0000dir"}'|NULL|-`,
		`col|'{"a": "cut �"}'|E'{"meta": "{\\"a\\":\\"cut \\\\ud83d\\"}"}'|meta REPLACED`,
		`key|NULL|E'{"\\\\ud800": 2, "x\\\\u0000y": 1}'|-`,
		`left|NULL|E'{"pair": "😀", "extra": "\\"\\\\udc00 low\\""}'|-`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSchemaGrantedByItsOwner: a schema of another role whose owner
// granted the --postgres user USAGE and CREATE on it (how a DBA hands a
// loader a schema) is loaded into; without the grant, the error says
// which GRANT to run, rather than to make the user a member of the owner
// (for public, pg_database_owner, that cannot even be granted).
func TestSchemaGrantedByItsOwner(t *testing.T) {
	url := pgtest.DB(t)
	db := pgtest.DBName(url)
	owner, loader := "owner_"+db, "granted_"+db
	pgtest.Exec(t, url, `CREATE ROLE `+owner+` NOLOGIN; CREATE ROLE `+loader+` LOGIN PASSWORD 'loaderpw'; CREATE SCHEMA bank AUTHORIZATION `+owner)
	loaderURL := strings.Replace(url, "postgres:"+pgtest.Password, loader+":loaderpw", 1)
	_, err := Open(context.Background(), Options{URL: loaderURL, Connector: "source-test", Schema: "bank"}, []Stream{txStream()})
	assertConfigError(t, err, `schema "bank" belongs to role "`+owner+`"`, `GRANT USAGE, CREATE ON SCHEMA "bank" TO "`+loader+`"`, "--postgres-schema")

	pgtest.Exec(t, url, `GRANT USAGE, CREATE ON SCHEMA bank TO `+loader)
	loadsRowInBank(t, loaderURL, url)
	// The next run finds the tables it made there.
	d := open(t, loaderURL, Options{Schema: "bank"}, txStream())
	if s := string(d.States()["tx"]); s != `{"cursor":1}` {
		t.Fatalf("stored state %q", s)
	}
	d.Close()

	// Without CREATE, the tables being there is not enough: the error
	// says why a run needs it still.
	pgtest.Exec(t, url, `REVOKE CREATE ON SCHEMA bank FROM `+loader)
	_, err = Open(context.Background(), Options{URL: loaderURL, Connector: "source-test", Schema: "bank"}, []Stream{txStream()})
	assertConfigError(t, err, "staging tables", "also where the streams' tables are there", `GRANT USAGE, CREATE ON SCHEMA "bank" TO "`+loader+`"`)
}

// TestBadSetups: each is a config_error that names the object and the
// fix, with nothing written: a schema name PostgreSQL reserves or would
// cut (two long names alike would share one schema under two locks), a
// database that is not UTF8 (binary COPY stores text unconverted: a
// LATIN1 database held mojibake, a SQL_ASCII one failed the stream), an
// sslmode the server cannot meet (it used to say the server could not be
// reached), and something else where the connector's view goes.
func TestBadSetups(t *testing.T) {
	url := pgtest.DB(t)
	s := pgtest.Shared(t)
	ctx := context.Background()
	open1 := func(u string, opts Options) error {
		opts.URL, opts.Connector = u, "source-test"
		d, err := Open(ctx, opts, []Stream{txStream()})
		if err == nil {
			d.Close()
		}
		return err
	}
	assertConfigError(t, open1(url, Options{Schema: "pg_bank"}), `--postgres-schema "pg_bank"`, "reserves")
	assertConfigError(t, open1(url, Options{Schema: strings.Repeat("s", 64)}), "--postgres-schema", "63", "shorter")

	db := pgtest.DBName(url)
	pgtest.Exec(t, s.URL("postgres"), `CREATE DATABASE `+db+`_latin1 ENCODING 'LATIN1' TEMPLATE template0`)
	assertConfigError(t, open1(s.URL(db+"_latin1"), Options{}), `database "`+db+`_latin1" has encoding LATIN1`, "ENCODING 'UTF8'", "xxxxx")
	if got := rows(t, s.URL(db+"_latin1"), `SELECT count(*) FROM pg_namespace WHERE nspname = 'test'`); got[0] != "0" {
		t.Error("the run made its schema in the LATIN1 database")
	}

	// A run needs two connections; the second refused leaves nothing made.
	limited := "limited_" + db
	pgtest.Exec(t, url, `CREATE ROLE `+limited+` LOGIN PASSWORD 'limitedpw' CONNECTION LIMIT 1; GRANT CREATE ON DATABASE `+db+` TO `+limited)
	assertConfigError(t, open1(strings.Replace(url, "postgres:"+pgtest.Password, limited+":limitedpw", 1), Options{}), "too many connections", "two connections", `ALTER ROLE "`+limited+`" CONNECTION LIMIT`)
	if got := rows(t, url, `SELECT count(*) FROM pg_namespace WHERE nspname = 'test'`); got[0] != "0" {
		t.Error("a run refused its second connection made its schema")
	}

	// The test server has no TLS.
	assertConfigError(t, open1(strings.Replace(url, "sslmode=disable", "sslmode=require", 1), Options{}), "TLS", "sslmode", "server refused TLS", "xxxxx")

	view := View{Name: "report", Tables: []string{"tx"}, Query: "SELECT id FROM tx"}
	pgtest.Exec(t, url, `CREATE SCHEMA test; CREATE TABLE test.report (x int)`)
	assertConfigError(t, open1(url, Options{Views: []View{view}}), `view "test"."report"`, "is not a view", `rename or drop "test"."report"`)
	pgtest.Exec(t, url, `DROP TABLE test.report; CREATE VIEW test.report AS SELECT 1 AS a, 2 AS b`)
	assertConfigError(t, open1(url, Options{Views: []View{view}}), `view "test"."report"`, "cannot", `rename or drop "test"."report"`)
	pgtest.Exec(t, url, `DROP VIEW test.report`)
	if err := open1(url, Options{Views: []View{view}}); err != nil {
		t.Fatalf("with the way clear: %v", err)
	}
}

// TestConstraintOfTheUsersIsConfigError: a constraint added to a table
// since the sink made it (here NOT NULL on a column the rows leave null)
// fails the merge at every run until it is dropped: a config_error that
// names it and the table, not a system_error, and the checkpoint's state
// is not stored.
func TestConstraintOfTheUsersIsConfigError(t *testing.T) {
	url := pgtest.DB(t)
	open(t, url, Options{}, txStream()).Close()
	pgtest.Exec(t, url, `ALTER TABLE "test".tx ALTER COLUMN amount SET NOT NULL`)
	d := open(t, url, Options{}, txStream())
	tb, _ := d.Table(context.Background(), "tx", true)
	write(t, tb, `{"id":"a"}`)
	err := tb.Commit(json.RawMessage(`{"cursor":1}`))
	assertConfigError(t, err, `"test"."tx"`, `column "amount"`, "drop that constraint")
	if got := rows(t, url, `SELECT count(*) FROM "test"._state`); got[0] != "0" {
		t.Errorf("%s states stored", got[0])
	}
}

// loadsRowInBank loads the row {"id":"a"} and the state {"cursor":1} into
// schema bank's tx table as the user of loaderURL, and checks that url's
// user then reads the row there.
func loadsRowInBank(t *testing.T, loaderURL, url string) {
	t.Helper()
	d := open(t, loaderURL, Options{Schema: "bank"}, txStream())
	tb, _ := d.Table(context.Background(), "tx", true)
	write(t, tb, `{"id":"a"}`)
	if err := tb.Commit(json.RawMessage(`{"cursor":1}`)); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if got := rows(t, url, `SELECT id FROM bank.tx`); strings.Join(got, ",") != "a" {
		t.Fatalf("rows %v, want a", got)
	}
}

// TestKeepalivesEndAVanishedRunsSession: a run on a machine that vanished
// (a node that lost contact) sends no FIN, and the server kept its session,
// and the schema's lock, for as long as the system's TCP keepalive took to
// give up (two hours and more by default). The run's sessions set the
// server's keepalives, over TCP, where nothing else does; a URL's own win.
func TestKeepalivesEndAVanishedRunsSession(t *testing.T) {
	url := pgtest.DB(t)
	setting := func(d *Destination, name string) string {
		var v string
		if err := d.conn.QueryRow(context.Background(), "SELECT setting FROM pg_settings WHERE name = $1", name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	d := open(t, url, Options{}, txStream())
	for name, want := range map[string]string{"tcp_keepalives_idle": "60", "tcp_keepalives_interval": "10", "tcp_keepalives_count": "6"} {
		if got := setting(d, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	d = open(t, url+"&tcp_keepalives_idle=300", Options{Schema: "own"}, txStream())
	if got := setting(d, "tcp_keepalives_idle"); got != "300" {
		t.Errorf("tcp_keepalives_idle = %s with the URL's 300", got)
	}
}

// TestLockTimeoutBesideADeadlockTimeout: a URL whose options set
// deadlock_timeout (or any setting whose name holds another's) sets no
// lock_timeout: the run's own still bounds its waits, where the name's
// text inside "deadlock_timeout" read as the URL setting lock_timeout,
// and the run waited for ever; one the options do set is kept.
func TestLockTimeoutBesideADeadlockTimeout(t *testing.T) {
	url := pgtest.DB(t)
	setting := func(d *Destination) string {
		var v string
		if err := d.conn.QueryRow(context.Background(), "SHOW lock_timeout").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	d := open(t, url+"&options=-c%20deadlock_timeout%3D2s", Options{}, txStream())
	if got := setting(d); got != "10s" {
		t.Errorf("lock_timeout = %s beside the URL's deadlock_timeout, want the run's 10s", got)
	}
	d = open(t, url+"&options=-c%20lock_timeout%3D3s%20--deadlock-timeout%3D2s", Options{Schema: "own"}, txStream())
	if got := setting(d); got != "3s" {
		t.Errorf("lock_timeout = %s with the URL's 3s", got)
	}
}

// lockTimeouts is lock_timeout as each of d's sessions has it: the one that
// prepares the tables and the one that loads the rows.
func lockTimeouts(t *testing.T, d *Destination) []string {
	t.Helper()
	var got []string
	for _, c := range []*pgx.Conn{d.conn, d.load} {
		var v string
		if err := c.QueryRow(context.Background(), "SHOW lock_timeout").Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	return got
}

// TestLockTimeoutZeroOfTheRoleIsKept: a lock_timeout of 0 that the DBA set
// for the role or the database (wait for ever: a loader that must not give
// up behind a nightly report) is a setting like any other, and the run's
// sessions keep it, where they took it for nobody's and waited at most the
// run's 10 s; so is one of the URL's. Where nothing sets it, the run's 10 s
// stands.
func TestLockTimeoutZeroOfTheRoleIsKept(t *testing.T) {
	url := pgtest.DB(t)
	db := pgtest.DBName(url)
	want := func(d *Destination, want, of string) {
		t.Helper()
		for i, got := range lockTimeouts(t, d) {
			if got != want {
				t.Errorf("session %d: lock_timeout = %s with %s, want %s", i, got, of, want)
			}
		}
	}
	want(open(t, url, Options{Schema: "nothing_set"}, txStream()), "10s", "nothing setting it")
	want(open(t, url+"&lock_timeout=0", Options{Schema: "url"}, txStream()), "0", "the URL's 0")

	role := "waits_" + db
	pgtest.Exec(t, url, `CREATE ROLE `+role+` LOGIN PASSWORD 'waitspw'; GRANT CREATE ON DATABASE `+db+` TO `+role+`; ALTER ROLE `+role+` SET lock_timeout = 0`)
	roleURL := strings.Replace(url, "postgres:"+pgtest.Password, role+":waitspw", 1)
	want(open(t, roleURL, Options{Schema: "role"}, txStream()), "0", "the role's 0")

	pgtest.Exec(t, url, `ALTER DATABASE `+db+` SET lock_timeout = 0`)
	want(open(t, url, Options{Schema: "database"}, txStream()), "0", "the database's 0")
}

// TestLockTimeoutZeroOfTheServerFileIsTheDefault: a lock_timeout = 0
// written in the server's configuration (postgresql.conf, or ALTER SYSTEM's
// postgresql.auto.conf) is PostgreSQL's default spelt out, as
// configuration generators write every default, and the run's 10 s bound
// stands, where it was kept and the run waited for ever behind any lock;
// another value of the file is kept.
func TestLockTimeoutZeroOfTheServerFileIsTheDefault(t *testing.T) {
	srv := pgtest.Private(t)
	url := srv.DB(t)
	for _, c := range []struct{ file, want string }{{"0", "10s"}, {"'5s'", "5s"}} {
		pgtest.Exec(t, url, `ALTER SYSTEM SET lock_timeout = `+c.file)
		pgtest.Exec(t, url, `SELECT pg_reload_conf()`)
		var source string
		conn := pgtest.Connect(t, url)
		if err := conn.QueryRow(context.Background(), "SELECT source FROM pg_settings WHERE name = 'lock_timeout'").Scan(&source); err != nil {
			t.Fatal(err)
		}
		if source != "configuration file" {
			t.Fatalf("lock_timeout's source after ALTER SYSTEM is %q", source)
		}
		d := open(t, url, Options{Schema: "file_" + strings.Trim(c.file, "'")}, txStream())
		for i, got := range lockTimeouts(t, d) {
			if got != c.want {
				t.Errorf("session %d: lock_timeout = %s with the server file's %s, want %s", i, got, c.file, c.want)
			}
		}
	}
}

// TestSessionTimeoutsOfTheURLAreConfigErrors: a session the server ends
// on a timeout the URL sets (the run turns the user's and the database's
// off) is a config_error naming the setting and the fix, as a statement
// its statement_timeout cancels is, where it read as a lost connection, a
// transient_error to run again that failed alike at every run: an
// idle_in_transaction_session_timeout (a merge's transaction waits
// between its statements) here, idle_session_timeout in
// cmd/source-pluggy's TestPostgresSessionTimeoutsOfTheURL; a
// transaction_timeout's FATAL (PostgreSQL 17, which the tests' server may
// not be) is classified alike. The same FATAL of a timeout the URL does not
// set is a lost connection still. Over a Unix socket the FATAL goes unread
// (the write fails first): the lost connection's error then names the
// URL's timeouts that end a session. The URL sets each to an hour, and
// the session is then given 100 ms (shorten): given 100 ms in the URL,
// Open's own setup met it on a loaded machine (its first session idles
// while the second logs in) and failed instead (2 runs in 15 beside
// three busy loops on two cores).
func TestSessionTimeoutsOfTheURLAreConfigErrors(t *testing.T) {
	url := pgtest.DB(t)
	ctx := context.Background()
	d := open(t, url+"&idle_in_transaction_session_timeout=1h", Options{}, txStream())
	shorten(t, d, "idle_in_transaction_session_timeout")
	tx, err := d.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	_, err = tx.Exec(ctx, "SELECT 1")
	assertConfigError(t, d.sqlError(err, "merging rows"), "terminating connection due to idle-in-transaction timeout",
		"the idle_in_transaction_session_timeout that --postgres sets", "the server ended the session", "remove idle_in_transaction_session_timeout from --postgres", "xxxxx")

	ended := &pgconn.PgError{Severity: "FATAL", Code: "25P04", Message: "terminating connection due to transaction timeout"}
	for _, c := range []struct {
		url   string
		typ   protocol.FailureType
		parts []string
	}{
		{url + "&options=-c%20transaction_timeout%3D1min", protocol.ConfigError, []string{"the transaction_timeout that --postgres sets", "remove transaction_timeout from --postgres"}},
		{url, protocol.TransientError, []string{"lost the connection"}},
	} {
		cfg, err := ParseURL(c.url)
		if err != nil {
			t.Fatal(err)
		}
		d := &Destination{opts: Options{URL: c.url}, cfg: cfg, shown: MaskURL(c.url)}
		assertFailure(t, d.sqlError(ended, "merging rows"), c.typ, c.parts...)
	}

	s := pgtest.Shared(t)
	socket := fmt.Sprintf("postgres://%s@/%s?host=%s&port=%d&idle_session_timeout=1h", pgtest.User, pgtest.DBName(url), s.Dir, s.Port)
	d = open(t, socket, Options{Schema: "socket"}, txStream())
	shorten(t, d, "idle_session_timeout")
	time.Sleep(400 * time.Millisecond)
	_, err = d.conn.Exec(ctx, "SELECT 1")
	assertFailure(t, d.sqlError(err, "merging rows"), protocol.TransientError, "lost the connection", "--postgres sets idle_session_timeout", "remove it from --postgres")
}

// shorten sets timeout to 100 ms on d's merging session, once Open is
// done: a test of a timeout that ends the session gives the URL an hour of
// it (which the run keeps), so that Open's own setup does not meet it.
func shorten(t *testing.T, d *Destination, timeout string) {
	t.Helper()
	if _, err := d.conn.Exec(context.Background(), "SELECT set_config($1, '100ms', false)", timeout); err != nil {
		t.Fatal(err)
	}
}

// TestDeletedRowReadByALaterRunComesBack: a row a tombstone deleted that a
// later run reads again comes back live, with the updatedAt it had before
// its deletion too (Pluggy undoing a deletion may leave it unchanged: the
// reference does not say), where only an updatedAt after the deletion
// brought it back and it stayed deleted for good. Within the run that
// deleted it, a version older than the deletion still leaves it deleted
// (a late replay never resurrects a deleted row).
func TestDeletedRowReadByALaterRunComesBack(t *testing.T) {
	url := pgtest.DB(t)
	ctx := context.Background()
	run := func(rows ...string) {
		t.Helper()
		d := open(t, url, Options{}, txStream())
		tb, err := d.Table(ctx, "tx", true)
		if err != nil {
			t.Fatal(err)
		}
		for _, cp := range rows {
			write(t, tb, cp)
			if err := tb.Commit(json.RawMessage(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
		d.Close()
	}
	state := func() string {
		t.Helper()
		return strings.Join(rows(t, url, `SELECT id || ':' || n || ':' || CASE WHEN _deleted_at IS NULL THEN 'live' ELSE 'deleted' END FROM "test".tx ORDER BY id`), ",")
	}
	row := `{"id":"a","n":1,"updatedAt":"2026-01-01T00:00:00Z"}`
	run(row)
	run(`{"id":"a","_ab_cdc_deleted_at":"2026-02-01T00:00:00Z"}`, `{"id":"a","n":2,"updatedAt":"2026-01-01T00:00:00Z"}`)
	if got := state(); got != "a:1:deleted" {
		t.Fatalf("after the run that deleted it and replayed an older version: %s, want a:1:deleted", got)
	}
	run(`{"id":"a","n":3,"updatedAt":"2026-01-01T00:00:00Z"}`)
	if got := state(); got != "a:3:live" {
		t.Fatalf("after a later run read it with its updatedAt unchanged: %s, want a:3:live", got)
	}
}

// TestTimeoutsOfPGOPTIONSAreNamedSo: a timeout that ends the run set by
// the environment's PGOPTIONS (libpq's, which the run's connections read
// as psql's do, where the URL sets no options of its own) is named as
// PGOPTIONS's, with the fix to remove it there, where the error said
// --postgres sets it and to remove it from a URL that does not hold it:
// the config_error of a session the timeout ended (on the tests' server,
// then as the server's FATAL of each timeout), the lost connection's hint
// (a Unix socket's, where that FATAL goes unread), and the refusal of a
// server that lacks the setting. The URL's own options, which replace
// PGOPTIONS, still name --postgres.
func TestTimeoutsOfPGOPTIONSAreNamedSo(t *testing.T) {
	url := pgtest.DB(t)
	ctx := context.Background()
	var version int
	if err := pgtest.Connect(t, url).QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	notURL := func(err error) {
		t.Helper()
		if msg := err.Error(); strings.Contains(msg, "--postgres sets") || strings.Contains(msg, "from --postgres") {
			t.Errorf("the error puts PGOPTIONS's setting in --postgres: %s", msg)
		}
	}

	// Ended by the server (see shorten).
	t.Setenv("PGOPTIONS", "-c idle_session_timeout=1h")
	d := open(t, url, Options{Schema: "ended"}, txStream())
	shorten(t, d, "idle_session_timeout")
	time.Sleep(400 * time.Millisecond)
	_, err := d.conn.Exec(ctx, "SELECT 1")
	err = d.sqlError(err, "merging rows")
	assertConfigError(t, err, "terminating connection due to idle-session timeout", "the idle_session_timeout that PGOPTIONS sets", "remove idle_session_timeout from PGOPTIONS", "xxxxx")
	notURL(err)

	for _, c := range []struct {
		pgoptions, url, by string
	}{
		{"-c idle_in_transaction_session_timeout=1min -c transaction_timeout=1min", url, "PGOPTIONS"},
		{"-c work_mem=8MB", url + "&options=-c%20idle_in_transaction_session_timeout%3D1min%20-c%20transaction_timeout%3D1min", "--postgres"},
		{"", url + "&options=-c%20idle_in_transaction_session_timeout%3D1min%20-c%20transaction_timeout%3D1min", "--postgres"},
	} {
		t.Setenv("PGOPTIONS", c.pgoptions)
		cfg, err := ParseURL(c.url)
		if err != nil {
			t.Fatal(err)
		}
		d := &Destination{opts: Options{URL: c.url}, cfg: cfg, shown: MaskURL(c.url)}
		for code, name := range sessionTimeouts {
			if name == "idle_session_timeout" {
				continue
			}
			ended := &pgconn.PgError{Severity: "FATAL", Code: code, Message: "terminating connection due to timeout"}
			assertConfigError(t, d.sqlError(ended, "merging rows"), "the "+name+" that "+c.by+" sets", "remove "+name+" from "+c.by)
		}
		lost := d.sqlError(net.ErrClosed, "merging rows")
		assertFailure(t, lost, protocol.TransientError, "lost the connection", c.by+" sets idle_in_transaction_session_timeout and transaction_timeout", "remove it from "+c.by)
		if c.by == "PGOPTIONS" {
			notURL(lost)
		}
	}

	if version < 170000 {
		t.Setenv("PGOPTIONS", "-c transaction_timeout=1min")
		_, err = Open(ctx, Options{URL: url, Schema: "older", Connector: "source-test"}, []Stream{txStream()})
		assertConfigError(t, err, `unrecognized configuration parameter "transaction_timeout"`, "which PGOPTIONS sets", "remove it from PGOPTIONS")
		notURL(err)
	}
}

// TestStatementTimeoutSetElsewhereIsNamed: a statement cancelled by a
// statement_timeout the URL does not set (through a pooler that refused
// the run's startup parameters, a short one of the role's cancels the
// statement that turns it off once connected) is a config_error naming
// where the server has it from and the fix there: the user's, the user's
// in the database, the database's, the server file's. It said the
// --postgres URL set it and to remove it there, which sent the user to a
// URL that does not hold it. One the run sent at startup only a
// statement's own SET outranks, unless a pooler told to ignore the startup
// parameters dropped it, and it cancelled the statement that turns it off
// once connected: that one is named where it is set too, where it was
// taken for a function's SET. One the URL sets is the URL's still.
func TestStatementTimeoutSetElsewhereIsNamed(t *testing.T) {
	srv := pgtest.Private(t)
	url := srv.DB(t)
	db := pgtest.DBName(url)
	pgtest.Exec(t, url, `CREATE ROLE guarded LOGIN PASSWORD 'guardedpw'`)
	roleURL := strings.Replace(url, "postgres:"+pgtest.Password, "guarded:guardedpw", 1)
	cancelled := &pgconn.PgError{Severity: "ERROR", Code: "57014", Message: "canceling statement due to statement timeout"}
	// dest is a Destination as Open leaves it through a pooler that
	// refused the startup parameters (startup nil), or with them sent.
	dest := func(u string, startup ...string) *Destination {
		t.Helper()
		cfg, err := ParseURL(u)
		if err != nil {
			t.Fatal(err)
		}
		return &Destination{opts: Options{URL: u, Connector: "source-test"}, cfg: cfg, shown: MaskURL(u), user: cfg.User, startup: startup}
	}
	notURL := func(err error) {
		t.Helper()
		if msg := err.Error(); strings.Contains(msg, "that --postgres sets") || strings.Contains(msg, "from --postgres") {
			t.Errorf("the error puts a setting of the server's in --postgres: %s", msg)
		}
	}
	for _, c := range []struct {
		set, reset, url string
		parts           []string
	}{
		{`ALTER ROLE guarded SET statement_timeout = '5min'`, `ALTER ROLE guarded RESET statement_timeout`, roleURL,
			[]string{`the statement_timeout of 5min set for the --postgres user "guarded"`, `Fix: ALTER ROLE "guarded" RESET statement_timeout`}},
		{`ALTER ROLE guarded IN DATABASE ` + db + ` SET statement_timeout = '6min'`, `ALTER ROLE guarded IN DATABASE ` + db + ` RESET statement_timeout`, roleURL,
			[]string{`the statement_timeout of 6min set for the --postgres user "guarded" in database "` + db + `"`, `Fix: ALTER ROLE "guarded" IN DATABASE "` + db + `" RESET statement_timeout`}},
		{`ALTER DATABASE ` + db + ` SET statement_timeout = '7min'`, `ALTER DATABASE ` + db + ` RESET statement_timeout`, url,
			[]string{`the statement_timeout of 7min set for database "` + db + `"`, `Fix: ALTER DATABASE "` + db + `" RESET statement_timeout`}},
		{`ALTER SYSTEM SET statement_timeout = '8min'`, `ALTER SYSTEM RESET statement_timeout`, url,
			[]string{`the statement_timeout of 8min set in the server's configuration (`, `postgresql.auto.conf`, `Fix: ALTER SYSTEM RESET statement_timeout`, `pg_reload_conf()`}},
	} {
		pgtest.Exec(t, url, c.set)
		pgtest.Exec(t, url, `SELECT pg_reload_conf()`)
		// The postmaster reloads its files on a signal, a moment later.
		for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(50 * time.Millisecond) {
			var got string
			if err := pgtest.Connect(t, c.url).QueryRow(context.Background(), "SHOW statement_timeout").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != "0" {
				break
			}
		}
		err := dest(c.url).sqlError(cancelled, "turning off statement_timeout")
		assertConfigError(t, err, append(c.parts, "canceling statement due to statement timeout", "not in --postgres", "pooler", "turning off statement_timeout")...)
		notURL(err)
		// Sent at startup, and dropped by a pooler told to ignore them.
		err = dest(c.url, timeouts...).sqlError(cancelled, "turning off statement_timeout")
		assertConfigError(t, err, append(c.parts, "not in --postgres", "ignore_startup_parameters")...)
		notURL(err)
		pgtest.Exec(t, url, c.reset)
		pgtest.Exec(t, url, `SELECT pg_reload_conf()`)
	}

	err := dest(url, timeouts...).sqlError(cancelled, "merging rows")
	assertConfigError(t, err, "a function or trigger", "remove that SET")
	notURL(err)
	assertConfigError(t, dest(url+"&statement_timeout=1min").sqlError(cancelled, "merging rows"), "the statement_timeout that --postgres sets", "remove statement_timeout from --postgres")
}

// TestIdleSessionTimeoutOfTheRoleShorterThanARoundTrip: a server before
// the first session has said its version may lack idle_session_timeout
// (14), so that session is not sent it at startup, and turns it off by a
// statement once connected; a role's idle_session_timeout shorter than
// the round trip to the server (1 ms over a link 30 ms long) ends the
// session first, and it is opened again with it off at startup, where the
// run failed (a lost connection, at every run). Both sessions end with it
// off.
func TestIdleSessionTimeoutOfTheRoleShorterThanARoundTrip(t *testing.T) {
	url := pgtest.DB(t)
	db := pgtest.DBName(url)
	var version int
	if err := pgtest.Connect(t, url).QueryRow(context.Background(), `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version < 140000 {
		t.Skipf("server %d has no idle_session_timeout", version)
	}
	role := "idler_" + db
	pgtest.Exec(t, url, `CREATE ROLE `+role+` LOGIN PASSWORD 'idlerpw'; GRANT CREATE ON DATABASE `+db+` TO `+role+`; ALTER ROLE `+role+` SET idle_session_timeout = '1ms'`)
	roleURL := pgtest.SlowWrites(t, strings.Replace(url, "postgres:"+pgtest.Password, role+":idlerpw", 1), 30*time.Millisecond, -1)
	d := open(t, roleURL, Options{Schema: "idler"}, txStream())
	for i, c := range []*pgx.Conn{d.conn, d.load} {
		var got string
		if err := c.QueryRow(context.Background(), "SHOW idle_session_timeout").Scan(&got); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		if got != "0" {
			t.Errorf("session %d: idle_session_timeout = %s, want 0", i, got)
		}
	}
}

// TestTimeoutsOffThroughAPoolerThatIgnoresThem: a pooler told to ignore
// the run's startup parameters (PgBouncer's ignore_startup_parameters, a
// common cure for its "unsupported startup parameter") drops them without
// a word; both sessions still end with the role's timeouts off, turned off
// by a statement too. Trusting the startup parameters, the run skipped
// that statement and kept the role's statement_timeout and
// idle_in_transaction_session_timeout, which cancel the COPY that stays
// open while the API is read. A pooler told to ignore only the first
// session's parameters refuses the later ones (idle_session_timeout) the
// second session is sent: it connects again without them, where every run
// failed, told to remove from --postgres a parameter it does not hold.
func TestTimeoutsOffThroughAPoolerThatIgnoresThem(t *testing.T) {
	url := pgtest.DB(t)
	db := pgtest.DBName(url)
	role := "ignored_" + db
	pgtest.Exec(t, url, `CREATE ROLE `+role+` LOGIN PASSWORD 'ignoredpw'; GRANT CREATE ON DATABASE `+db+` TO `+role+
		`; ALTER ROLE `+role+` SET statement_timeout = '5min'; ALTER ROLE `+role+` SET idle_in_transaction_session_timeout = '6min'`)
	var version int
	if err := pgtest.Connect(t, url).QueryRow(context.Background(), `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	check := []string{"statement_timeout", "idle_in_transaction_session_timeout"}
	if version >= 140000 {
		pgtest.Exec(t, url, `ALTER ROLE `+role+` SET idle_session_timeout = '7min'`)
		check = append(check, "idle_session_timeout")
	}
	roleURL := strings.Replace(url, "postgres:"+pgtest.Password, role+":ignoredpw", 1)
	for _, c := range []struct {
		name, schema string
		ignore       []string
	}{
		{"every one", "ignored_all", timeouts},
		{"the first session's", "ignored_first", []string{"statement_timeout", "idle_in_transaction_session_timeout"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := open(t, pgtest.PoolerIgnoring(t, roleURL, c.ignore...), Options{Schema: c.schema}, txStream())
			for i, conn := range []*pgx.Conn{d.conn, d.load} {
				for _, p := range check {
					var got string
					if err := conn.QueryRow(context.Background(), "SELECT current_setting($1)", p).Scan(&got); err != nil {
						t.Fatalf("session %d: %v", i, err)
					}
					if got != "0" {
						t.Errorf("session %d: %s = %s (the role's), want 0", i, p, got)
					}
				}
			}
		})
	}
}

// TestSecondSessionWaitsAsLongAsTheFirstTook: a server slow to log a
// session in (far away, or busy: here 1.5 s for each of a session's first
// four writes) is not taken for a pool that gives the user one session.
// The second session may take four times what the first took, where a
// fixed 5 s failed the run with a config_error saying the pool or the
// role gave one session.
func TestSecondSessionWaitsAsLongAsTheFirstTook(t *testing.T) {
	url := pgtest.SlowWrites(t, pgtest.DB(t), 1500*time.Millisecond, 4)
	d := open(t, url, Options{Schema: "slow"}, txStream())
	if d.load == nil {
		t.Fatal("no second session")
	}
	if got, want := secondSessionWait(time.Second), 5*time.Second; got != want {
		t.Errorf("secondSessionWait(1s) = %v, want %v", got, want)
	}
}

// TestSecondSessionCancelsOnceIn: a second session (CancelGuard) sends no
// cancel request once its wait has ended, by its bound or by the run's
// stop, until it is in, and one for a statement cut short after that,
// the wait's end long past: the guard refused every later one (its bound
// passed) and let one through for a run stopped during the wait, where
// PgBouncer 1.18 held the session in its queue and crashed on one. A
// read's second session is in once Open returns: a statement cut short
// on it is cancelled on the server.
func TestSecondSessionCancelsOnceIn(t *testing.T) {
	url := pgtest.DB(t)
	link := pgtest.Counting(t, url)
	cfg, err := pgx.ParseConfig(link.URL)
	if err != nil {
		t.Fatal(err)
	}
	// cutShort runs a statement on c that its context cuts short, and
	// reports how many cancel requests came through the link for it.
	cutShort := func(c *pgx.Conn) int {
		t.Helper()
		before := link.CancelRequests()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := c.Exec(ctx, "SELECT pg_sleep(2)"); err == nil {
			t.Fatal("pg_sleep(2) was not cut short")
		}
		<-c.PgConn().CleanupDone() // the cancel request pgx sends, if any, is sent
		return link.CancelRequests() - before
	}
	for _, c := range []struct {
		name    string
		stopped bool // the run's context ends, not the wait's bound
		in      bool
		want    int
	}{
		{"the wait over", false, false, 0},
		{"the run stopped during the wait", true, false, 0},
		{"in, the wait over since", false, true, 1},
		{"in, the run stopped since", true, true, 1},
	} {
		run, stop := context.WithCancel(context.Background())
		bounded, cancel := context.WithTimeout(run, 300*time.Millisecond)
		guard := NewCancelGuard(bounded)
		conn, err := pgx.ConnectConfig(bounded, guard.Config(cfg))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.in {
			guard.In()
		}
		if c.stopped {
			stop()
		}
		<-bounded.Done()
		if got := cutShort(conn); got != c.want {
			t.Errorf("%s: %d cancel requests, want %d", c.name, got, c.want)
		}
		cancel()
		stop()
	}

	d := open(t, link.URL, Options{Schema: "cancels"}, txStream())
	if got := cutShort(d.load); got != 1 {
		t.Errorf("the read's second session, once open: %d cancel requests, want 1", got)
	}
}

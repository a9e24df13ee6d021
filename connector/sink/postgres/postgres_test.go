package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

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
	if err == nil {
		t.Fatal("no error")
	}
	if source.FailureTypeOf(err) != protocol.ConfigError {
		t.Errorf("failure type %s, want config_error: %v", source.FailureTypeOf(err), err)
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
	assertConfigError(t, open1(fmt.Sprintf("postgres://u:%s@127.0.0.1:1/db?connect_timeout=5", pgtest.Password)), "cannot reach", "127.0.0.1:1", "xxxxx")
	assertConfigError(t, open1(s.URL("nosuchdb")), `no database "nosuchdb"`)

	// A schema that belongs to a role the user is not a member of. Roles
	// belong to the whole server, which the package's tests share (and
	// -count=N runs repeat): the names are the database's own.
	db := strings.TrimSuffix(url[strings.LastIndex(url, "/")+1:], "?sslmode=disable")
	other, loader := "other_"+db, "loader_"+db
	pgtest.Exec(t, url, `CREATE ROLE `+other+` NOLOGIN; CREATE ROLE `+loader+` LOGIN PASSWORD 'loaderpw'; GRANT CREATE ON DATABASE `+db+` TO `+loader+`; CREATE SCHEMA test AUTHORIZATION `+other)
	loaderURL := strings.Replace(url, "postgres:"+pgtest.Password, loader+":loaderpw", 1)
	assertConfigError(t, open1(loaderURL), `schema "test" belongs to role "`+other+`"`, "--postgres-schema")
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

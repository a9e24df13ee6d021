package sourcetest

import (
	"strings"
	"testing"
	"time"
)

func TestGoldenMasks(t *testing.T) {
	g := NewGolden("header")
	g.Mask("http://127.0.0.1:4242", "<fake>")
	g.MaskPattern(`sha256:[0-9a-f]{8}`, "sha256:<hash>")
	today := time.Now().UTC()
	for in, want := range map[string]string{
		"GET http://127.0.0.1:4242/items":                   "GET <fake>/items",
		"dial tcp 127.0.0.1:5999: refused":                  "dial tcp 127.0.0.1:<port>: refused",
		"at " + today.Format(time.RFC3339Nano) + " ok":      "at <time> ok",
		"at " + today.Format("2006-01-02 15:04:05") + " ok": "at <time> ok",
		"booked through " + today.Format(time.DateOnly):     "booked through <date>",
		"ref " + today.Format("20060102") + "-3":            "ref <yyyymmdd>-3",
		"start_date 2000-01-01, state 2999-12-31":           "start_date 2000-01-01, state 2999-12-31",
		"took 1m2.5s, then 350ms":                           "took <duration>, then <duration>",
		"key sha256:0123abcd":                               "key sha256:<hash>",
		"lookback_days 7, 3 accounts, days_left=3.0":        "lookback_days 7, 3 accounts, days_left=3.0",
		"uuid 4f1d85a2-ae95-42d4-a995-06fbfb7b9f8a is kept": "uuid 4f1d85a2-ae95-42d4-a995-06fbfb7b9f8a is kept",
	} {
		if got := g.mask(in); got != want {
			t.Errorf("mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDiff(t *testing.T) {
	var a []string
	for i := range 40 {
		a = append(a, "line "+string(rune('A'+i%26))+string(rune('a'+i/26)))
	}
	b := append([]string(nil), a...)
	b[3] = "changed 3"
	b = append(b[:30], append([]string{"inserted"}, b[30:]...)...)
	got := Diff(strings.Join(a, "\n"), strings.Join(b, "\n"), 2, 10)
	want := `@@ -2 +2 @@
  line Ba
  line Ca
- line Da
+ changed 3
  line Ea
  line Fa
@@ -29 +29 @@
  line Cb
  line Db
+ inserted
  line Eb
  line Fb
`
	if got != want {
		t.Errorf("Diff:\n%s\nwant:\n%s", got, want)
	}
	if got := Diff("x\ny", "x\ny", 3, 10); got != "" {
		t.Errorf("Diff of equal texts = %q", got)
	}
	if got := Diff("a\nb\nc", "1\n2\n3", 1, 2); !strings.HasSuffix(got, "… more differences not shown\n") || strings.Count(got, "\n") != 4 {
		t.Errorf("Diff past its limit:\n%s", got)
	}
}

func TestGoldenRun(t *testing.T) {
	cat := WriteFile(t, "catalog.json", []byte(`{"streams":[
		{"stream":{"name":"items","json_schema":{},"supported_sync_modes":["full_refresh"],"source_defined_primary_key":[["id"]]},"sync_mode":"full_refresh","destination_sync_mode":"overwrite"},
		{"stream":{"name":"rows","json_schema":{},"supported_sync_modes":["full_refresh","incremental"],"source_defined_primary_key":[["acct"],["key"]]},"sync_mode":"incremental","destination_sync_mode":"append_dedup"}]}`))
	status := func(stream, s string) string {
		return `{"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":1,"stream_status":{"stream_descriptor":{"name":"` + stream + `"},"status":"` + s + `"}}}`
	}
	today := time.Now().UTC().Format(time.DateOnly)
	run := func(lines ...string) *Result { return Parse(t, []byte(strings.Join(lines, "\n")+"\n")) }
	g := NewGolden("a scenario\nin two lines")
	g.MaskPattern(`h:[0-9a-f]+`, "h:<hash>")
	g.Run(t, "run 1", run(
		`{"type":"LOG","log":{"level":"INFO","message":"starting"}}`,
		status("items", "STARTED"), status("items", "RUNNING"),
		`{"type":"RECORD","record":{"stream":"items","data":{"id":"i1"},"emitted_at":1}}`,
		status("items", "COMPLETE"),
		status("rows", "STARTED"), status("rows", "RUNNING"),
		`{"type":"LOG","log":{"level":"WARN","message":"b: slow for 3s"}}`,
		`{"type":"LOG","log":{"level":"WARN","message":"a: first"}}`,
		`{"type":"RECORD","record":{"stream":"rows","data":{"acct":"A","key":"h:01"},"emitted_at":1}}`,
		`{"type":"RECORD","record":{"stream":"rows","data":{"acct":"A","key":"h:02"},"emitted_at":1}}`,
		`{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"rows"},"stream_state":{"b":1,"a":"`+today+`"}}}}`,
		status("rows", "COMPLETE"),
	), cat)
	g.Note("between the runs: %s", "h:02 deleted")
	g.Run(t, "run 2", run(
		status("rows", "STARTED"), status("rows", "RUNNING"),
		`{"type":"RECORD","record":{"stream":"rows","data":{"acct":"A","key":"h:02","_ab_cdc_deleted_at":"`+today+`T01:02:03Z"},"emitted_at":1}}`,
		`{"type":"RECORD","record":{"stream":"rows","data":{"acct":"A","key":"h:03"},"emitted_at":1}}`,
		status("rows", "INCOMPLETE"),
		`{"type":"TRACE","trace":{"type":"ERROR","emitted_at":1,"error":{"message":"A failed at 127.0.0.1:8080","failure_type":"transient_error","stream_descriptor":{"name":"rows"}}}}`,
		`{"type":"TRACE","trace":{"type":"ERROR","emitted_at":1,"error":{"message":"rows did not sync","failure_type":"transient_error"}}}`,
	), cat)
	want := `# a scenario
# in two lines

=== run 1 ===
exit code: 0

--- stream items ---
statuses: STARTED RUNNING COMPLETE
records: 1 (1 distinct keys)
tombstones: 0
keys (id), sorted:
  i1
logs: none
errors: none
final state: none

--- stream rows ---
statuses: STARTED RUNNING COMPLETE
records: 2 (2 distinct keys)
tombstones: 0
keys (acct | key), sorted:
  A | h:<hash>
  A | h:<hash>
logs (sorted):
  WARN a: first
  WARN b: slow for <duration>
errors: none
final state:
  {
    "a": "<date>",
    "b": 1
  }

--- outside any stream ---
logs:
  INFO starting
errors: none

between the runs: h:<hash> deleted

=== run 2 ===
exit code: 0

--- stream items ---
not mentioned

--- stream rows ---
statuses: STARTED RUNNING INCOMPLETE
records: 2 (2 distinct keys)
tombstones: 1
keys (acct | key), sorted:
  A | h:<hash>  (also in an earlier run)
  A | h:<hash>  (not in an earlier run)
tombstone keys, sorted:
  A | h:<hash>  (also in an earlier run)
logs: none
errors:
  transient_error: A failed at 127.0.0.1:<port>
final state: none

--- outside any stream ---
logs: none
errors:
  transient_error: rows did not sync
`
	if got := g.String(); got != want {
		t.Errorf("summary differs (- want, + got):\n%s", Diff(want, got, 2, 40))
	}
}

func TestUntilPastMidnight(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		now  string
		want time.Duration
	}{
		{"2026-12-06T12:00:00Z", 0},
		{"2026-12-06T23:58:59Z", 0},
		{"2026-12-06T23:59:30Z", 31 * time.Second},
		{"2026-12-31T23:59:59.5Z", 1500 * time.Millisecond},
		// 23:59:30 UTC is 20:59:30 in São Paulo: the UTC day counts.
		{"2026-12-06T20:59:30-03:00", 31 * time.Second},
		{"2026-12-07T00:00:00Z", 0},
	} {
		if got := untilPastMidnight(at(c.now), time.Minute); got != c.want {
			t.Errorf("untilPastMidnight(%s) = %v, want %v", c.now, got, c.want)
		}
	}
}

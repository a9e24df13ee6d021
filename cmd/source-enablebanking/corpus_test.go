package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// ebCase is one file of testdata/enablebanking/realworld (see its
// README.md).
type ebCase struct {
	Case   string `json:"case"`
	Source string `json:"source"`
	// Filled says how the parts the source elides ("…") were filled in.
	Filled string `json:"filled"`
	// Route is "GET /sessions/{id}" (the first session) or "GET
	// /accounts/{uid}/transactions", ".../details", ".../balances" (the
	// first session's first account).
	Route string `json:"route"`
	// Continuation: only the route's calls carrying a continuation_key
	// get the answer.
	Continuation bool              `json:"continuation"`
	Status       int               `json:"status"`
	Times        int               `json:"times"` // 0: every matching call
	Headers      map[string]string `json:"headers"`
	Body         json.RawMessage   `json:"body"`
	Streams      []string          `json:"streams"`
	Config       map[string]any    `json:"config"`
	Expect       struct {
		Exit int `json:"exit"`
		// FailureType is that of an ERROR holding every Message part;
		// "" means no ERROR at all, and a WARN holding every Warn part.
		FailureType string   `json:"failure_type"`
		Message     []string `json:"message"`
		NotMessage  []string `json:"not_message"`
		Warn        []string `json:"warn"`
		// Served is how many times the answer must be served; nil: at
		// least once.
		Served *int `json:"served"`
		// OthersRead: every account of the other session has all its
		// booked rows emitted. FellowRead: so has the replayed account's
		// session fellow (the answer does not end the session).
		OthersRead bool `json:"others_read"`
		FellowRead bool `json:"fellow_read"`
		// TargetRows is how many rows of the replayed account are
		// emitted; nil: not checked.
		TargetRows *int `json:"target_rows"`
	} `json:"expect"`
}

const ebCorpusDir = "../../testdata/enablebanking/realworld"

// ebCorpusOptions make each account's history several pages, so a
// continuation call is made.
var ebCorpusOptions = fake.Options{Sessions: 2, TransactionsPerAccount: 30, PageSize: 10}

// TestRealWorldCorpus replays every recorded real-world answer through the
// binary: the fake answers the case's route with its status and body, and
// the read ends as the case expects, every message valid.
func TestRealWorldCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(ebCorpusDir, "*.json"))
	st.Must(t, err, "corpus")
	if len(files) == 0 {
		t.Fatal("no corpus files in " + ebCorpusDir)
	}
	// What a read without any replayed answer emits of each account: the
	// fake's data is the same for the same options, uids included.
	clean := newEnv(t, ebCorpusOptions)
	clean.cfg["include_pending"] = false
	rows := map[string]int{}
	for uid, recs := range byUID(t, clean.read(clean.catalog(true, "transactions")).Records()["transactions"]) {
		rows[uid] = len(recs)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			st.Must(t, err, file)
			var c ebCase
			st.Must(t, json.Unmarshal(raw, &c), file)
			if c.Case == "" || c.Source == "" || c.Route == "" || c.Status == 0 || len(c.Body) == 0 || len(c.Streams) == 0 {
				t.Fatalf("%s: case, source, route, status, body and streams are required", file)
			}
			if !json.Valid(c.Body) {
				t.Fatalf("%s: body is not JSON", file)
			}
			t.Run("stdout", func(t *testing.T) { replayEBCase(t, c, rows, "") })
			t.Run("parquet", func(t *testing.T) { replayEBCase(t, c, rows, t.TempDir()) })
		})
	}
}

// replayEBCase replays c; rows is what a clean read emits of each account;
// with parquetDir set, the read also writes Parquet files there.
func replayEBCase(t *testing.T, c ebCase, rows map[string]int, parquetDir string) {
	e := newEnv(t, ebCorpusOptions)
	sessions := e.fake.SessionIDs()
	target := e.fake.AccountUIDs(sessions[0])[0]
	fellow := e.fake.AccountUIDs(sessions[0])[1]
	method, path, _ := strings.Cut(c.Route, " ")
	path = strings.NewReplacer("{id}", sessions[0], "{uid}", target).Replace(path)
	h, served := st.Canned(e.fake.Handler(), func(r *http.Request) bool {
		return r.Method == method && r.URL.Path == path &&
			(!c.Continuation || r.URL.Query().Get("continuation_key") != "")
	}, c.Times, c.Status, c.Headers, c.Body)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.cfg["base_url"] = srv.URL
	e.cfg["include_pending"] = false

	var extra []string
	if parquetDir != "" {
		extra = []string{"--parquet-dir", parquetDir}
	}
	r := e.run(e.catalog(true, c.Streams...), c.Config, extra...)
	for _, et := range r.ErrorTraces() {
		t.Logf("%s: %s", et.FailureType, et.Message)
	}
	if r.Code != c.Expect.Exit {
		t.Fatalf("%s: exit %d, want %d; errors %q", c.Source, r.Code, c.Expect.Exit, errorTexts(r))
	}
	switch n := int(served.Load()); {
	case c.Expect.Served == nil && n == 0:
		t.Fatalf("the case's answer was never served: route %s", c.Route)
	case c.Expect.Served != nil && n != *c.Expect.Served:
		t.Errorf("the case's answer was served %d times, want %d: route %s", n, *c.Expect.Served, c.Route)
	}
	fill := strings.NewReplacer("{session}", sessions[0], "{account}", e.fake.IdentificationHash(target), "{uid}", target)
	mentions := func(parts []string) []string {
		out := make([]string, len(parts))
		for i, p := range parts {
			out[i] = fill.Replace(p)
		}
		return out
	}
	if c.Expect.FailureType == "" {
		if len(r.ErrorTraces()) != 0 {
			t.Errorf("want no error; errors %q", errorTexts(r))
		}
	} else if errs := r.ErrorsMentioning(mentions(c.Expect.Message)...); len(errs) == 0 {
		t.Errorf("no error naming %q; errors %q", mentions(c.Expect.Message), errorTexts(r))
	} else if string(errs[0].FailureType) != c.Expect.FailureType {
		t.Errorf("failure type %s, want %s: %s", errs[0].FailureType, c.Expect.FailureType, errs[0].Message)
	}
	for _, m := range mentions(c.Expect.NotMessage) {
		if len(r.ErrorsMentioning(m)) > 0 {
			t.Errorf("an error says %q: %q", m, errorTexts(r))
		}
	}
	if len(c.Expect.Warn) > 0 && !r.Warned(mentions(c.Expect.Warn)...) {
		t.Errorf("no WARN saying all of %q", mentions(c.Expect.Warn))
	}
	read := byUID(t, r.Records()["transactions"])
	if c.Expect.OthersRead {
		for _, uid := range e.fake.AccountUIDs(sessions[1]) {
			if len(read[uid]) != rows[uid] || rows[uid] == 0 {
				t.Errorf("account %s of the other session: %d rows, want all %d", uid, len(read[uid]), rows[uid])
			}
		}
	}
	if c.Expect.FellowRead && (len(read[fellow]) != rows[fellow] || rows[fellow] == 0) {
		t.Errorf("account %s, of the replayed account's session: %d rows, want all %d", fellow, len(read[fellow]), rows[fellow])
	}
	if c.Expect.TargetRows != nil && len(read[target]) != *c.Expect.TargetRows {
		t.Errorf("account %s: %d rows, want %d", target, len(read[target]), *c.Expect.TargetRows)
	}
	if parquetDir != "" {
		for stream, recs := range r.Records() {
			if files, _ := filepath.Glob(filepath.Join(parquetDir, stream, "*.parquet")); len(recs) > 0 && len(files) == 0 {
				t.Errorf("%d %s records, no Parquet file", len(recs), stream)
			}
		}
	}
	if c.Expect.Exit == 0 {
		for _, name := range c.Streams {
			if seq := r.Statuses()[name]; len(seq) == 0 || seq[len(seq)-1] != protocol.Complete {
				t.Errorf("stream %s ended %v, want COMPLETE", name, seq)
			}
		}
	}
}

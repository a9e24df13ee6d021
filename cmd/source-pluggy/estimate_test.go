package main

// A read tells the Airbyte platform how many rows each stream will bring
// (ESTIMATE traces of type STREAM) for the streams read from Pluggy's
// page-number lists, whose first page carries the list's `total`; see
// docs/commands.md. transactions pages by cursor with no total and sends
// none.

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// estimatedStreams are the streams that send ESTIMATE traces.
var estimatedStreams = []string{"accounts", "categories", "credit_card_bills", "investments", "investment_transactions", "loans"}

// streamEstimates is one stream's ESTIMATE traces in a read.
type streamEstimates struct {
	rows []int64 // row_estimate, in order
	// first is the line of the first ESTIMATE, firstRecord that of the
	// first RECORD; -1 for none.
	first, firstRecord int
}

// estimates collects r's ESTIMATE traces by stream, failing on one that
// is not of type STREAM or carries a namespace (the streams have none).
func estimates(t *testing.T, r *st.Result) map[string]*streamEstimates {
	t.Helper()
	out := map[string]*streamEstimates{}
	of := func(name string) *streamEstimates {
		if out[name] == nil {
			out[name] = &streamEstimates{first: -1, firstRecord: -1}
		}
		return out[name]
	}
	for i, m := range r.Messages {
		switch {
		case m.Trace != nil && m.Trace.Estimate != nil:
			e := m.Trace.Estimate
			if e.Type != protocol.EstimateStream || e.Namespace != "" || e.ByteEstimate != 0 {
				t.Errorf("line %d: an ESTIMATE that is not a stream's row count: %s", i+1, r.Lines[i])
			}
			s := of(e.Name)
			if s.first < 0 {
				s.first = i
			}
			s.rows = append(s.rows, e.RowEstimate)
		case m.Record != nil:
			if s := of(m.Record.Stream); s.firstRecord < 0 {
				s.firstRecord = i
			}
		}
	}
	return out
}

// TestEstimatesCountTheRecords: a full read of several items whose
// accounts, bills and loans come in pages of two sends, for each stream
// read from a page-number list, ESTIMATE traces that rise as its parts
// (items, accounts, investments) are reached, at most one per part (not
// one per page), the first before the stream's first record, the last
// equal to the records the stream printed; none for transactions, items
// and identity. Every line validates against the protocol and no ESTIMATE
// follows its stream's last status (e.read). A --no-records read into
// Parquet prints the same estimates; the Singer tap prints none.
func TestEstimatesCountTheRecords(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 3, AccountsPerItem: 5, Loans: 3, TransactionsPerAccount: 4, ListPageSize: 2})
	r := e.read(e.catalog(false))
	recs := r.Records()
	got := estimates(t, r)
	items := len(e.fake.ItemIDs())
	parts := map[string]int{
		"accounts": items, "loans": items, "investments": items, "categories": 1,
		"investment_transactions": len(recs["investments"]),
	}
	for _, raw := range recs["accounts"] {
		var a struct{ Type string }
		st.Must(t, json.Unmarshal(raw, &a), "account")
		if a.Type == "CREDIT" {
			parts["credit_card_bills"]++
		}
	}
	if e.fake.Stats().ByRoute["GET /accounts"] <= items {
		t.Fatalf("the accounts came in %d pages for %d items: the test cannot tell an estimate per part from one per page", e.fake.Stats().ByRoute["GET /accounts"], items)
	}
	for name := range got {
		if len(got[name].rows) > 0 && !slices.Contains(estimatedStreams, name) {
			t.Errorf("%s sent ESTIMATE traces %v: its answers carry no total", name, got[name].rows)
		}
	}
	last := map[string]int64{}
	for _, name := range estimatedStreams {
		s := got[name]
		if s == nil || len(s.rows) == 0 {
			t.Errorf("%s: no ESTIMATE (%d records)", name, len(recs[name]))
			continue
		}
		last[name] = s.rows[len(s.rows)-1]
		t.Logf("%s: estimates %v for %d parts, %d records", name, s.rows, parts[name], len(recs[name]))
		if want := int64(len(recs[name])); last[name] != want || want == 0 {
			t.Errorf("%s: last row_estimate %d, but the stream printed %d records (estimates %v)", name, last[name], want, s.rows)
		}
		for i := 1; i < len(s.rows); i++ {
			if s.rows[i] <= s.rows[i-1] {
				t.Errorf("%s: estimates %v: sent again without rising", name, s.rows)
				break
			}
		}
		if len(s.rows) > parts[name] {
			t.Errorf("%s: %d estimates for %d parts, want at most one per part: %v", name, len(s.rows), parts[name], s.rows)
		}
		if s.firstRecord >= 0 && s.first > s.firstRecord {
			t.Errorf("%s: the first ESTIMATE (line %d) after the first record (line %d)", name, s.first+1, s.firstRecord+1)
		}
	}
	if got["accounts"] != nil && len(got["accounts"].rows) < 2 {
		t.Errorf("accounts: estimates %v for %d items: want the sum to rise item by item", got["accounts"].rows, items)
	}

	t.Run("no records", func(t *testing.T) {
		e := e.with(t)
		r := e.readWith(nil, e.catalog(false, estimatedStreams...), "--parquet-dir", filepath.Join(t.TempDir(), "pq"), "--no-records")
		if r.Code != 0 {
			t.Fatalf("read exited %d: %v\n%s", r.Code, r.ErrorTraces(), tail(r.Stdout))
		}
		if n := len(r.OfType(protocol.TypeRecord)); n != 0 {
			t.Fatalf("--no-records printed %d records", n)
		}
		got := estimates(t, r)
		for _, name := range estimatedStreams {
			var rows []int64
			if got[name] != nil {
				rows = got[name].rows
			}
			if len(rows) == 0 || rows[len(rows)-1] != last[name] {
				t.Errorf("%s: --no-records estimates %v, want the last to be %d as when records are printed", name, rows, last[name])
			}
		}
	})

	t.Run("singer", func(t *testing.T) {
		e := e.with(t)
		sg := e.sync(tapBin(t), "--config", e.config(nil)) // fails on any message but Singer's four
		// Not "estimate": the test's temporary paths hold its name.
		for _, out := range [][]byte{sg.stdout, sg.stderr} {
			if bytes.Contains(out, []byte("ESTIMATE")) || bytes.Contains(out, []byte("row_estimate")) {
				t.Errorf("the Singer tap prints an estimate:\n%s", tail(out))
			}
		}
	})
}

// TestEstimatesTolerateABadTotal: page envelopes whose `total` is absent,
// a string or negative (fake.Options.PageTotals) read exactly the rows of the same
// fake answering numbers: a total only feeds an estimate and fails
// nothing. Those streams then send no ESTIMATE, and a DEBUG line says so
// once per route; investment_transactions, which counts the rows it is
// about to emit rather than reading the total, still sends its own.
func TestEstimatesTolerateABadTotal(t *testing.T) {
	o := fake.Options{Items: 2, AccountsPerItem: 4, Loans: 2, TransactionsPerAccount: 2, ListPageSize: 2}
	want := newEnv(t, o)
	cat := want.catalog(false, estimatedStreams...)
	wantRecs := want.read(cat).Records()
	for _, c := range []struct {
		name   string
		style  fake.TotalStyle
		routes []string // with a DEBUG line
	}{
		{"absent", fake.TotalAbsent, []string{"GET /accounts", "GET /bills", "GET /investments", "GET /loans"}},
		{"string", fake.TotalString, []string{"GET /accounts", "GET /bills", "GET /categories", "GET /investments", "GET /loans"}},
		{"negative", fake.TotalNegative, []string{"GET /accounts", "GET /bills", "GET /categories", "GET /investments", "GET /loans"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := o
			o.PageTotals = c.style
			e := newEnv(t, o)
			r := e.read(cat)
			recs := r.Records()
			for _, name := range estimatedStreams {
				if len(recs[name]) != len(wantRecs[name]) || len(recs[name]) == 0 {
					t.Errorf("%s: %d records, %d with numeric totals", name, len(recs[name]), len(wantRecs[name]))
				}
			}
			got := estimates(t, r)
			for _, name := range estimatedStreams {
				var rows []int64
				if got[name] != nil {
					rows = got[name].rows
				}
				switch {
				case name == "investment_transactions":
					if len(rows) == 0 || rows[len(rows)-1] != int64(len(recs[name])) {
						t.Errorf("%s: estimates %v, want the last to be its %d records", name, rows, len(recs[name]))
					}
				case len(rows) > 0:
					t.Errorf("%s: estimates %v from totals that are not counts", name, rows)
				}
			}
			var debug []string
			for _, m := range r.OfType(protocol.TypeLog) {
				if m.Log.Level == protocol.LevelDebug && strings.Contains(m.Log.Message, "no row count in total") {
					debug = append(debug, m.Log.Message)
				}
			}
			for _, route := range c.routes {
				n := 0
				for _, d := range debug {
					if strings.Contains(d, `route="`+route+`"`) {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%d DEBUG lines of %s's total, want 1: %q", n, route, debug)
				}
			}
			if len(debug) != len(c.routes) {
				t.Errorf("%d DEBUG lines of a total, want %d (one per route): %q", len(debug), len(c.routes), debug)
			}
		})
	}
}

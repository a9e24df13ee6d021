package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// unknownItem is a well-formed item id the fake does not know.
const unknownItem = "3fa85f64-5717-4562-b3fc-2c963f66afa6"

// expectUnknownItem checks a read in which item id is one Pluggy does not
// know: every stream in failing ends with one config_error that names the
// item and config.item_ids (the user's mistake, which a retry does not
// cure), the others complete, and every stream emits what a read of the
// other items alone emits.
func expectUnknownItem(t *testing.T, r, control map[string]int, traces []*protocol.ErrorTrace, statuses map[string][]protocol.Status, id string, failing []string) {
	t.Helper()
	byStream := map[string][]*protocol.ErrorTrace{}
	for _, tr := range traces {
		name := ""
		if tr.StreamDescriptor != nil {
			name = tr.StreamDescriptor.Name
		}
		byStream[name] = append(byStream[name], tr)
	}
	for name, seq := range statuses {
		want := protocol.Complete
		if contains(failing, name) {
			want = protocol.Incomplete
		}
		if len(seq) == 0 || seq[len(seq)-1] != want {
			t.Errorf("stream %s ended %v, want %s", name, seq, want)
		}
		if r[name] != control[name] {
			t.Errorf("stream %s: %d records, want %d (the other items' records)", name, r[name], control[name])
		}
	}
	for _, name := range failing {
		errs := byStream[name]
		if len(errs) != 1 {
			t.Errorf("stream %s: %d ERROR traces, want 1", name, len(errs))
			continue
		}
		tr := errs[0]
		if tr.FailureType != protocol.ConfigError || !strings.Contains(tr.Message, "config.item_ids") || !strings.Contains(tr.Message, id) {
			t.Errorf("stream %s: %s %q; want a config_error naming item %s and config.item_ids", name, tr.FailureType, tr.Message, id)
		}
	}
	for name := range byStream {
		if name != "" && !contains(failing, name) {
			t.Errorf("stream %s failed: %s", name, byStream[name][0].Message)
		}
	}
	if s := byStream[""]; len(s) != 1 {
		t.Errorf("%d closing summaries, want 1", len(s))
	} else if s[0].FailureType != protocol.ConfigError {
		t.Errorf("closing summary is a %s, want a config_error: %s", s[0].FailureType, s[0].Message)
	}
}

func recordCounts(recs map[string][]json.RawMessage) map[string]int {
	out := map[string]int{}
	for name, rs := range recs {
		out[name] = len(rs)
	}
	return out
}

// TestUnknownItemIsAConfigErrorOnEveryStream: an item id in config.item_ids
// that Pluggy does not know fails every stream that reads items with the
// same config_error and fix, whichever request meets it first (the accounts
// stream's is GET /accounts?itemId=, which answered a system_error), and
// the items after it are still read.
func TestUnknownItemIsAConfigErrorOnEveryStream(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 5})
	known := e.fake.ItemIDs()
	all := e.catalog(false)
	control := e.readFast(all)

	t.Run("all streams", func(t *testing.T) {
		r := e.with(t).readWith(map[string]any{"item_ids": []string{known[0], unknownItem, known[1]}}, all)
		if r.Code != 1 {
			t.Fatalf("exit %d, want 1\n%s", r.Code, tail(r.Stdout))
		}
		failing := []string{"items", "accounts", "transactions", "credit_card_bills", "investments", "investment_transactions", "loans", "identity"}
		expectUnknownItem(t, recordCounts(r.Records()), recordCounts(control.Records()), r.ErrorTraces(), r.Statuses(), unknownItem, failing)
	})
	// Each stream alone: none may lean on another stream having fetched
	// the item first.
	for _, name := range []string{"accounts", "transactions", "credit_card_bills", "identity"} {
		t.Run(name+" alone", func(t *testing.T) {
			r := e.with(t).readWith(map[string]any{"item_ids": []string{unknownItem, known[0]}}, e.catalog(false, name))
			if r.Code != 1 {
				t.Fatalf("exit %d, want 1\n%s", r.Code, tail(r.Stdout))
			}
			want := map[string]int{}
			for _, raw := range control.Records()[name] {
				if e.ofItem(raw, known[0]) {
					want[name]++
				}
			}
			expectUnknownItem(t, recordCounts(r.Records()), want, r.ErrorTraces(), r.Statuses(), unknownItem, []string{name})
		})
	}
}

// TestItemGoneMidRunIsAConfigError: an item Pluggy still served on GET
// /items/{id} but no longer knows when a product of it is listed (deleted
// during the run) gets the same config_error as an unknown item, from
// whichever stream meets it, not a system_error an orchestrator would
// retry.
func TestItemGoneMidRunIsAConfigError(t *testing.T) {
	var gone string
	e := newHostileEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 5}, fake.Hostile{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if gone != "" && r.URL.Query().Get("itemId") == gone {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`{"code":404,"codeDescription":"ITEM_NOT_FOUND","message":"item not found"}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	all := e.catalog(false)
	control := e.readFast(all)
	gone = e.fake.ItemIDs()[0]
	r := e.readWith(nil, all)
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.Code, tail(r.Stdout))
	}
	want := recordCounts(control.Records())
	for name, recs := range control.Records() {
		if name == "items" || name == "categories" {
			continue
		}
		for _, raw := range recs {
			if e.ofItem(raw, gone) {
				want[name]--
			}
		}
	}
	failing := []string{"accounts", "transactions", "credit_card_bills", "investments", "investment_transactions", "loans", "identity"}
	expectUnknownItem(t, recordCounts(r.Records()), want, r.ErrorTraces(), r.Statuses(), gone, failing)
}

// ofItem reports whether a record belongs to item id: it names the item or
// one of its accounts (a bill names only its account).
func (e *env) ofItem(raw json.RawMessage, id string) bool {
	if strings.Contains(string(raw), id) {
		return true
	}
	for _, a := range e.fake.AccountIDs(id) {
		if strings.Contains(string(raw), a) {
			return true
		}
	}
	return false
}

package main

// GET /accounts, /bills and /loans are documented as one page, and whether
// they honour page/pageSize is open (pluggy-api.md §4, §7, §11.6). The
// fake serves them in pages of two (fake.Options.ListPageSize) and the
// binary must read every page: each account, bill and loan once, at the
// number of calls the pages take.

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

const listPageSize = 2

// pagedLists is what the fake serves on the paged lists, fetched whole
// (pageSize=500, which the paged lists honour) before the read.
type pagedLists struct {
	accounts map[string][]string // item -> account ids, in served order
	cards    []string
	bills    map[string][]string // card -> bill ids
	loans    map[string][]string // item -> loan ids
}

func (e *env) pagedLists() pagedLists {
	e.t.Helper()
	out := pagedLists{accounts: map[string][]string{}, bills: map[string][]string{}, loans: map[string][]string{}}
	type list struct {
		TotalPages int
		Results    []struct{ ID, Type string }
	}
	for _, item := range e.fake.ItemIDs() {
		var accts, loans list
		e.apiGet("/accounts?itemId="+item+"&pageSize=500", &accts)
		e.apiGet("/loans?itemId="+item+"&pageSize=500", &loans)
		for _, a := range accts.Results {
			out.accounts[item] = append(out.accounts[item], a.ID)
			if a.Type != "CREDIT" {
				continue
			}
			out.cards = append(out.cards, a.ID)
			var bills list
			e.apiGet("/bills?accountId="+a.ID+"&pageSize=500", &bills)
			for _, b := range bills.Results {
				out.bills[a.ID] = append(out.bills[a.ID], b.ID)
			}
		}
		out.loans[item] = []string{} // an item without loans still costs a call
		for _, l := range loans.Results {
			out.loans[item] = append(out.loans[item], l.ID)
		}
	}
	return out
}

// listGets is the number of GETs a list of n rows takes: one for an empty
// list (totalPages 0), else one per page.
func listGets(n int) int { return max(1, (n+listPageSize-1)/listPageSize) }

// listCalls is the number of GETs reading lists takes, and the rows they hold.
func listCalls(lists map[string][]string) (gets, rows int) {
	for _, ids := range lists {
		gets += listGets(len(ids))
		rows += len(ids)
	}
	return gets, rows
}

// onceEach fails unless the records of stream carry each id of want
// exactly once, and nothing else.
func onceEach(t *testing.T, stream string, recs []json.RawMessage, want map[string][]string) {
	t.Helper()
	seen := map[string]int{}
	for _, raw := range recs {
		var x struct{ ID string }
		st.Must(t, json.Unmarshal(raw, &x), stream)
		seen[x.ID]++
	}
	n := 0
	for key, ids := range want {
		for i, id := range ids {
			n++
			if seen[id] != 1 {
				t.Errorf("%s: %s (row %d of %s, on page %d) emitted %d times, want once", stream, id, i+1, key, i/listPageSize+1, seen[id])
			}
		}
	}
	if len(recs) != n {
		t.Errorf("%s: %d records, %d rows served", stream, len(recs), n)
	}
}

// TestPagedListsAreReadWhole: with /accounts, /bills and /loans served in
// pages of two, a full refresh emits every account, bill and loan exactly
// once, asking for each page once (one call for an item without loans),
// and incremental transaction reads walk every account, those on later
// pages of /accounts included, in the first run and in the run resuming
// from its state.
func TestPagedListsAreReadWhole(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 2, AccountsPerItem: 7, Loans: 5, TransactionsPerAccount: 8, ListPageSize: listPageSize})
	truth := e.pagedLists()
	accountGets, nAccounts := listCalls(truth.accounts)
	billGets, nBills := listCalls(truth.bills)
	loanGets, nLoans := listCalls(truth.loans)
	// Every list must need more than one page, or the test proves nothing.
	for name, l := range map[string]map[string][]string{"accounts": truth.accounts, "bills": truth.bills, "loans": truth.loans} {
		multi := false
		for _, ids := range l {
			multi = multi || len(ids) > listPageSize
		}
		if !multi {
			t.Fatalf("no %s list longer than a page: %v", name, l)
		}
	}
	t.Logf("served: %d accounts in %d pages, %d bills of %d cards in %d pages, %d loans in %d calls", nAccounts, accountGets, nBills, len(truth.cards), billGets, nLoans, loanGets)

	t.Run("full refresh", func(t *testing.T) {
		e := e.with(t)
		e.fake.ResetStats()
		r := e.read(e.catalog(false, "accounts", "credit_card_bills", "loans"))
		s := e.fake.Stats()
		onceEach(t, "accounts", r.Records()["accounts"], truth.accounts)
		onceEach(t, "credit_card_bills", r.Records()["credit_card_bills"], truth.bills)
		onceEach(t, "loans", r.Records()["loans"], truth.loans)
		for route, want := range map[string]int{"GET /accounts": accountGets, "GET /bills": billGets, "GET /loans": loanGets} {
			if got := s.ByRoute[route]; got != want {
				t.Errorf("%d calls to %s, want %d (one per page, the accounts once per item for both streams)", got, route, want)
			}
		}
		if s.ByStatus[400] != 0 {
			t.Errorf("%d answers 400: %v", s.ByStatus[400], s.ByRoute)
		}
	})

	t.Run("incremental", func(t *testing.T) {
		e := e.with(t)
		served := map[string]string{} // transaction id -> account id
		for _, ids := range truth.accounts {
			for _, a := range ids {
				for _, raw := range e.fake.Transactions(a) {
					var x struct{ ID string }
					st.Must(t, json.Unmarshal(raw, &x), "transaction")
					served[x.ID] = a
				}
			}
		}
		cat := e.catalog(true, "transactions")
		e.fake.ResetStats()
		r1 := e.read(cat)
		perAccount := map[string]int{}
		for id, row := range rows(t, r1.Records()["transactions"]) {
			if served[id] != row.AccountID {
				t.Errorf("transaction %s emitted for account %s, served on %q", id, row.AccountID, served[id])
			}
			perAccount[row.AccountID]++
		}
		for item, ids := range truth.accounts {
			for i, a := range ids {
				if want := len(e.fake.Transactions(a)); perAccount[a] != want {
					t.Errorf("account %s (page %d of item %s's accounts): %d transactions read, %d served", a, i/listPageSize+1, item, perAccount[a], want)
				}
			}
		}
		if got := e.fake.Stats().ByRoute["GET /accounts"]; got != accountGets {
			t.Errorf("first incremental run: %d calls to GET /accounts, want %d", got, accountGets)
		}

		// Rows added after the first run, some on accounts past the first
		// page, are read by the run resuming from its state.
		added := e.fake.AddNew(12)
		later := 0
		for _, id := range added {
			for _, ids := range truth.accounts {
				for i, a := range ids {
					if i >= listPageSize && e.servesTxn(a, id) {
						later++
					}
				}
			}
		}
		if later == 0 {
			t.Fatal("no new row landed on an account past the first page of /accounts")
		}
		e.fake.ResetStats()
		r2 := e.read(cat, "--state", r1.StateFile(t))
		checkResumed(t, e, r2, added)
		if got := e.fake.Stats().ByRoute["GET /accounts"]; got != accountGets {
			t.Errorf("resumed run: %d calls to GET /accounts, want %d", got, accountGets)
		}
		t.Logf("%d of the %d new rows are on accounts past the first page", later, len(added))
	})
}

// servesTxn reports whether the fake serves transaction id on account.
func (e *env) servesTxn(account, id string) bool {
	for _, raw := range e.fake.Transactions(account) {
		var x struct{ ID string }
		st.Must(e.t, json.Unmarshal(raw, &x), fmt.Sprint("transaction of ", account))
		if x.ID == id {
			return true
		}
	}
	return false
}

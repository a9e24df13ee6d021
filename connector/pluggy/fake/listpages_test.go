package fake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// listEnvelope is the page envelope with rows kept raw.
type listEnvelope struct {
	Page, Total, TotalPages int
	Results                 []json.RawMessage
}

// TestListPageSizePagesTheSinglePageLists: with Options.ListPageSize,
// /accounts, /bills, /loans and /connectors honour page and pageSize
// (pluggy-api.md §11.6), and their pages put together are the single page
// served without it, row for row; without it page and pageSize are ignored.
func TestListPageSizePagesTheSinglePageLists(t *testing.T) {
	o := Options{AccountsPerItem: 5, Loans: 3, TransactionsPerAccount: 5}
	whole := newHarness(t, o)
	o.ListPageSize = 2
	paged := newHarness(t, o)
	items := whole.s.ItemIDs()
	if !reflect.DeepEqual(items, paged.s.ItemIDs()) {
		t.Fatal("ListPageSize changed the item ids")
	}
	card := whole.s.AccountIDs(items[0])[2]
	lists := []string{
		"/accounts?itemId=" + items[0], "/accounts?itemId=" + items[0] + "&type=BANK", "/accounts?itemId=" + items[1],
		"/bills?accountId=" + card, "/loans?itemId=" + items[0], "/loans?itemId=" + items[1], "/connectors",
	}
	for _, path := range lists {
		var one listEnvelope
		whole.mustGet(path, &one)
		// Without ListPageSize a page parameter changes nothing.
		var ignored listEnvelope
		whole.mustGet(path+sep(path)+"page=2&pageSize=1", &ignored)
		if !reflect.DeepEqual(ignored, one) {
			t.Errorf("%s: page=2&pageSize=1 served %+v without ListPageSize, want the single page %+v", path, ignored, one)
		}
		wantPages := (len(one.Results) + 1) / 2
		if one.Page != 1 || one.Total != len(one.Results) || one.TotalPages != min(wantPages, 1) {
			t.Errorf("%s: single page %d of %d, total %d, %d rows", path, one.Page, one.TotalPages, one.Total, len(one.Results))
		}
		var rows []json.RawMessage
		for page := 1; page <= wantPages+1; page++ {
			q := ""
			if page > 1 {
				q = sep(path) + fmt.Sprint("page=", page)
			}
			var p listEnvelope
			paged.mustGet(path+q, &p)
			if p.Page != page || p.Total != len(one.Results) || p.TotalPages != wantPages {
				t.Errorf("%s page %d: page %d of %d, total %d; want total %d in %d pages", path, page, p.Page, p.TotalPages, p.Total, len(one.Results), wantPages)
			}
			if want := min(2, len(one.Results)-len(rows)); len(p.Results) != max(want, 0) {
				t.Errorf("%s page %d: %d rows, want %d", path, page, len(p.Results), max(want, 0))
			}
			rows = append(rows, p.Results...)
		}
		if !reflect.DeepEqual(rows, one.Results) && len(one.Results) > 0 {
			t.Errorf("%s: the pages hold %d rows, not the %d of the single page in its order", path, len(rows), len(one.Results))
		}
		// pageSize is honoured too.
		var all listEnvelope
		paged.mustGet(path+sep(path)+"pageSize=500", &all)
		if all.TotalPages != min(1, len(one.Results)) || len(all.Results) != len(one.Results) {
			t.Errorf("%s&pageSize=500: %d rows in %d pages, want %d in one", path, len(all.Results), all.TotalPages, len(one.Results))
		}
	}
	var loans listEnvelope
	whole.mustGet("/loans?itemId="+items[0], &loans)
	if len(loans.Results) != 3 {
		t.Fatalf("Options.Loans 3: the first item has %d loans", len(loans.Results))
	}
	path := "/accounts?itemId=" + items[0]
	for q, want := range map[string]string{
		"page=0":       `{"message":"page must not be less than 1","code":400}`,
		"pageSize=0":   `{"message":"pageSize must not be less than 1","code":400}`,
		"pageSize=501": `{"message":"pageSize must not be greater than 500","code":400}`,
	} {
		code, b := paged.get(path + "&" + q)
		wantBody(t, q, code, b, http.StatusBadRequest, want)
	}
}

// TestLoansOptionKeepsTheRestOfTheData: extra loans come from their own
// generator, so the first loan and every other answer are those of the
// default data set.
func TestLoansOptionKeepsTheRestOfTheData(t *testing.T) {
	a, b := newHarness(t, Options{}), newHarness(t, Options{Loans: 4})
	item := a.s.ItemIDs()[0]
	for _, path := range []string{"/items/" + item, "/accounts?itemId=" + item, "/investments?itemId=" + item, "/identity?itemId=" + item, "/consents?itemId=" + item} {
		if x, y := a.mustGet(path, nil), b.mustGet(path, nil); string(x) != string(y) {
			t.Errorf("%s differs with Options.Loans 4", path)
		}
	}
	var one, four listEnvelope
	a.mustGet("/loans?itemId="+item, &one)
	b.mustGet("/loans?itemId="+item, &four)
	if len(one.Results) != 1 || len(four.Results) != 4 || string(one.Results[0]) != string(four.Results[0]) {
		t.Fatalf("loans: %d by default, %d with Loans 4 (the first the same: %v)", len(one.Results), len(four.Results), len(four.Results) > 0 && string(one.Results[0]) == string(four.Results[0]))
	}
	ids := map[string]bool{}
	for _, raw := range four.Results {
		var l struct{ ID string }
		_ = json.Unmarshal(raw, &l)
		ids[l.ID] = true
		b.mustGet("/loans/"+l.ID, nil)
	}
	if len(ids) != 4 {
		t.Errorf("the four loans have %d distinct ids", len(ids))
	}
}

// sep is the separator that appends a parameter to path.
func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}

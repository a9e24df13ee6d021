package fake

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestPageTotals: Options.PageTotals writes the page envelopes' total as
// the list's length (the default), leaves it out, writes it as a string
// or as -1, on every list a stream reads; the rows are the same.
func TestPageTotals(t *testing.T) {
	for _, c := range []struct {
		style TotalStyle
		want  string // the total as written for a list of n; "" for none
	}{
		{TotalNumber, "%d"}, {TotalAbsent, ""}, {TotalString, `"%d"`}, {TotalNegative, "-1"},
	} {
		h := newHarness(t, Options{Items: 1, PageTotals: c.style})
		item := h.s.ItemIDs()[0]
		var accts struct {
			Results []struct{ ID, Type string }
		}
		h.mustGet("/accounts?itemId="+item, &accts)
		paths := []string{"/accounts?itemId=" + item, "/loans?itemId=" + item, "/investments?itemId=" + item, "/categories"}
		for _, a := range accts.Results {
			if a.Type == "CREDIT" {
				paths = append(paths, "/bills?accountId="+a.ID)
			}
		}
		for _, path := range paths {
			var page map[string]json.RawMessage
			h.mustGet(path, &page)
			var rows []json.RawMessage
			if err := json.Unmarshal(page["results"], &rows); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			want := c.want
			if want != "" && want != "-1" {
				want = fmt.Sprintf(want, len(rows))
			}
			if got, ok := page["total"]; string(got) != want || ok != (want != "") {
				t.Errorf("style %d, %s: total %s (present %v), want %q for %d rows", c.style, path, got, ok, want, len(rows))
			}
		}
	}
}

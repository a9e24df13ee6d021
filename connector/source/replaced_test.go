package source

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
)

// TestReplacedTextNotesOnlyReplacedStrings: of two rows cut from one
// repaired answer, the one holding a string where U+FFFD was put in gets a
// change at that string's path; a U+FFFD the API sent itself is no change.
func TestReplacedTextNotesOnlyReplacedStrings(t *testing.T) {
	// @ marks where the client put a U+FFFD; # is one the API sent.
	page := `{"results":[{"id":"1","description":"caf@","payer":{"name":"ok"}},{"id":"2","description":"sent #"},{"id":"3","tags":["x","y@z"]},{"id":"4","description":"plain"}]}`
	var at []int
	for i := strings.IndexAny(page, "@#"); i >= 0; i = strings.IndexAny(page, "@#") {
		if page[i] == '@' {
			at = append(at, i)
		}
		page = page[:i] + "\uFFFD" + page[i+1:]
	}
	r := &replacedText{}
	r.add(replacedLiterals([]byte(page), at), "GET /transactions")
	body := []byte(page)
	for _, tc := range []struct {
		row  string
		want []string
	}{
		{`{"id":"1","description":"caf` + "\uFFFD" + `","payer":{"name":"ok"}}`, []string{"description"}},
		{`{"id":"2","description":"sent ` + "\uFFFD" + `"}`, nil},
		{`{"id":"3","tags":["x","y` + "\uFFFD" + `z"]}`, []string{"tags[1]"}},
		{`{"id":"4","description":"plain"}`, nil},
	} {
		if !bytes.Contains(body, []byte(tc.row)) {
			t.Fatalf("row %s is not in the page", tc.row)
		}
		var got []string
		changes, route := r.changes(jsonrow.Of([]byte(tc.row)))
		if (route != "") != (tc.want != nil) || route != "" && route != "GET /transactions" {
			t.Errorf("row %s: route %q", tc.row, route)
		}
		for _, c := range changes {
			if c.Change != jsonrow.ChangeReplaced || c.Reason != jsonrow.ReasonInvalidUTF8 {
				t.Errorf("change %+v", c)
			}
			got = append(got, c.Field)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("row %s: changes at %q, want %q", tc.row, got, tc.want)
		}
	}
}

// TestReplacedTextIsBounded: past maxReplacedText the run stops
// remembering strings and takes every string holding U+FFFD for replaced,
// over-noting rather than forgetting.
func TestReplacedTextIsBounded(t *testing.T) {
	r := &replacedText{}
	big := `"` + strings.Repeat("a", 1<<20) + "\uFFFD" + `"`
	for i := 0; i < 5; i++ {
		r.add([][]byte{[]byte(big + strings.Repeat(" ", i))}, "GET /transactions")
	}
	if !r.all || r.lits != nil {
		t.Fatalf("after 5 MiB of strings: all %v, %d remembered", r.all, len(r.lits))
	}
	got, _ := r.changes(jsonrow.Of([]byte(`{"d":"sent ` + "\uFFFD" + `"}`)))
	if len(got) != 1 || got[0].Field != "d" {
		t.Errorf("changes %+v, want one at d", got)
	}
}

// TestReplacedTextOfShortStringsIsBounded: a server replacing a byte in
// every short string (a few letters each) fills the bound with map entries
// rather than bytes; what the run holds stays near maxReplacedText, where
// the literals' bytes alone were counted and 330,000 strings of ten bytes
// held 25 MiB before it stopped remembering them.
func TestReplacedTextOfShortStringsIsBounded(t *testing.T) {
	short := func(i int) [][]byte { return [][]byte{fmt.Appendf(nil, `"%x\uFFFD"`, i)} }
	// How many the bound takes, then the heap of one add fewer: the most a
	// run holds.
	n := 0
	for r := (&replacedText{}); !r.all; n++ {
		if n == 1<<22 {
			t.Fatalf("%d short strings remembered, %d bytes of the bound, without reaching it", len(r.lits), r.size)
		}
		r.add(short(n), "GET /transactions")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := &replacedText{}
	for i := range n - 1 {
		r.add(short(i), "GET /transactions")
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if r.all || len(r.lits) != n-1 {
		t.Fatalf("%d strings remembered of %d, all %v", len(r.lits), n-1, r.all)
	}
	runtime.KeepAlive(r)
	if limit := int64(2 * maxReplacedText); held > limit {
		t.Errorf("%d short strings held %d MiB of heap, want at most %d MiB", n-1, held>>20, limit>>20)
	}
}

// TestKeptTextIsNotedAgain: the paths ReplacedPaths finds in details one
// read fetched find the strings again in the details as a state kept them,
// its escapes written anew (json.Marshal writes < as \u003c), and a row
// carrying them in a later read is noted; a U+FFFD of the bank's own is not.
func TestKeptTextIsNotedAgain(t *testing.T) {
	fetched := `{"ownerName":"caf` + "\uFFFD" + ` <b>","details":"sent ` + "\uFFFD" + `"}`
	at := []int{strings.Index(fetched, "\uFFFD")}
	first := &streamOutput{replaced: &replacedText{}}
	ctx := context.WithValue(context.Background(), outputKey{}, first)
	first.replaced.add(replacedLiterals([]byte(fetched), at), "GET /details")
	paths := ReplacedPaths(ctx, []byte(fetched))
	if !slices.Equal(paths, []string{"ownerName"}) {
		t.Fatalf("paths %q, want [ownerName]", paths)
	}
	kept := `{"ownerName":"caf` + "\uFFFD" + ` \u003cb\u003e","details":"sent ` + "\uFFFD" + `"}`
	later := &streamOutput{replaced: &replacedText{}}
	NoteReplaced(context.WithValue(context.Background(), outputKey{}, later), []byte(kept), paths, "the state")
	got, route := later.replaced.changes(jsonrow.With([]byte(`{"id":"a"}`), jsonrow.Raw("details", []byte(kept))))
	if len(got) != 1 || got[0].Field != "details.ownerName" || route != "the state" {
		t.Errorf("changes %+v from %q, want one at details.ownerName from the state", got, route)
	}
}

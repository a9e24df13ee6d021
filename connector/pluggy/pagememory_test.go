package pluggy

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unsafe"
)

// Every test of the package runs with handed-back pages overwritten, so a
// reader that kept a row past its page would read garbage and fail.
func init() { poisonPages = true }

// A page's memory is read into again once its rows are handed on: with
// one page in hand and one fetched ahead, four pages take at most two
// pages' memory.
func TestTransactionPagesReuseMemory(t *testing.T) {
	c := offlineClient(pagedServer(4, nil))
	var at []uintptr
	err := c.eachTransactionPage(context.Background(), url.Values{"accountId": {"a"}}, func(rows []txRow) error {
		at = append(at, uintptr(unsafe.Pointer(unsafe.SliceData(rows[0].Raw))))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[uintptr]bool{}
	for _, a := range at {
		distinct[a] = true
	}
	if len(at) != 4 || len(distinct) > 2 {
		t.Errorf("pages' rows at %x; want them in two pages' memory at most", at)
	}
}

// recordedAnnouncements is an announceTo that takes every announcement at
// once.
type recordedAnnouncements struct{ n int }

func (r *recordedAnnouncements) Announce(idWindow) error            { r.n++; return nil }
func (r *recordedAnnouncements) TryAnnounce(idWindow) (bool, error) { r.n++; return true, nil }
func (r *recordedAnnouncements) Announced() bool                    { return false }

// Rows with new ids inside the window wait for their announcement while
// later pages arrive and take their page's memory: they must come out as
// served, byte for byte.
func TestWaitingRowsOutliveTheirPages(t *testing.T) {
	const pages, perPage = 5, 3
	row := func(p, i int) string {
		return fmt.Sprintf(`{"id":"%08x-0000-4000-8000-%012x","date":"2024-03-0%dT00:00:00.000Z","createdAt":"2024-03-0%dT10:00:00.000Z","description":"page %d row %d"}`, p, i, p+1, p+1, p, i)
	}
	c := offlineClient(func(r *http.Request) []byte {
		p := 0
		fmt.Sscan(r.URL.Query().Get("after"), &p)
		var rows []string
		for i := range perPage {
			rows = append(rows, row(p, i))
		}
		next := "null"
		if p+1 < pages {
			next = fmt.Sprintf(`"?after=%d"`, p+1)
		}
		return []byte(`{"results":[` + strings.Join(rows, ",") + `],"next":` + next + `}`)
	})
	win := newWindowTracker()
	win.raise("2024-01-01")
	sent := &recordedAnnouncements{}
	var got []string
	err := newAnnouncer(nil, sent).walk(context.Background(), c, url.Values{"accountId": {"a"}}, win, func(string) {}, func(raw []byte, k txKeys) error {
		got = append(got, string(raw))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sent.n != 1 {
		t.Errorf("%d announcements, want the one at the end, for every page", sent.n)
	}
	if len(got) != pages*perPage {
		t.Fatalf("%d rows, want %d", len(got), pages*perPage)
	}
	for i, g := range got {
		if want := row(i/perPage, i%perPage); g != want {
			t.Errorf("row %d is\n%s\nwant\n%s", i, g, want)
		}
	}
}

// A page far larger than usual is not kept for the next ones.
func TestLargePageMemoryIsNotKept(t *testing.T) {
	m := newPageMemory()
	m.put(txPage{body: make([]byte, 10, maxKeptPage+1)})
	if p := m.get(); p.body != nil {
		t.Errorf("a %d-byte page was kept", cap(p.body))
	}
	m.put(txPage{body: make([]byte, 10, 512<<10)})
	if p := m.get(); cap(p.body) != 512<<10 {
		t.Errorf("a 512 KB page was not kept")
	}
}

package pluggy

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestRecentCursorsStayBounded: a server sending a new 50 KB cursor on every
// page costs a fixed amount of memory, and a cursor seen again among the
// recent ones is caught.
func TestRecentCursorsStayBounded(t *testing.T) {
	var r recentCursors
	pad := strings.Repeat("c", 50<<10)
	for i := range 3 * recentCursorsKept {
		if !r.add(fmt.Sprint(i, pad)) {
			t.Fatalf("cursor %d taken for a repeat", i)
		}
	}
	if len(r.set) != recentCursorsKept || len(r.ring) != recentCursorsKept {
		t.Fatalf("%d cursors kept, ring %d; want %d", len(r.set), len(r.ring), recentCursorsKept)
	}
	if r.add(fmt.Sprint(3*recentCursorsKept-1, pad)) {
		t.Fatal("a recent cursor sent again was not caught")
	}
	if !r.add(fmt.Sprint(0, pad)) {
		t.Fatal("a cursor older than the window was taken for a repeat")
	}
}

// TestNextLinkQuotedWholeOrNotAtAll: an error about a next link quotes it
// whole, so that the run's redactor finds a secret in it whole, or, too
// long to quote, not at all: cut short, it could leave a secret's first
// part in the message, which the redactor would not recognise.
func TestNextLinkQuotedWholeOrNotAtAll(t *testing.T) {
	token := strings.Repeat("s3cr3tT0k3n", 40) // links over maxQuotedLink
	for _, next := range []string{"/v2/transactions/" + token, "/v2/transactions?key=" + token + "&page=2"} {
		_, err := afterParam(next)
		if err == nil {
			t.Fatalf("afterParam(%q): no error", next)
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error quotes part of the link: %v", err)
		}
	}
	short := "/v2/transactions?page=2"
	if _, err := afterParam(short); err == nil || !strings.Contains(err.Error(), strconv.Quote(short)) {
		t.Errorf("a short link is quoted whole: %v", err)
	}
}

package pluggy

import (
	"fmt"
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

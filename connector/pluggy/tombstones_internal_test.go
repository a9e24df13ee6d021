package pluggy

import (
	"fmt"
	"slices"
	"testing"
)

func TestDayOf(t *testing.T) {
	for in, want := range map[string]string{
		"2026-05-14T00:00:00.000Z": "2026-05-14",
		"2026-05-14T10:20:30":      "2026-05-14",
		"2026-05-14":               "2026-05-14",
		"2026-05-14 10:20":         "2026-05-14",
		"2026-05":                  "",
		"05-2026":                  "",
		"2026-13-01":               "",
		"2026-05-14X":              "",
		"":                         "",
	} {
		if got := dayOf(in); got != want {
			t.Errorf("dayOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWindowKeepsTheNewestDays: beyond maxWindowIDs the oldest days go.
func TestWindowKeepsTheNewestDays(t *testing.T) {
	w := newWindowTracker()
	w.raise("2026-01-02")
	w.add("too-old", "2026-01-01T00:00:00.000Z")
	for d := 1; d <= 30; d++ {
		for i := range maxWindowIDs / 20 {
			w.add(fmt.Sprintf("id-%02d-%04d", d, i), fmt.Sprintf("2026-03-%02dT12:00:00.000Z", d))
		}
	}
	win := w.window("2026-03-03")
	total := 0
	for _, ids := range win {
		total += len(ids)
		if !slices.IsSorted(ids) {
			t.Fatal("ids not sorted")
		}
	}
	if total != maxWindowIDs {
		t.Fatalf("window holds %d ids, want the cap %d", total, maxWindowIDs)
	}
	if _, ok := win["2026-03-30"]; !ok {
		t.Error("newest day dropped")
	}
	if _, ok := win["2026-03-10"]; ok {
		t.Error("an old day kept beyond the cap")
	}
	if _, ok := win["2026-03-02"]; ok {
		t.Error("a day before from kept")
	}
	seen := map[string]struct{}{"id-30-0000": {}}
	gone := txWindow{"2026-03-01": {"a"}, "2026-03-05": {"b", "id-30-0000"}}.vanished("2026-03-03", seen)
	if !slices.Equal(gone, []string{"b"}) {
		t.Fatalf("vanished = %v, want [b]", gone)
	}
	if err := (txWindow{"2026-2-1": {"a"}}).check(); err == nil {
		t.Fatal("a malformed day passed the state check")
	}
}

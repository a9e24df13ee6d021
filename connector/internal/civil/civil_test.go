package civil

import (
	"testing"
	"time"
)

// FuzzDate checks Date and Days against time.Parse with time.DateOnly.
func FuzzDate(f *testing.F) {
	for _, s := range []string{"2024-02-29", "2023-02-29", "1970-01-01", "0000-03-01", "9999-12-31",
		"2024-13-01", "2024-00-10", "2024-04-31", "2024-4-01", "+024-01-01", "2024-01-0a", "2024/01/01", "2024-01-01T00:00:00Z", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		y, m, d, ok := Date(s)
		if len(s) < 10 {
			if ok {
				t.Fatalf("Date(%q) took a string shorter than a date", s)
			}
			return
		}
		want, err := time.Parse(time.DateOnly, s[:10])
		if ok != (err == nil) {
			t.Fatalf("Date(%q) ok = %v; time.Parse: %v", s, ok, err)
		}
		if !ok {
			return
		}
		if y != want.Year() || m != int(want.Month()) || d != want.Day() {
			t.Fatalf("Date(%q) = %d-%d-%d, want %v", s, y, m, d, want)
		}
		if got := Days(y, m, d); got != want.Unix()/86400 {
			t.Fatalf("Days(%d, %d, %d) = %d, want %d", y, m, d, got, want.Unix()/86400)
		}
		if b, _, _, _ := Date([]byte(s)); b != y {
			t.Fatalf("Date of the bytes differs")
		}
	})
}

// TestDays checks Days over nine centuries around 1970, every fifth day.
func TestDays(t *testing.T) {
	for d := time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2500; d = d.AddDate(0, 0, 5) {
		if got := Days(d.Year(), int(d.Month()), d.Day()); got != d.Unix()/86400 {
			t.Fatalf("Days(%v) = %d, want %d", d, got, d.Unix()/86400)
		}
	}
}

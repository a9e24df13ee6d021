package pluggy

import "github.com/source-pluggy/source-pluggy/connector/internal/civil"

// dayOf returns the UTC calendar day (YYYY-MM-DD) a Pluggy date or timestamp
// falls on, or "" when v does not start with one. It reads the shapes Pluggy
// sends for dates: full ISO-8601 with milliseconds and Z, without the Z, or
// date only. Pluggy writes its timestamps in UTC, so the prefix is the UTC
// day, the same day its dateFrom filter compares against. Records keep the
// original strings; this is only for cursors and windows.
func dayOf(v string) string {
	if _, _, _, ok := dateOf(v); !ok {
		return ""
	}
	return v[:10]
}

// dateOf is the year, month and day of the day dayOf reads, parsed once for
// those who need its number too (dayNumber, for every row of a window).
func dateOf(v string) (y, m, d int, ok bool) {
	y, m, d, ok = civil.Date(v)
	if !ok || len(v) > 10 && v[10] != 'T' && v[10] != ' ' && v[10] != 't' {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

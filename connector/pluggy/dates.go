package pluggy

import "time"

// dayOf returns the UTC calendar day (YYYY-MM-DD) a Pluggy date or timestamp
// falls on, or "" when v does not start with one. It reads the shapes Pluggy
// sends for dates: full ISO-8601 with milliseconds and Z, without the Z, or
// date only. Pluggy writes its timestamps in UTC, so the prefix is the UTC
// day, the same day its dateFrom filter compares against. Records keep the
// original strings; this is only for cursors and windows.
func dayOf(v string) string {
	if len(v) < len(time.DateOnly) {
		return ""
	}
	d := v[:len(time.DateOnly)]
	if _, err := time.Parse(time.DateOnly, d); err != nil {
		return ""
	}
	if len(v) > len(d) && v[len(d)] != 'T' && v[len(d)] != ' ' && v[len(d)] != 't' {
		return ""
	}
	return d
}

package pluggy

import "github.com/source-pluggy/source-pluggy/connector/internal/civil"

// dayOf returns the UTC calendar day (YYYY-MM-DD) a Pluggy date or timestamp
// falls on, or "" when v does not start with one. It reads the shapes Pluggy
// sends for dates: full ISO-8601 with milliseconds and Z, without the Z, or
// date only. Pluggy writes its timestamps in UTC, so the prefix is the UTC
// day, the same day its dateFrom filter compares against. Records keep the
// original strings; this is only for cursors and windows.
func dayOf(v string) string {
	if _, _, _, ok := civil.Date(v); !ok {
		return ""
	}
	if len(v) > 10 && v[10] != 'T' && v[10] != ' ' && v[10] != 't' {
		return ""
	}
	return v[:10]
}

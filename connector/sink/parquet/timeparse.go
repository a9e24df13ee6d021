package parquet

import (
	"errors"

	"github.com/source-pluggy/source-pluggy/connector/internal/civil"
)

// Timestamps are written as microseconds since 1970-01-01T00:00:00Z and dates
// as days since 1970-01-01. The parsers (package civil, which the
// PostgreSQL sink reads its times with too) are hand-written because they
// run for every timestamp of every record; they accept exactly the shapes
// documented on each.

var (
	errNotTimestamp = errors.New("not an RFC 3339 timestamp with a time zone")
	errSubMicro     = errors.New("has digits below the microsecond, which TIMESTAMP(us) cannot keep")
	errNotDate      = errors.New("not a YYYY-MM-DD date")
)

// parseTimestamp parses an RFC 3339 date-time (what JSON Schema's
// "format": "date-time" means): YYYY-MM-DD, 'T' (or 't' or a space),
// hh:mm:ss, an optional fraction, and 'Z' or ±hh:mm. The instant is kept; the
// offset is not (the column is UTC). A fraction with non-zero digits below
// the microsecond is an error, never truncated.
func parseTimestamp(b []byte) (int64, error) {
	us, n, sub, ok := civil.DateTime(b, true)
	if !ok || n != len(b) {
		return 0, errNotTimestamp
	}
	if sub {
		return 0, errSubMicro
	}
	return us, nil
}

// parseDate parses YYYY-MM-DD ("format": "date") into days since the epoch.
func parseDate(b []byte) (int32, error) {
	y, m, d, ok := civil.Date(b)
	if !ok || len(b) != 10 {
		return 0, errNotDate
	}
	return int32(civil.Days(y, m, d)), nil
}

// parseLenient parses an "x-lenient-time" field: civil.Lenient.
func parseLenient(b []byte) (int64, bool) { return civil.Lenient(b) }

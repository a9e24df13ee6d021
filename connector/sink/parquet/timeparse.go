package parquet

import (
	"errors"

	"github.com/source-pluggy/source-pluggy/connector/internal/civil"
)

// Timestamps are written as microseconds since 1970-01-01T00:00:00Z and dates
// as days since 1970-01-01. The parsers below are hand-written because they
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
	us, n, sub, ok := parseDateTime(b, true)
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

// parseLenient parses the shapes an "x-lenient-time" field comes in, all as
// UTC when they carry no offset:
//
//	2024-05-01T10:20:30.123Z, 2024-05-01T10:20:30-03:00   RFC 3339
//	2024-05-01T10:20:30, 2024-05-01 10:20, 2024-05-01T10:20:30.5   no zone: UTC
//	2024-05-01                                             midnight UTC
//	2024-05, 05-2024, 05/2024                              the month's first day
//
// Digits below the microsecond are truncated: the verbatim string is kept
// beside the parsed column. ok is false for anything else.
func parseLenient(b []byte) (int64, bool) {
	switch {
	case len(b) >= 10 && b[4] == '-':
		if len(b) == 10 {
			y, m, d, ok := civil.Date(b)
			return civil.Days(y, m, d) * 86_400_000_000, ok
		}
		us, n, _, ok := parseDateTime(b, false)
		return us, ok && n == len(b)
	case len(b) == 7 && b[4] == '-': // YYYY-MM
		y, ok1 := civil.Digits(b[0:4])
		m, ok2 := civil.Digits(b[5:7])
		return civil.Days(y, m, 1) * 86_400_000_000, ok1 && ok2 && m >= 1 && m <= 12
	case len(b) == 7 && (b[2] == '-' || b[2] == '/'): // MM-YYYY, MM/YYYY
		m, ok1 := civil.Digits(b[0:2])
		y, ok2 := civil.Digits(b[3:7])
		return civil.Days(y, m, 1) * 86_400_000_000, ok1 && ok2 && m >= 1 && m <= 12
	}
	return 0, false
}

// parseDateTime parses a date, a time and a zone (required when zoned) from
// the start of b, returning microseconds, the bytes used and whether
// non-zero digits below the microsecond were dropped.
func parseDateTime(b []byte, zoned bool) (us int64, used int, sub, ok bool) {
	if len(b) < 16 {
		return 0, 0, false, false
	}
	y, mo, d, ok := civil.Date(b[:10])
	if !ok || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') || b[13] != ':' {
		return 0, 0, false, false
	}
	h, ok1 := civil.Digits(b[11:13])
	mi, ok2 := civil.Digits(b[14:16])
	if !ok1 || !ok2 || h > 23 || mi > 59 {
		return 0, 0, false, false
	}
	i := 16
	sec := 0
	var frac int64
	if i < len(b) && b[i] == ':' {
		if len(b) < i+3 {
			return 0, 0, false, false
		}
		s, ok := civil.Digits(b[i+1 : i+3])
		if !ok || s > 59 {
			return 0, 0, false, false
		}
		sec = s
		i += 3
		if i < len(b) && (b[i] == '.' || b[i] == ',' && !zoned) {
			i++
			start := i
			for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
				k := i - start
				switch {
				case k < 6:
					frac = frac*10 + int64(b[i]-'0')
				case b[i] != '0':
					sub = true
				}
			}
			if i == start {
				return 0, 0, false, false
			}
			for k := i - start; k < 6; k++ {
				frac *= 10
			}
		}
	} else if zoned {
		return 0, 0, false, false // RFC 3339 requires seconds
	}
	offset := 0 // seconds east of UTC
	switch {
	case i < len(b) && (b[i] == 'Z' || b[i] == 'z'):
		i++
	case i < len(b) && (b[i] == '+' || b[i] == '-'):
		if len(b) < i+6 || b[i+3] != ':' {
			return 0, 0, false, false
		}
		oh, ok1 := civil.Digits(b[i+1 : i+3])
		om, ok2 := civil.Digits(b[i+4 : i+6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, 0, false, false
		}
		offset = oh*3600 + om*60
		if b[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		if zoned {
			return 0, 0, false, false
		}
	}
	secs := civil.Days(y, mo, d)*86400 + int64(h*3600+mi*60+sec) - int64(offset)
	return secs*1_000_000 + frac, i, sub, true
}

package civil

// Timestamps as the typed sinks store them: microseconds since
// 1970-01-01T00:00:00Z. Both sinks read them here, so a record's time gets
// the same instant, or the same refusal, in Parquet and in PostgreSQL.

// Lenient parses the shapes an "x-lenient-time" field comes in, all as
// UTC when they carry no offset:
//
//	2024-05-01T10:20:30.123Z, 2024-05-01T10:20:30-03:00   RFC 3339
//	2024-05-01T10:20:30, 2024-05-01 10:20, 2024-05-01T10:20:30.5   no zone: UTC
//	2024-05-01                                             midnight UTC
//	2024-05, 05-2024, 05/2024                              the month's first day
//
// Digits below the microsecond are truncated: the verbatim string is kept
// beside the parsed column. ok is false for anything else.
func Lenient(b []byte) (int64, bool) {
	switch {
	case len(b) >= 10 && b[4] == '-':
		if len(b) == 10 {
			y, m, d, ok := Date(b)
			return Days(y, m, d) * 86_400_000_000, ok
		}
		us, n, _, ok := DateTime(b, false)
		return us, ok && n == len(b)
	case len(b) == 7 && b[4] == '-': // YYYY-MM
		y, ok1 := Digits(b[0:4])
		m, ok2 := Digits(b[5:7])
		return Days(y, m, 1) * 86_400_000_000, ok1 && ok2 && m >= 1 && m <= 12
	case len(b) == 7 && (b[2] == '-' || b[2] == '/'): // MM-YYYY, MM/YYYY
		m, ok1 := Digits(b[0:2])
		y, ok2 := Digits(b[3:7])
		return Days(y, m, 1) * 86_400_000_000, ok1 && ok2 && m >= 1 && m <= 12
	}
	return 0, false
}

// DateTime parses a date, a time and a zone (required when zoned) from
// the start of b, returning microseconds, the bytes used and whether
// non-zero digits below the microsecond were dropped.
func DateTime(b []byte, zoned bool) (us int64, used int, sub, ok bool) {
	if len(b) < 16 {
		return 0, 0, false, false
	}
	y, mo, d, ok := Date(b[:10])
	if !ok || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') || b[13] != ':' {
		return 0, 0, false, false
	}
	h, ok1 := Digits(b[11:13])
	mi, ok2 := Digits(b[14:16])
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
		s, ok := Digits(b[i+1 : i+3])
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
		oh, ok1 := Digits(b[i+1 : i+3])
		om, ok2 := Digits(b[i+4 : i+6])
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
	secs := Days(y, mo, d)*86400 + int64(h*3600+mi*60+sec) - int64(offset)
	return secs*1_000_000 + frac, i, sub, true
}

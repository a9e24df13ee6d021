// Package civil reads the calendar dates bank APIs date rows with,
// YYYY-MM-DD, and counts days between them, in the proleptic Gregorian
// calendar; and the timestamps of their rows (datetime.go), for both typed
// sinks. It is hand-written because it runs for every row: the Parquet
// sink converts every date and timestamp with it, and the Pluggy connector
// files every transaction under its day, where time.Parse cost 0.15 CPU s
// per million transactions.
package civil

// Date parses YYYY-MM-DD at the start of b, as time.Parse with
// time.DateOnly does: four-digit year, two-digit month and day, the day
// existing in the month. What follows the date is the caller's.
func Date[T ~string | ~[]byte](b T) (y, m, d int, ok bool) {
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return 0, 0, 0, false
	}
	y, ok1 := Digits(b[0:4])
	m, ok2 := Digits(b[5:7])
	d, ok3 := Digits(b[8:10])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > DaysIn(y, m) {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

// Digits is the number b writes in ASCII digits, and false when b is
// empty or holds anything else (no sign, no space).
func Digits[T ~string | ~[]byte](b T) (int, bool) {
	n := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

// DaysIn is the number of days of month m (1 to 12) of year y.
func DaysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// Days returns the days from 1970-01-01 to y-m-d (Howard Hinnant's
// algorithm, with March first so that the leap day ends a year).
func Days(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

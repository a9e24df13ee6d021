package parquet

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

var (
	errNotDecimal = errors.New("not a decimal number")
	errTooPrecise = errors.New("more decimal places than the column keeps")
	errTooLarge   = errors.New("more than 38 significant digits")
)

// parseDecimal parses the text of a decimal number (a JSON number, or the
// contents of a JSON string holding one) into the unscaled value of a
// DECIMAL(38, scale): 56.82 at scale 4 is 568200. It never rounds: a value
// with a non-zero digit beyond scale places is errTooPrecise, and one that
// needs more than 38 digits is errTooLarge. Exponents are allowed (1.5e3);
// trailing zeros are not digits that count (56.820000 fits scale 2).
//
// digits is scratch space; the result does not refer to it.
func parseDecimal(b []byte, scale int32, digits []byte) (decimal128.Num, []byte, error) {
	i := 0
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	digits = digits[:0]
	exp := 0 // value = digits × 10^exp
	n := 0   // digits seen, significant or not
	for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		n++
		if len(digits) == 0 && b[i] == '0' {
			continue
		}
		digits = append(digits, b[i])
	}
	if i < len(b) && b[i] == '.' {
		i++
		f := 0
		for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
			f++
			exp--
			if len(digits) == 0 && b[i] == '0' {
				continue
			}
			digits = append(digits, b[i])
		}
		if f == 0 {
			return decimal128.Num{}, digits, errNotDecimal
		}
		n += f
	}
	if n == 0 {
		return decimal128.Num{}, digits, errNotDecimal
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		e, ed := 0, 0
		for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
			ed++
			if e < 100000 {
				e = e*10 + int(b[i]-'0')
			}
		}
		if ed == 0 {
			return decimal128.Num{}, digits, errNotDecimal
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if i != len(b) {
		return decimal128.Num{}, digits, errNotDecimal
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		exp++
	}
	if len(digits) == 0 {
		return decimal128.Num{}, digits, nil
	}
	shift := exp + int(scale)
	if shift < 0 {
		return decimal128.Num{}, digits, errTooPrecise
	}
	if len(digits)+shift > decimalPrecision {
		return decimal128.Num{}, digits, errTooLarge
	}
	// At most 38 digits: the first 19 fit a uint64, the rest go through
	// 128-bit arithmetic.
	var lo uint64
	k := min(len(digits), 19)
	for _, c := range digits[:k] {
		lo = lo*10 + uint64(c-'0')
	}
	v := decimal128.FromU64(lo)
	if rest := digits[k:]; len(rest) > 0 {
		var r uint64
		for _, c := range rest {
			r = r*10 + uint64(c-'0')
		}
		v = v.Mul(decimal128.GetScaleMultiplier(len(rest))).Add(decimal128.FromU64(r))
	}
	if shift > 0 {
		v = v.Mul(decimal128.GetScaleMultiplier(shift))
	}
	if neg {
		v = v.Negate()
	}
	return v, digits, nil
}

// decimalError explains why a value does not fit its decimal column.
func decimalError(err error, scale int32, value []byte) error {
	switch {
	case errors.Is(err, errTooPrecise):
		return fmt.Errorf("value %s has more than %d decimal places; its column is DECIMAL(38,%d) and the sink never rounds (raise x-decimal-scale in the stream's schema)", value, scale, scale)
	case errors.Is(err, errTooLarge):
		return fmt.Errorf("value %s needs more than 38 digits at scale %d; it does not fit DECIMAL(38,%d)", value, scale, scale)
	}
	return fmt.Errorf("value %s is not a decimal number", value)
}

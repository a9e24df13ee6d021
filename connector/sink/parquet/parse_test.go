package parquet

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

func TestParseDecimal(t *testing.T) {
	for _, c := range []struct {
		in    string
		scale int32
		want  string // unscaled value, or the error
	}{
		{"56.8248", 4, "568248"},
		{"56.8248", 2, "too precise"}, // DECIMAL(18,2) would have rounded it to 56.82
		{"56.82", 2, "5682"},
		{"56.820000", 2, "5682"}, // trailing zeros are not precision
		{"-0.01", 2, "-1"},
		{"-0.0", 2, "0"},
		{"0", 4, "0"},
		{"12345678.91", 4, "123456789100"},
		{"1e3", 4, "10000000"},
		{"1.5E-2", 2, "too precise"},
		{"1.5E-2", 3, "15"},
		{"25E-1", 1, "25"},
		{"100e-2", 0, "1"},
		{"0.00000001", 8, "1"},
		{"99999999999999999999999999999999.9999", 4, "999999999999999999999999999999999999"},
		{"-99999999999999999999999999999999.9999", 4, "-999999999999999999999999999999999999"},
		{"99999999999999999999999999999999999999", 0, "99999999999999999999999999999999999999"},
		{"999999999999999999999999999999999999999", 0, "too large"}, // 39 digits
		{"1e34", 4, "too large"},
		{"1e-100000000000", 4, "too precise"},
		{"0e100000000000", 4, "0"},
		{"007.50", 2, "750"}, // a string's contents may have leading zeros
		{"", 2, "not decimal"},
		{"-", 2, "not decimal"},
		{"1.", 2, "not decimal"},
		{".5", 2, "50"}, // lenient for strings; JSON numbers never look like this
		{"1e", 2, "not decimal"},
		{"1,5", 2, "not decimal"},
		{"+1", 2, "not decimal"},
		{" 1", 2, "not decimal"},
		{"NaN", 2, "not decimal"},
	} {
		v, _, err := parseDecimal([]byte(c.in), c.scale, nil)
		got := ""
		switch {
		case errors.Is(err, errTooPrecise):
			got = "too precise"
		case errors.Is(err, errTooLarge):
			got = "too large"
		case errors.Is(err, errNotDecimal):
			got = "not decimal"
		case err != nil:
			got = err.Error()
		default:
			got = v.BigInt().String()
		}
		if got != c.want {
			t.Errorf("parseDecimal(%q, %d) = %s, want %s", c.in, c.scale, got, c.want)
		}
	}
}

// TestParseDecimalAgainstBig compares with math/big over many shapes.
func TestParseDecimalAgainstBig(t *testing.T) {
	ints := []string{"0", "1", "9", "10", "12345", "999999999999999999", "1000000000000000000", "18446744073709551615", "123456789012345678901234567890"}
	fracs := []string{"", ".0", ".5", ".05", ".1234", ".10", ".0001", ".99999999"}
	for _, i := range ints {
		for _, f := range fracs {
			for _, sign := range []string{"", "-"} {
				in := sign + i + f
				for _, scale := range []int32{0, 2, 4, 8} {
					v, _, err := parseDecimal([]byte(in), scale, nil)
					r, _ := new(big.Rat).SetString(in)
					r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
					switch {
					case !r.IsInt():
						if !errors.Is(err, errTooPrecise) {
							t.Errorf("%s at scale %d: %v, want too precise", in, scale, err)
						}
					case len(r.Num().String()) > 38+len(sign):
						if !errors.Is(err, errTooLarge) {
							t.Errorf("%s at scale %d: %v, want too large", in, scale, err)
						}
					case err != nil:
						t.Errorf("%s at scale %d: %v", in, scale, err)
					case v.BigInt().Cmp(r.Num()) != 0:
						t.Errorf("%s at scale %d = %s, want %s", in, scale, v.BigInt(), r.Num())
					}
				}
			}
		}
	}
}

func TestParseInt(t *testing.T) {
	for in, want := range map[string]any{
		"0": int64(0), "-1": int64(-1), "42": int64(42),
		"9223372036854775807": int64(9223372036854775807), "-9223372036854775808": int64(-9223372036854775808),
		"9223372036854775808": false, "-9223372036854775809": false, "99999999999999999999": false,
		"3.0": int64(3), "1e3": int64(1000), "1.5": false, "-2E0": int64(-2),
	} {
		v, ok := parseInt([]byte(in))
		var got any = v
		if !ok {
			got = false
		}
		if got != want {
			t.Errorf("parseInt(%s) = %v, want %v", in, got, want)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // RFC 3339 in UTC with µs, or "error"
	}{
		{"2024-05-01T10:20:30Z", "2024-05-01T10:20:30.000000Z"},
		{"2024-05-01T10:20:30.123Z", "2024-05-01T10:20:30.123000Z"},
		{"2024-05-01T10:20:30.123456Z", "2024-05-01T10:20:30.123456Z"},
		{"2024-05-01T10:20:30.123456000Z", "2024-05-01T10:20:30.123456Z"},
		{"2024-05-01T10:20:30.1234567Z", "error"},
		{"2024-05-01t10:20:30z", "2024-05-01T10:20:30.000000Z"},
		{"2024-05-01 10:20:30Z", "2024-05-01T10:20:30.000000Z"},
		{"2024-05-01T07:20:30-03:00", "2024-05-01T10:20:30.000000Z"},
		{"2024-05-01T00:20:30+05:30", "2024-04-30T18:50:30.000000Z"},
		{"2024-12-31T23:59:59.999999-01:00", "2025-01-01T00:59:59.999999Z"},
		{"1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.500000Z"},
		{"0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"},
		{"9999-12-31T23:59:59Z", "9999-12-31T23:59:59.000000Z"},
		{"2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000000Z"},
		{"2023-02-29T00:00:00Z", "error"},
		{"2024-05-01T10:20:30", "error"}, // no zone
		{"2024-05-01T10:20Z", "error"},   // no seconds
		{"2024-05-01", "error"},
		{"2024-05-01T24:00:00Z", "error"},
		{"2024-05-01T10:20:30.Z", "error"},
		{"2024-05-01T10:20:30+0300", "error"},
		{"2024-05-01T10:20:30Zjunk", "error"},
	} {
		us, err := parseTimestamp([]byte(c.in))
		got := "error"
		if err == nil {
			got = time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.000000Z")
		}
		if got != c.want {
			t.Errorf("parseTimestamp(%q) = %s (%v), want %s", c.in, got, err, c.want)
		}
		// Every accepted value agrees with the standard library.
		if err == nil && c.in[10] == 'T' && c.in[len(c.in)-1] != 'z' {
			ref, perr := time.Parse(time.RFC3339Nano, c.in)
			if perr != nil || ref.UnixMicro() != us {
				t.Errorf("%q: time.Parse says %v %v", c.in, ref, perr)
			}
		}
	}
}

func TestParseLenient(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"2024-05-01T10:20:30.123Z", "2024-05-01T10:20:30.123000Z"},
		{"2024-05-01T10:20:30.123456789Z", "2024-05-01T10:20:30.123456Z"}, // truncated; the string is kept
		{"2024-05-01T07:20:30-03:00", "2024-05-01T10:20:30.000000Z"},
		{"2024-05-01T10:20:30", "2024-05-01T10:20:30.000000Z"},
		{"2024-05-01T10:20:30.5", "2024-05-01T10:20:30.500000Z"},
		{"2024-05-01 10:20:30", "2024-05-01T10:20:30.000000Z"},
		{"2024-05-01T10:20", "2024-05-01T10:20:00.000000Z"},
		{"2024-05-01", "2024-05-01T00:00:00.000000Z"},
		{"2024-05", "2024-05-01T00:00:00.000000Z"},
		{"05-2024", "2024-05-01T00:00:00.000000Z"},
		{"05/2024", "2024-05-01T00:00:00.000000Z"},
		{"2024-13", ""},
		{"13-2024", ""},
		{"2024-02-30", ""},
		{"01/05/2024", ""},
		{"", ""},
		{"soon", ""},
		{"2024-05-01T", ""},
		{"2024-05-01Txx:yy", ""},
	} {
		us, ok := parseLenient([]byte(c.in))
		got := ""
		if ok {
			got = time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.000000Z")
		}
		if got != c.want {
			t.Errorf("parseLenient(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseDate(t *testing.T) {
	for in, want := range map[string]int32{"1970-01-01": 0, "1970-01-02": 1, "1969-12-31": -1, "2024-02-29": 19782, "2000-03-01": 11017} {
		d, err := parseDate([]byte(in))
		if err != nil || d != want {
			t.Errorf("parseDate(%s) = %d %v, want %d", in, d, err, want)
		}
	}
	for _, in := range []string{"2024-02-30", "2024-5-1", "2024-05-01T00:00:00Z", "20240501"} {
		if _, err := parseDate([]byte(in)); err == nil {
			t.Errorf("parseDate(%s) succeeded", in)
		}
	}
}

func TestFitsInt64(t *testing.T) {
	if !fitsInt64(decimal128.FromI64(-1)) || !fitsInt64(decimal128.FromI64(1<<62)) || fitsInt64(decimal128.FromU64(1<<63)) {
		t.Error("fitsInt64")
	}
}

package source

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// decodedConfig stands for a provider's Config: int fields as the
// providers have them (plain and pointer), and types no spec field has
// yet, for the range checks a field without a maximum would need.
type decodedConfig struct {
	Timeout  int      `json:"http_timeout_seconds"`
	Lookback *int     `json:"lookback_days"`
	Small    int8     `json:"small"`
	Count    uint     `json:"count"`
	Poll     float64  `json:"poll_seconds"`
	Name     string   `json:"name"`
	IDs      []string `json:"ids"`
}

// TestDecodeConfigTakesWholeNumbersAsIntegers: a whole number the schema
// takes as an integer (60.0, 1e2) decodes into an int field as that
// integer, where encoding/json refused it ("cannot unmarshal number 60.0
// into Go struct field"), and the rest of the config is as written.
func TestDecodeConfigTakesWholeNumbersAsIntegers(t *testing.T) {
	for _, tc := range []struct {
		timeout, lookback  string
		want, wantLookback int
	}{
		{"60", "7", 60, 7},
		{"60.0", "5.0", 60, 5},
		{"1e2", "7E0", 100, 7},
		{"6.0E1", "0.5e1", 60, 5},
		{"1E+2", "700e-2", 100, 7},
		{"600.000", "-0.0", 600, 0},
		{"0.6e3", "0e-400", 600, 0},
	} {
		raw := fmt.Sprintf(`{ "http_timeout_seconds" : %s , "lookback_days":%s,"small":1.27e2,"count":4.0,"poll_seconds":2.5,"name":"60.0","ids":["1e2"]}`, tc.timeout, tc.lookback)
		var c decodedConfig
		if err := DecodeConfig([]byte(raw), &c); err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if c.Timeout != tc.want || c.Lookback == nil || *c.Lookback != tc.wantLookback {
			t.Errorf("%s: decoded timeout %d, lookback %v; want %d, %d", raw, c.Timeout, c.Lookback, tc.want, tc.wantLookback)
		}
		if c.Small != 127 || c.Count != 4 || c.Poll != 2.5 || c.Name != "60.0" || len(c.IDs) != 1 || c.IDs[0] != "1e2" {
			t.Errorf("%s: the other fields decoded as %+v", raw, c)
		}
	}
}

// TestDecodeConfigNamesTheFieldItCannotHold: a value the Go field cannot
// hold is a config_error naming config.<field> and what to give, never a
// number wrapped around nor json's words about Go struct fields.
func TestDecodeConfigNamesTheFieldItCannotHold(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want []string
	}{
		{`{"http_timeout_seconds":60.5}`, []string{"config.http_timeout_seconds: 60.5 is not a whole number; give one from -9223372036854775808 to 9223372036854775807"}},
		{`{"lookback_days":1e-1}`, []string{"config.lookback_days: 1e-1 is not a whole number"}},
		{`{"http_timeout_seconds":1e30}`, []string{"config.http_timeout_seconds: 1e30 is out of range; give a whole number from -9223372036854775808 to 9223372036854775807"}},
		{`{"http_timeout_seconds":9223372036854775808.0}`, []string{"config.http_timeout_seconds: 9223372036854775808 is out of range"}},
		{`{"http_timeout_seconds":1e99999999999999999999}`, []string{"config.http_timeout_seconds: 1e99999999999999999999 is out of range"}},
		{`{"small":128.0}`, []string{"config.small: 128 is out of range; give a whole number from -128 to 127"}},
		{`{"count":-1.0}`, []string{"config.count: -1 is out of range; give a whole number from 0 to 18446744073709551615"}},
		{`{"poll_seconds":1e400}`, []string{"config.poll_seconds: 1e400 is out of range; give a smaller number"}},
		{`{"name":12345}`, []string{"config.name: a JSON number, where text in double quotes is wanted"}},
		{`{"http_timeout_seconds":"60"}`, []string{"config.http_timeout_seconds: a JSON string, where a whole number is wanted"}},
	} {
		var c decodedConfig
		err := DecodeConfig([]byte(tc.raw), &c)
		msg := userMessage(err)
		var se *Error
		if !errors.As(err, &se) || se.Type != protocol.ConfigError || !strings.HasPrefix(msg, ConfigValidationPrefix) {
			t.Errorf("%s: %v, want a config_error", tc.raw, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q, want it to say %q", tc.raw, msg, w)
			}
		}
		if strings.Contains(msg, "Go struct") || strings.Contains(msg, "12345") {
			t.Errorf("%s: %q speaks of Go or quotes a value of the wrong type", tc.raw, msg)
		}
	}
}

// TestWholeLiteralAgreesWithBigRat: wholeLiteral calls a number whole
// exactly when its value is an integer (as the schema validator judges
// it, with big.Rat), and writes that integer.
func TestWholeLiteralAgreesWithBigRat(t *testing.T) {
	var cases []string
	for _, m := range []string{"0", "1", "60", "6.0", "60.5", "0.25", "100", "1.000", "12.34", "0.0", "9223372036854775807", "18446744073709551616.0"} {
		for _, e := range []string{"", "e0", "E1", "e+2", "e-1", "e-2", "E-3", "e19", "e20", "e-20"} {
			cases = append(cases, m+e, "-"+m+e)
		}
	}
	for _, n := range cases {
		r, ok := new(big.Rat).SetString(n)
		if !ok {
			t.Fatalf("big.Rat cannot read %s", n)
		}
		lit, whole := wholeLiteral(n)
		if whole != r.IsInt() {
			t.Errorf("%s: whole %v, big.Rat says %v", n, whole, r.IsInt())
			continue
		}
		if !whole {
			continue
		}
		s := r.Num().String()
		if len(strings.TrimPrefix(s, "-")) > maxWholeDigits {
			if lit != "" {
				t.Errorf("%s: %q, want none (over %d digits)", n, lit, maxWholeDigits)
			}
			continue
		}
		if lit != s {
			t.Errorf("%s: %q, want %q", n, lit, s)
		}
	}
}

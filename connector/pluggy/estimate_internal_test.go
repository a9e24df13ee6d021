package pluggy

import (
	"encoding/json"
	"testing"
)

// TestPageTotal: a page's total is a row count only as a whole JSON
// number from 0 up (12.0 and 1e3 included); absent, null, a string, a
// negative number, a fraction, a boolean, an object or a number past
// 2^53 written as a float is none, and never an error.
func TestPageTotal(t *testing.T) {
	for _, c := range []struct {
		raw  string
		n    int64
		isOK bool
	}{
		{"", 0, false}, {"null", 0, false}, {`"12"`, 0, false}, {"-1", 0, false}, {"-0.5", 0, false},
		{"1.5", 0, false}, {"true", 0, false}, {"{}", 0, false}, {"[3]", 0, false}, {"1e300", 0, false},
		{"0", 0, true}, {"12", 12, true}, {" 12 ", 12, true}, {"12.0", 12, true}, {"1e3", 1000, true},
		{"9223372036854775807", 9223372036854775807, true},
	} {
		n, ok := pageTotal(json.RawMessage(c.raw))
		if n != c.n || ok != c.isOK {
			t.Errorf("pageTotal(%q) = %d, %v; want %d, %v", c.raw, n, ok, c.n, c.isOK)
		}
	}
}

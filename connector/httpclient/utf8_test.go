package httpclient

import (
	"bytes"
	"slices"
	"testing"
	"unicode/utf8"
)

// TestToValidUTF8 repairs bodies as bytes.ToValidUTF8 does and says where
// each U+FFFD it put in starts, leaving out the ones the body already had.
func TestToValidUTF8(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
	}{
		{"caf\xe9", []int{3}},
		{"\xff\xfe x \xc3(", []int{0, 6}},
		{"sent \uFFFD as is, then \xe9", []int{21}},
		{"cut \xe2\x82", []int{4}},
		{"\xed\xa0\x80 surrogate", []int{0}},
	} {
		got, at := toValidUTF8([]byte(tc.in))
		if want := bytes.ToValidUTF8([]byte(tc.in), []byte("\uFFFD")); !bytes.Equal(got, want) {
			t.Errorf("%q: repaired %q, want %q", tc.in, got, want)
		}
		if !slices.Equal(at, tc.want) {
			t.Errorf("%q: replaced at %v, want %v", tc.in, at, tc.want)
		}
	}
}

func FuzzToValidUTF8(f *testing.F) {
	f.Add([]byte("caf\xe9 \xff\xfe \xc3( \uFFFD"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, at := toValidUTF8(b)
		if want := bytes.ToValidUTF8(b, []byte("\uFFFD")); !bytes.Equal(got, want) {
			t.Fatalf("%q: repaired %q, want %q", b, got, want)
		}
		if !utf8.Valid(got) {
			t.Fatalf("%q: repaired text is not valid UTF-8", b)
		}
		genuine := bytes.Count(b, []byte("\uFFFD"))
		if bytes.Count(got, []byte("\uFFFD")) != genuine+len(at) {
			t.Fatalf("%q: %d U+FFFD sent, %d put in, %d in all", b, genuine, len(at), bytes.Count(got, []byte("\uFFFD")))
		}
		for _, i := range at {
			if !bytes.HasPrefix(got[i:], []byte("\uFFFD")) {
				t.Fatalf("%q: offset %d is not a U+FFFD", b, i)
			}
		}
	})
}

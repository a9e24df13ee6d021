package jsonrow

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestStringPaths(t *testing.T) {
	// @ stands for U+FFFD as bytes (a JSON \ufffd escape is not what the
	// client puts in).
	raw := []byte(strings.ReplaceAll(`{"id":"a","description":"caf@","n":1,"paymentData":{"receiver":{"name":"x@y","doc":"ok"}},`+
		`"remittance":["ok",null,"@",{"k@":1}],"esc":"\"@\\","description2":"caf@","escaped":"\ufffd"}`, "@", "\uFFFD"))
	has := func(lit []byte) bool { return bytes.Contains(lit, []byte("\uFFFD")) }
	got, err := StringPaths(raw, has)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"description", "paymentData.receiver.name", "remittance[2]", "remittance[3].k\uFFFD", "esc", "description2"}
	if !slices.Equal(got, want) {
		t.Errorf("paths %q, want %q", got, want)
	}
	only := func(lit []byte) bool { return string(lit) == `"x`+"\uFFFD"+`y"` }
	if got, _ := StringPaths(raw, only); !slices.Equal(got, []string{"paymentData.receiver.name"}) {
		t.Errorf("paths %q for one literal", got)
	}
	if _, err := StringPaths([]byte(`{"a":[1,`), has); err == nil {
		t.Error("no error for cut-off JSON")
	}
}

func TestChangeAppendTo(t *testing.T) {
	c := Change{Field: `a."b"`, Change: ChangeReplaced, Reason: ReasonInvalidUTF8}
	if got := string(c.AppendTo(nil)); got != `{"field":"a.\"b\"","change":"REPLACED","reason":"SOURCE_INVALID_UTF8"}` {
		t.Errorf("got %s", got)
	}
}

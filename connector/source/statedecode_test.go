package source

import (
	"strings"
	"testing"
)

func TestDecodeState(t *testing.T) {
	var st struct {
		Version int            `json:"version"`
		Cursors map[string]int `json:"cursors"`
	}
	if ok, err := DecodeState("x", nil, 1, &st); ok || err != nil {
		t.Fatalf("empty: %v %v", ok, err)
	}
	if ok, err := DecodeState("x", []byte(`{"version":1,"cursors":{"a":2}}`), 1, &st); !ok || err != nil || st.Cursors["a"] != 2 {
		t.Fatalf("good: %v %v %+v", ok, err, st)
	}
	for raw, mention := range map[string]string{
		`{"version":2}`:             "version 2 is not one this connector reads (it writes version 1)",
		`{"cursors":{"a":2}}`:       "version 0",
		`{"version":1,"cursors":3}`: "x state: json",
	} {
		if _, err := DecodeState("x", []byte(raw), 1, &st); err == nil || !strings.Contains(err.Error(), mention) {
			t.Errorf("%s: %v; want an error mentioning %q", raw, err, mention)
		}
	}
}

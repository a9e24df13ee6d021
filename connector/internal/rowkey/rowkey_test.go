package rowkey

import (
	"slices"
	"testing"
)

func TestContentIgnoresOrderAndSpacing(t *testing.T) {
	a := Content([]byte(`{"b": 1.10, "a": {"y": "x", "x": null}}`))
	b := Content([]byte(`{"a":{"x":null,"y":"x"},"b":1.10}`))
	if a != b {
		t.Fatalf("%s != %s", a, b)
	}
	if c := Content([]byte(`{"a":{"x":null,"y":"x"},"b":1.1}`)); c == a {
		t.Fatal("1.10 and 1.1 hash alike: digits must be kept as sent")
	}
}

func TestDisambiguate(t *testing.T) {
	got := Disambiguate([]string{"a", "b", "a", "a"})
	if want := []string{"a", "b", "a#2", "a#3"}; !slices.Equal(got, want) {
		t.Fatalf("%v", got)
	}
}

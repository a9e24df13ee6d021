package source

import (
	"reflect"
	"testing"
)

func TestSplitListField(t *testing.T) {
	cfg := map[string]any{"ids": "a, b;c\nd", "empty": " ", "list": []any{"x"}, "n": 3}
	for _, k := range []string{"ids", "empty", "list", "n", "absent"} {
		SplitListField(cfg, k)
	}
	want := map[string]any{"ids": []any{"a", "b", "c", "d"}, "empty": []any{}, "list": []any{"x"}, "n": 3}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("cfg = %#v", cfg)
	}
}

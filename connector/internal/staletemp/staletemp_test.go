package staletemp

import "testing"

// TestMatches: a name matches a pattern only with the digits
// os.CreateTemp puts in place of its last "*" (or after it, without one).
func TestMatches(t *testing.T) {
	for _, c := range []struct {
		name, pattern string
		want          bool
	}{
		{".config.json.tmp-2718281828", ".config.json.tmp-", true},
		{".config.json.tmp-", ".config.json.tmp-", false},
		{".config.json.tmp-backup", ".config.json.tmp-", false},
		{".config.json.tmp-12.bak", ".config.json.tmp-", false},
		{".state.json.42.tmp", ".state.json.*.tmp", true},
		{".state.json..tmp", ".state.json.*.tmp", false},
		{".state.json.4x2.tmp", ".state.json.*.tmp", false},
		{".state.json.42.tmp.bak", ".state.json.*.tmp", false},
		{"state.json.42.tmp", ".state.json.*.tmp", false},
		{".a*b.json.7.tmp", ".a*b.json.*.tmp", true}, // the last "*" is CreateTemp's
		{".tmp", ".*.tmp", false},
	} {
		if got := Matches(c.name, c.pattern); got != c.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", c.name, c.pattern, got, c.want)
		}
	}
}

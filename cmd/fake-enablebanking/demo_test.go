package main

import (
	"strings"
	"testing"

	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestDemo runs `fake-enablebanking demo` (source-enablebanking's runtime) as a user would: no
// credentials, three reads against the embedded fake, every check ok.
func TestDemo(t *testing.T) {
	bin := st.Build(t, "fake-enablebanking")
	out := st.RunPlain(t, bin, "demo", "--out", t.TempDir(), "--sessions", "1", "--transactions", "20")
	if strings.Contains(out, "MISSING") || strings.Count(out, "  ok") != 2 {
		t.Fatalf("demo output:\n%s", out)
	}
	for _, want := range []string{"1. First sync", "2. Next sync", "3. A day later", "WARN", "daily limit"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

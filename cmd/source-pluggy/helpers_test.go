package main

import (
	"testing"

	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// runPlain runs a human-facing command (demo) and returns its stdout.
func runPlain(t *testing.T, bin string, args ...string) string {
	t.Helper()
	return st.RunPlain(t, bin, args...)
}

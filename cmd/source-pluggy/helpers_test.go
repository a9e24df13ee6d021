package main

import (
	"os/exec"
	"testing"
)

// runPlain runs a human-facing command (demo) and returns its stdout.
func runPlain(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return string(out)
}

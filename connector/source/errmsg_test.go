package source

import (
	"errors"
	"fmt"
	"testing"
)

func TestUserMessageNamesEveryJoinedPart(t *testing.T) {
	err := errors.Join(
		fmt.Errorf("wrapped: %w", ConfigErrorf("requisition A expired; re-link it")),
		errors.New("plain failure"),
		TransientErrorf("bank of B unavailable"),
	)
	want := "requisition A expired; re-link it; plain failure; bank of B unavailable"
	if got := userMessage(err); got != want {
		t.Fatalf("userMessage = %q, want %q", got, want)
	}
	if got := userMessage(AsConfigError(errors.New("cause"), "fix it")); got != "fix it: cause" {
		t.Fatalf("userMessage = %q", got)
	}
}

package source

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// A panic in one part fails that part only: the others still run, and the
// panic comes back as a system_error instead of killing the process.
func TestEachTurnsAPanicIntoThatPartsError(t *testing.T) {
	var ran atomic.Int32
	err := Each(context.Background(), 2, 5, func(_ context.Context, i int) error {
		ran.Add(1)
		if i == 2 {
			var m map[string]int
			m["boom"]++ //nolint:staticcheck // a nil map write: the panic is what this test needs
		}
		return nil
	})
	if ran.Load() != 5 {
		t.Fatalf("%d parts ran, want 5", ran.Load())
	}
	if err == nil || FailureTypeOf(err) != protocol.SystemError || !strings.Contains(userMessage(err), "internal error") || !strings.Contains(err.Error(), "parallel_test.go") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(userMessage(err), "goroutine") {
		t.Fatalf("the user message carries the stack: %s", userMessage(err))
	}
}

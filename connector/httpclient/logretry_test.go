package httpclient

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLogRetries(t *testing.T) {
	var got string
	hook := LogRetries(func(_ context.Context, msg string) { got = msg })
	hook(context.Background(), &Request{Route: "GET /x"}, 2, 1234567*time.Microsecond, errors.New("boom"))
	if got != "retry 2 of GET /x in 1.235s: boom" {
		t.Fatalf("logged %q", got)
	}
}

package sourcetest

import (
	"log/slog"
	"sync"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
)

// Counter is a stream output (source.Output) for reading a stream
// in-process: it counts the records and drops the rest.
type Counter struct {
	mu sync.Mutex
	n  int
}

// Record counts the record.
func (c *Counter) Record(jsonrow.Row) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return nil
}

// Checkpoint drops the state.
func (c *Counter) Checkpoint(any) error { return nil }

// Announce drops the state.
func (c *Counter) Announce(any) error { return nil }

// Logger discards.
func (c *Counter) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Records is how many records the stream emitted.
func (c *Counter) Records() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

package source

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// Each runs fn(ctx, i) for every i in [0, n), at most limit at a time. It does
// not stop at the first error: one failing account must not cost the others
// their data, so every part runs and the errors come back joined. It stops
// starting new parts once ctx is done.
func Each(ctx context.Context, limit, n int, fn func(ctx context.Context, i int) error) error {
	if limit < 1 {
		limit = 1
	}
	if limit > n {
		limit = n
	}
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range limit {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = call(ctx, i, fn)
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			errs[i] = ctx.Err() // once, not once per part never started
			break feed
		}
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// call runs fn(ctx, i) and turns a panic into that part's error. A panic in
// a worker goroutine is out of reach of the runner's recover: it would kill
// the process, print its message unredacted on stderr and cost the other
// parts their data. As an error it fails only its part, and its text reaches
// the ERROR trace through the redacting writer, the stack in internal_message.
func call(ctx context.Context, i int, fn func(ctx context.Context, i int) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &Error{Type: protocol.SystemError, Quoted: true, Msg: fmt.Sprintf("internal error (a bug in the connector): %v", p), Err: errors.New(string(debug.Stack()))}
		}
	}()
	return fn(ctx, i)
}

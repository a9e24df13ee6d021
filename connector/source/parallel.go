package source

import (
	"context"
	"errors"
	"sync"
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
				errs[i] = fn(ctx, i)
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

package quota

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// EachPart is Each for a snapshot whose records name their account, by
// its StateKey, in field, which a sink can then replace account by
// account. With partial true (the caller's account list is whole, and no
// other snapshot it goes with is kept whole on the same failures), a read
// that failed for some accounts only, every row written and ctx not done,
// returns a *source.PartialSnapshot naming every account not known whole:
// those whose read did not return nil (its call failed, was skipped for
// quota, or it panicked part-way through its rows), whose previous rows a
// sink keeps while it replaces the others'. read writes its rows to the
// Output it is given, which notes a row that could not be written: no
// account is known whole after one, and the error is Each's.
func EachPart[A Account](ctx context.Context, accounts []A, limit int, out source.Output, field string, partial bool,
	read func(ctx context.Context, a A, out source.Output) error) error {
	var mu sync.Mutex
	whole := map[string]bool{} // accounts whose every row was written
	w := &notingOutput{Output: out}
	err := Each(ctx, accounts, limit, func(ctx context.Context, a A) error {
		if err := read(ctx, a, w); err != nil {
			return err
		}
		mu.Lock()
		whole[a.StateKey()] = true
		mu.Unlock()
		return nil
	})
	if err == nil || !partial || w.failed.Load() || ctx.Err() != nil {
		return err
	}
	var missing []string
	for _, a := range accounts {
		if k := a.StateKey(); !whole[k] && !slices.Contains(missing, k) {
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	return &source.PartialSnapshot{Field: field, Missing: missing, Err: err}
}

// notingOutput is an Output that notes a record it could not write: one
// refused, or one whose sink panicked (source.Each's recover ends the
// account), which may hold part of the row.
type notingOutput struct {
	source.Output
	failed atomic.Bool
}

func (o *notingOutput) Record(row jsonrow.Row) error {
	written := false
	defer func() {
		if !written {
			o.failed.Store(true)
		}
	}()
	err := o.Output.Record(row)
	written = err == nil
	return err
}

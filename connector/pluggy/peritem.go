package pluggy

import (
	"context"
	"errors"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// eachItem runs fn for every configured item, in config order, once the item
// itself has been fetched (and, with trigger_item_update, refreshed): an
// unknown item fails the same way in every stream, before its products are
// asked for. fn emits through emit. A failing item is reported in the joined
// error after the others have been read; a failing Output (stdout gone)
// stops the stream at once.
func (c *conn) eachItem(ctx context.Context, out source.Output, fn func(ctx context.Context, itemID string, emit func(jsonrow.Row) error) error) error {
	emit := func(row jsonrow.Row) error {
		if err := out.Record(row); err != nil {
			return outputError{err}
		}
		return nil
	}
	var errs []error
	for _, id := range c.cfg.ItemIDs {
		if ctx.Err() != nil {
			return errors.Join(append(errs, ctx.Err())...)
		}
		if _, err := c.item(ctx, id); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := fn(ctx, id, emit); err != nil {
			var oe outputError
			if errors.As(err, &oe) {
				return oe.err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// outputError is an Output failure seen through an API loop's callback: it
// ends the stream rather than being collected like an API error.
type outputError struct{ err error }

func (e outputError) Error() string { return e.err.Error() }
func (e outputError) Unwrap() error { return e.err }

func isOutputError(err error) bool {
	var oe outputError
	return errors.As(err, &oe)
}

package pluggy

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/source-pluggy/source-pluggy/connector/source"
)

// itemsStream emits each configured item as GET /items/{id} serves it: the
// connection's status, executionStatus, error and statusDetail let a
// warehouse alert on broken bank connections. Full refresh only: there is
// nothing to list items by, and there are few.
type itemsStream struct{ c *conn }

func (s *itemsStream) Name() string            { return "items" }
func (s *itemsStream) Schema() json.RawMessage { return loadSchema("items") }
func (s *itemsStream) PrimaryKey() [][]string  { return [][]string{{"id"}} }
func (s *itemsStream) CursorField() []string   { return nil }

func (s *itemsStream) Read(ctx context.Context, _ source.ReadRequest, out source.Output) error {
	var errs []error
	for _, id := range s.c.cfg.ItemIDs {
		raw, err := s.c.item(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := out.Record(raw); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

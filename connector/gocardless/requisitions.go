package gocardless

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// requisitionsStream emits each configured requisition as GET
// /requisitions/{id}/ serves it. Its status is what a warehouse alerts on:
// a requisition that is not LN is still emitted (with a WARN), since
// reporting a broken bank link is this stream's job; the streams that need
// its accounts fail with the re-link message instead. Full refresh only:
// there are few, and nothing to list them by.
type requisitionsStream struct{ c *conn }

func (s *requisitionsStream) Name() string            { return "requisitions" }
func (s *requisitionsStream) Schema() json.RawMessage { return loadSchema("requisitions") }
func (s *requisitionsStream) PrimaryKey() [][]string  { return [][]string{{"id"}} }
func (s *requisitionsStream) CursorField() []string   { return nil }

func (s *requisitionsStream) Read(ctx context.Context, _ source.ReadRequest, out source.Output) error {
	var errs []error
	for _, id := range s.c.cfg.RequisitionIDs {
		r, err := s.c.requisition(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.c.usable(ctx, r); err != nil {
			out.Logger().Warn("the requisition's accounts cannot be read", "requisition", id, "error", err)
		}
		if err := out.Record(jsonrow.Of(r.raw)); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

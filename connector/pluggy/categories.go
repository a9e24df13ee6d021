package pluggy

import (
	"context"
	"encoding/json"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// categoriesStream emits Pluggy's category tree (GET /categories), which
// transactions reference by categoryId. Served as a page envelope or, as the
// spec documents it, a bare array: both are read.
type categoriesStream struct{ c *conn }

func (s *categoriesStream) Name() string            { return "categories" }
func (s *categoriesStream) Schema() json.RawMessage { return loadSchema("categories") }
func (s *categoriesStream) PrimaryKey() [][]string  { return [][]string{{"id"}} }
func (s *categoriesStream) CursorField() []string   { return nil }

func (s *categoriesStream) Read(ctx context.Context, _ source.ReadRequest, out source.Output) error {
	// Served as the bare array the spec documents, the list has no total:
	// no estimate, and nothing wrong to log.
	return s.c.client.eachPageTotal(ctx, "GET /categories", "/categories", nil, 0, func(total json.RawMessage) {
		if total != nil {
			s.c.estimates.add(ctx, out.Logger(), "GET /categories", total)
		}
	}, func(raw json.RawMessage) error {
		return out.Record(jsonrow.Of(raw))
	})
}

package pluggy

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// accountsStream emits every account of every configured item (GET
// /accounts?itemId=, one page). Balances change in place, so it is a full
// refresh: the whole table is a few rows per item.
type accountsStream struct{ c *conn }

func (s *accountsStream) Name() string            { return "accounts" }
func (s *accountsStream) Schema() json.RawMessage { return loadSchema("accounts") }
func (s *accountsStream) PrimaryKey() [][]string  { return [][]string{{"id"}} }
func (s *accountsStream) CursorField() []string   { return nil }

func (s *accountsStream) Read(ctx context.Context, _ source.ReadRequest, out source.Output) error {
	var errs []error
	for _, id := range s.c.cfg.ItemIDs {
		accts, err := s.c.itemAccountList(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.c.estimates.add(ctx, out.Logger(), "GET /accounts", accts.total)
		for _, raw := range accts.rows {
			if err := out.Record(jsonrow.With(raw, jsonrow.String("itemId", id))); err != nil {
				return err
			}
		}
	}
	return errors.Join(errs...)
}

package pluggy

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// investmentsStream emits every item's investments (GET /investments?itemId=,
// paged by 500). Full refresh: balances, quantities and rates change in
// place, and there is no updatedAt to follow. The list is cached for the
// run, so investment_transactions reuses it instead of asking again.
type investmentsStream struct{ c *conn }

func (s *investmentsStream) Name() string            { return "investments" }
func (s *investmentsStream) Schema() json.RawMessage { return loadSchema("investments") }
func (s *investmentsStream) PrimaryKey() [][]string  { return [][]string{{"id"}} }
func (s *investmentsStream) CursorField() []string   { return nil }

func (s *investmentsStream) Read(ctx context.Context, _ source.ReadRequest, out source.Output) error {
	return s.c.eachItem(ctx, out, func(ctx context.Context, itemID string, emit func(jsonrow.Row) error) error {
		invs, err := s.c.itemInvestments(ctx, itemID)
		if err != nil {
			return err
		}
		for _, raw := range invs {
			if err := emit(jsonrow.With(raw, jsonrow.String("itemId", itemID))); err != nil {
				return err
			}
		}
		return nil
	})
}

// investmentPageSize is the documented maximum of the investment endpoints.
const investmentPageSize = 500

// itemInvestments fetches an item's investments once per run.
func (c *conn) itemInvestments(ctx context.Context, itemID string) ([]json.RawMessage, error) {
	return c.investments.Get(itemID, func() ([]json.RawMessage, error) {
		var out []json.RawMessage
		q := url.Values{"itemId": {itemID}}
		err := c.client.eachPage(ctx, "GET /investments", "/investments", q, investmentPageSize, func(r json.RawMessage) error {
			out = append(out, r)
			return nil
		})
		if err != nil {
			return nil, itemError(itemID, "investments", err)
		}
		return out, nil
	})
}

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
		invs, err := s.c.itemInvestmentList(ctx, itemID)
		if err != nil {
			return err
		}
		s.c.estimates.add(ctx, out.Logger(), "GET /investments", invs.total)
		for _, raw := range invs.rows {
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
	l, err := c.itemInvestmentList(ctx, itemID)
	return l.rows, err
}

// itemInvestmentList is itemInvestments with the total the list announced.
func (c *conn) itemInvestmentList(ctx context.Context, itemID string) (pageList, error) {
	return c.investments.Get(itemID, func() (pageList, error) {
		q := url.Values{"itemId": {itemID}}
		l, err := c.client.fetchList(ctx, "GET /investments", "/investments", q, investmentPageSize)
		if err != nil {
			return pageList{}, itemError(itemID, "investments", err)
		}
		return l, nil
	})
}

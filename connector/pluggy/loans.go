package pluggy

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// loansStream emits every item's loans and financings (GET /loans?itemId=,
// one page per item). Full refresh: balances and installments change in
// place, and an item has a handful.
//
// Enum-like fields (installmentPeriodicity, interestRates[].taxType,
// contractedFees[].chargeType, ...) arrive in Portuguese at times (MES,
// EFETIVA, UNICA) instead of the spec's English values: they are strings in
// the schema and pass through untouched.
type loansStream struct{ c *conn }

func (s *loansStream) Name() string            { return "loans" }
func (s *loansStream) Schema() json.RawMessage { return loadSchema("loans") }
func (s *loansStream) PrimaryKey() [][]string  { return [][]string{{"id"}} }
func (s *loansStream) CursorField() []string   { return nil }

func (s *loansStream) Read(ctx context.Context, _ source.ReadRequest, out source.Output) error {
	return s.c.eachItem(ctx, out, func(ctx context.Context, itemID string, emit func(jsonrow.Row) error) error {
		q := url.Values{"itemId": {itemID}}
		err := s.c.client.eachPageTotal(ctx, "GET /loans", "/loans", q, 0, func(total json.RawMessage) {
			s.c.estimates.add(ctx, out.Logger(), "GET /loans", total)
		}, func(r json.RawMessage) error {
			return emit(jsonrow.With(r, jsonrow.String("itemId", itemID)))
		})
		if err != nil && !isOutputError(err) {
			return itemError(itemID, "loans", err)
		}
		return err
	})
}

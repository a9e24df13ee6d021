package pluggy

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// creditCardBillsStream emits the bills (statements) of every credit-card
// account: GET /bills?accountId= for each CREDIT account of each item, one
// page. Accounts come from the per-run cache the accounts and transactions
// streams share, so the stream costs one call per card.
//
// Full refresh only. The endpoint has no filter, so an incremental mode
// could only drop rows after fetching them all: it would save no calls, and
// a client-side updatedAt cursor would lose a bill whose payments Pluggy
// amends without bumping updatedAt (undocumented either way). A card keeps
// about a dozen bills a year, so re-emitting them costs nothing.
//
// Pluggy sends accountId although its spec omits it; the connector adds it
// when missing, so every bill joins to its account.
type creditCardBillsStream struct{ c *conn }

func (s *creditCardBillsStream) Name() string            { return "credit_card_bills" }
func (s *creditCardBillsStream) Schema() json.RawMessage { return loadSchema("credit_card_bills") }
func (s *creditCardBillsStream) PrimaryKey() [][]string  { return [][]string{{"id"}} }
func (s *creditCardBillsStream) CursorField() []string   { return nil }

func (s *creditCardBillsStream) Read(ctx context.Context, _ source.ReadRequest, out source.Output) error {
	return s.c.eachItem(ctx, out, func(ctx context.Context, itemID string, emit func(jsonrow.Row) error) error {
		accts, err := s.c.itemAccounts(ctx, itemID)
		if err != nil {
			return err
		}
		var errs []error
		for _, raw := range accts {
			var a account
			if err := json.Unmarshal(raw, &a); err != nil || a.ID == "" {
				errs = append(errs, source.SystemErrorf("item %s: an account without an id", itemID))
				continue
			}
			if a.Type != "CREDIT" {
				continue
			}
			q := url.Values{"accountId": {a.ID}}
			err := s.c.client.eachPageTotal(ctx, "GET /bills", "/bills", q, 0, func(total json.RawMessage) {
				s.c.estimates.add(ctx, out.Logger(), "GET /bills", total)
			}, func(r json.RawMessage) error {
				return emit(jsonrow.With(r, jsonrow.String("accountId", a.ID)))
			})
			if isOutputError(err) {
				return err
			}
			if err != nil {
				errs = append(errs, within("bills of account "+a.ID+" of item "+itemID, err))
			}
		}
		return errors.Join(errs...)
	})
}

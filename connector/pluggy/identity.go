package pluggy

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// identityStream emits the account holder's identity of each item (GET
// /identity?itemId=: one object, not a page). Many items have none: Pluggy
// answers 404 IDENTITY_NOT_FOUND, which means "no record", not an error.
// Full refresh: one row per item at most.
type identityStream struct{ c *conn }

func (s *identityStream) Name() string            { return "identity" }
func (s *identityStream) Schema() json.RawMessage { return loadSchema("identity") }
func (s *identityStream) PrimaryKey() [][]string  { return [][]string{{"id"}} }
func (s *identityStream) CursorField() []string   { return nil }

func (s *identityStream) Read(ctx context.Context, _ source.ReadRequest, out source.Output) error {
	return s.c.eachItem(ctx, out, func(ctx context.Context, itemID string, emit func(jsonrow.Row) error) error {
		var raw json.RawMessage
		err := s.c.client.getJSON(ctx, "GET /identity", "/identity", url.Values{"itemId": {itemID}}, &raw)
		if noIdentity(err) {
			out.Logger().Info("the item has no identity (Pluggy answered 404); no record", "item", itemID)
			return nil
		}
		if err != nil {
			return itemError(itemID, "identity", err)
		}
		var id struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &id); err != nil || id.ID == "" {
			return source.SystemErrorf("identity of item %s: Pluggy answered with an object that has no id", itemID)
		}
		return emit(jsonrow.With(raw, jsonrow.String("itemId", itemID)))
	})
}

// noIdentity tells Pluggy's "this item has no identity" 404 from a 404 about
// the item itself, which is a real error (already reported by the item
// fetch, but an item deleted mid-run must not pass for "no identity").
func noIdentity(err error) bool {
	if !isNotFound(err) {
		return false
	}
	var se *httpclient.StatusError
	if !errors.As(err, &se) {
		return false
	}
	return decodeAPIError(se.Body).CodeDescription != "ITEM_NOT_FOUND"
}

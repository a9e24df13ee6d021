package gocardless

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/quota"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// accountsStream emits every account of the configured requisitions: its
// metadata (GET /accounts/{id}/, which only the company-level limit counts)
// with the Berlin Group account object of GET /accounts/{id}/details/
// nested under "details", and requisition_id.
//
// Details count against the bank's daily quota and hardly ever change, so
// they are fetched at most once per 24 hours per account
// (quota.CachedDetails): in incremental mode the state keeps the last
// details object and when it was fetched, and a run within the day reuses
// it. When details cannot be fetched (quota
// spent, bank failing) the record carries the kept object, or null when
// there is none, so a dedup on id never loses good details. full_refresh
// has no state: each run fetches details once per account.
//
// Every account is emitted on every run (a few rows); the cursor,
// last_accessed, is what GoCardless bumps on each bank access. An account
// whose state entry is from the future (synced_at after now) is neither
// called nor emitted, and keeps its entry, with a WARN naming it.
type accountsStream struct{ c *conn }

// accountsName is the accounts stream's name.
const accountsName = "accounts"

func (s *accountsStream) Name() string            { return accountsName }
func (s *accountsStream) Schema() json.RawMessage { return loadSchema("accounts") }
func (s *accountsStream) PrimaryKey() [][]string  { return [][]string{{"id"}} }
func (s *accountsStream) CursorField() []string   { return []string{"last_accessed"} }

// CheckState implements source.StateChecker.
func (s *accountsStream) CheckState(raw json.RawMessage) error {
	_, err := parseAccountsState(raw)
	return err
}

func parseAccountsState(raw json.RawMessage) (*quota.State[quota.CachedDetails, allowance], error) {
	return quota.DecodeState[quota.CachedDetails, allowance]("accounts", raw, (*quota.CachedDetails).Check)
}

func (s *accountsStream) Read(ctx context.Context, req source.ReadRequest, out source.Output) error {
	st, err := parseAccountsState(req.State)
	if err != nil {
		return source.AsConfigError(err, "invalid accounts state")
	}
	refs, listErr := s.c.accounts(ctx)
	now := s.c.clock.Now()
	if req.Mode == protocol.Incremental {
		quota.DropGone(st, refs, listErr, now, func(d *quota.CachedDetails) string { return d.SyncedAt }, out.Logger())
	}
	readErr := quota.Read(ctx, s.c.quotas, quota.Details, st, req.Mode, refs, accountWorkers, out, func(ctx context.Context, a accountRef, cached *quota.CachedDetails) (*quota.CachedDetails, error) {
		if req.Mode == protocol.Incremental && cached != nil && quota.SkipFromTheFuture(out.Logger(), a.ID, cached.SyncedAt, s.c.clock.Now()) {
			return cached, nil // a state from the future: nothing to read yet
		}
		meta, err := s.c.accountMeta(ctx, a)
		if err != nil {
			return nil, err
		}
		var fetch func() (json.RawMessage, error)
		if a.blocked == nil { // else reported once per requisition, below
			fetch = func() (json.RawMessage, error) { return s.c.accountDetails(ctx, a) }
		}
		next, details, detailsErr := quota.Refresh(ctx, cached, now, req.Mode, fetch)
		if err := out.Record(jsonrow.With(meta, jsonrow.Raw("details", details), jsonrow.String("requisition_id", a.RequisitionID))); err != nil {
			return nil, err
		}
		return next, detailsErr
	})
	return errors.Join(listErr, quota.Blocked(refs), readErr)
}

// accountMeta fetches GET /accounts/{id}/ once per run. It is not a
// bank-backed call: GoCardless answers from what it holds.
func (c *conn) accountMeta(ctx context.Context, a accountRef) (json.RawMessage, error) {
	return c.metas.Get(a.ID, func() (json.RawMessage, error) {
		var raw json.RawMessage
		if _, err := c.client.getJSON(ctx, "GET /accounts/{id}/", "/accounts/"+url.PathEscape(a.ID)+"/", &raw); err != nil {
			if isStatus(err, 404) {
				// Its data endpoints would answer the same: not called.
				return nil, c.block(a, c.accountNotFound(a, ""))
			}
			return nil, c.client.wrap("account "+a.ID, err)
		}
		if !json.Valid(raw) || len(raw) == 0 || raw[0] != '{' {
			return nil, source.SystemErrorf("account %s: GoCardless answered with something that is not an account", a.ID)
		}
		return raw, nil
	})
}

// accountDetails fetches an account's details once per run (one call of
// the details quota) and returns the "account" object. A skipped call is
// warned about here, once.
func (c *conn) accountDetails(ctx context.Context, a accountRef) (json.RawMessage, error) {
	return c.details.Get(a.ID, func() (json.RawMessage, error) {
		var env detailsEnvelope
		err := c.dataCall(ctx, a, quota.Details, nil, func(b []byte) error {
			env = detailsEnvelope{}
			if err := json.Unmarshal(b, &env); err != nil {
				return err
			}
			if len(env.Account) == 0 || env.Account[0] != '{' {
				return errors.New(`no "account" object in the answer`)
			}
			return nil
		})
		var skip *quotaSkip
		if errors.As(err, &skip) {
			c.warnSkip(ctx, skip)
		}
		if err != nil {
			return nil, err
		}
		return env.Account, nil
	})
}

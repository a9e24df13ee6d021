package enablebanking

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/quota"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// accountsStream emits every account of the configured sessions: the
// AccountResource of GET /accounts/{uid}/details, with account_key (the
// primary key: identification_hash, which stays the same when a new
// session mints new uids), account_uid, session_id and details_fetched_at.
//
// Details count against the bank's daily limit and hardly ever change, so
// they are fetched at most once per 24 hours per account
// (quota.CachedDetails): in incremental mode the state keeps the last
// details and when they were fetched, and a run within the day reuses
// them. When details cannot be fetched (limit
// spent, bank failing) the record carries the kept ones, or, when there
// are none, only what the session says of the account (uid,
// identification_hash), so a dedup on account_key never loses good
// details. full_refresh has no state: each run fetches details once per
// account. The cursor, details_fetched_at, moves when details are fetched.
// An account whose state entry is from the future (synced_at after now) is
// neither called nor emitted, and keeps its entry, with a WARN naming it.
type accountsStream struct{ c *conn }

func (s *accountsStream) Name() string            { return "accounts" }
func (s *accountsStream) Schema() json.RawMessage { return loadSchema("accounts") }
func (s *accountsStream) PrimaryKey() [][]string  { return [][]string{{"account_key"}} }
func (s *accountsStream) CursorField() []string   { return []string{"details_fetched_at"} }

// CheckState implements source.StateChecker.
func (s *accountsStream) CheckState(raw json.RawMessage) error {
	_, err := decodeDetailsState(raw)
	return err
}

func decodeDetailsState(raw json.RawMessage) (*quota.State[quota.CachedDetails, usage], error) {
	return quota.DecodeState[quota.CachedDetails, usage]("accounts", raw, (*quota.CachedDetails).Check)
}

func (s *accountsStream) Read(ctx context.Context, req source.ReadRequest, out source.Output) error {
	st, err := decodeDetailsState(req.State)
	if err != nil {
		return source.AsConfigError(err, "invalid accounts state")
	}
	refs, listErr := s.c.accounts(ctx)
	now := s.c.clock.Now()
	if req.Mode == protocol.Incremental {
		quota.DropGone(st, refs, listErr, now, func(d *quota.CachedDetails) string { return d.SyncedAt }, out.Logger())
	}
	readErr := quota.Read(ctx, s.c.quotas.Ledger, quota.Details, st, req.Mode, refs, accountWorkers, out, func(ctx context.Context, a accountRef, cached *quota.CachedDetails) (*quota.CachedDetails, error) {
		if req.Mode == protocol.Incremental && cached != nil && quota.SkipFromTheFuture(out.Logger(), a.Key, cached.SyncedAt, now) {
			return cached, nil // a state from the future: nothing to read yet
		}
		var fetch func() (json.RawMessage, error)
		if a.blocked == nil { // else reported once per session, below
			fetch = func() (json.RawMessage, error) { return s.c.accountDetails(ctx, a) }
		}
		next, details, detailsErr := quota.Refresh(ctx, cached, now, req.Mode, fetch)
		if len(details) == 0 {
			details, _ = json.Marshal(map[string]string{"uid": a.UID, "identification_hash": a.Hash})
		}
		fetched := json.RawMessage("null")
		if next.FetchedAt != "" {
			fetched, _ = json.Marshal(next.FetchedAt)
		}
		rec := jsonrow.With(details, jsonrow.String("account_key", a.Key), jsonrow.String("account_uid", a.UID),
			jsonrow.String("session_id", a.SessionID), jsonrow.Raw("details_fetched_at", fetched))
		if err := out.Record(rec); err != nil {
			return nil, err
		}
		return next, detailsErr
	})
	return errors.Join(listErr, quota.Blocked(refs), readErr)
}

// accountDetails fetches an account's details once per run: one call of
// the details limit. A skipped call is warned about here, once.
func (c *conn) accountDetails(ctx context.Context, a accountRef) (json.RawMessage, error) {
	return c.details.Get(a.Key, func() (json.RawMessage, error) {
		var raw json.RawMessage
		err := c.bankCall(ctx, a, quota.Details, "GET /accounts/{uid}/details", accountPath(a.UID, "details"), nil, true, func(b []byte) error {
			raw = nil
			if err := json.Unmarshal(b, &raw); err != nil {
				return err
			}
			if len(raw) == 0 || raw[0] != '{' {
				return errors.New("the answer is not an account object")
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
		return raw, nil
	})
}

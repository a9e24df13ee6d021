package enablebanking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// accountsStream emits every account of the configured sessions: the
// AccountResource of GET /accounts/{uid}/details, with account_key (the
// primary key: identification_hash, which stays the same when a new
// session mints new uids), account_uid, session_id and details_fetched_at.
//
// Details count against the bank's daily limit and hardly ever change, so
// they are fetched at most once per 24 hours per account: in incremental
// mode the state keeps the last details and when they were fetched, and a
// run within the day reuses them. When details cannot be fetched (limit
// spent, bank failing) the record carries the kept ones, or, when there
// are none, only what the session says of the account (uid,
// identification_hash), so a dedup on account_key never loses good
// details. full_refresh has no state: each run fetches details once per
// account. The cursor, details_fetched_at, moves when details are fetched.
type accountsStream struct{ c *conn }

func (s *accountsStream) Name() string            { return "accounts" }
func (s *accountsStream) Schema() json.RawMessage { return loadSchema("accounts") }
func (s *accountsStream) PrimaryKey() [][]string  { return [][]string{{"account_key"}} }
func (s *accountsStream) CursorField() []string   { return []string{"details_fetched_at"} }

// detailsTTL is how long fetched details are reused.
const detailsTTL = 24 * time.Hour

// detailsCache is one account's entry in the accounts state.
type detailsCache struct {
	Details json.RawMessage `json:"details,omitempty"`
	// FetchedAt is when Details were fetched (RFC 3339, the API's clock).
	FetchedAt string `json:"fetched_at,omitempty"`
	// SyncedAt is when a run last emitted the account.
	SyncedAt string `json:"synced_at"`
}

// CheckState implements source.StateChecker.
func (s *accountsStream) CheckState(raw json.RawMessage) error {
	_, err := decodeDetailsState(raw)
	return err
}

func decodeDetailsState(raw json.RawMessage) (*accountsState[detailsCache], error) {
	return decodeAccountsState("accounts", raw, func(a *detailsCache) error {
		if _, err := time.Parse(time.RFC3339, a.FetchedAt); err != nil && a.FetchedAt != "" {
			return fmt.Errorf("fetched_at %q is not an RFC 3339 timestamp", a.FetchedAt)
		}
		if len(a.Details) > 0 && a.Details[0] != '{' {
			return fmt.Errorf("details is not an object")
		}
		return nil
	})
}

func (s *accountsStream) Read(ctx context.Context, req source.ReadRequest, out source.Output) error {
	st, err := decodeDetailsState(req.State)
	if err != nil {
		return source.AsConfigError(err, "invalid accounts state")
	}
	refs, listErr := s.c.accounts(ctx)
	now := httpclient.FormatTime(s.c.clock.Now())
	readErr := eachAccount(ctx, s.c, st, endpointDetails, req.Mode, refs, out, func(ctx context.Context, a accountRef, cached *detailsCache) (*detailsCache, error) {
		next := detailsCache{}
		if cached != nil {
			next = *cached
		}
		details, fresh, detailsErr := s.details(ctx, a, cached)
		if errors.As(detailsErr, new(*quotaSkip)) && req.Mode == protocol.Incremental {
			detailsErr = nil // the cached details, if any, stand in
		}
		if a.blocked != nil {
			detailsErr = nil // reported once per session, below
		}
		if fresh {
			next.Details, next.FetchedAt = details, now
		}
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
		next.SyncedAt = now
		return &next, detailsErr
	})
	return errors.Join(listErr, blockedErrors(refs), readErr)
}

// details returns an account's details: the cached ones while under a day
// old, else fetched ones (fresh), else the cached ones however old, else
// nil. err is why fetching failed: a spent limit (a *quotaSkip) only
// fails a full-refresh read, whose details would be missing.
func (s *accountsStream) details(ctx context.Context, a accountRef, cached *detailsCache) (details json.RawMessage, fresh bool, err error) {
	if cached != nil && cached.FetchedAt != "" && len(cached.Details) > 0 {
		if t, _ := time.Parse(time.RFC3339, cached.FetchedAt); s.c.clock.Now().Sub(t) < detailsTTL {
			return cached.Details, false, nil
		}
	}
	if a.blocked == nil {
		details, err = s.c.accountDetails(ctx, a)
		if err == nil {
			return details, true, nil
		}
	}
	if cached != nil && len(cached.Details) > 0 {
		return cached.Details, false, err
	}
	return nil, false, err
}

// accountDetails fetches an account's details once per run: one call of
// the details limit. A skipped call is warned about here, once.
func (c *conn) accountDetails(ctx context.Context, a accountRef) (json.RawMessage, error) {
	return c.details.Get(a.Key, func() (json.RawMessage, error) {
		var raw json.RawMessage
		err := c.bankCall(ctx, a, endpointDetails, "GET /accounts/{uid}/details", accountPath(a.UID, "details"), nil, true, func(b []byte) error {
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

package gocardless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// accountsStream emits every account of the configured requisitions: its
// metadata (GET /accounts/{id}/, which only the company-level limit counts)
// with the Berlin Group account object of GET /accounts/{id}/details/
// nested under "details", and requisition_id.
//
// Details count against the bank's daily quota and hardly ever change, so
// they are fetched at most once per 24 hours per account: in incremental
// mode the state keeps the last details object and when it was fetched, and
// a run within the day reuses it. When details cannot be fetched (quota
// spent, bank failing) the record carries the kept object, or null when
// there is none, so a dedup on id never loses good details. full_refresh
// has no state: each run fetches details once per account.
//
// Every account is emitted on every run (a few rows); the cursor,
// last_accessed, is what GoCardless bumps on each bank access. An account
// whose state entry is from the future (synced_at after now) is neither
// called nor emitted, and keeps its entry.
type accountsStream struct{ c *conn }

func (s *accountsStream) Name() string            { return "accounts" }
func (s *accountsStream) Schema() json.RawMessage { return loadSchema("accounts") }
func (s *accountsStream) PrimaryKey() [][]string  { return [][]string{{"id"}} }
func (s *accountsStream) CursorField() []string   { return []string{"last_accessed"} }

// detailsTTL is how long fetched details are reused.
const detailsTTL = 24 * time.Hour

// detailsCache is one account's entry in the accounts state: its last
// details.
type detailsCache struct {
	Details json.RawMessage `json:"details"`
	// FetchedAt is when Details were fetched (RFC 3339, the API's clock);
	// "" when they never were.
	FetchedAt string `json:"fetched_at"`
	// SyncedAt is when a run last emitted the account.
	SyncedAt string `json:"synced_at"`
}

// CheckState implements source.StateChecker.
func (s *accountsStream) CheckState(raw json.RawMessage) error {
	_, err := parseAccountsState(raw)
	return err
}

func parseAccountsState(raw json.RawMessage) (*streamState[detailsCache], error) {
	return parseState("accounts", raw, func(a *detailsCache) error {
		if _, err := time.Parse(time.RFC3339, a.FetchedAt); err != nil && a.FetchedAt != "" {
			return fmt.Errorf("fetched_at %q is not an RFC 3339 timestamp", a.FetchedAt)
		}
		return nil
	})
}

func (s *accountsStream) Read(ctx context.Context, req source.ReadRequest, out source.Output) error {
	st, err := parseAccountsState(req.State)
	if err != nil {
		return source.AsConfigError(err, "invalid accounts state")
	}
	refs, listErr := s.c.accounts(ctx)
	now := httpclient.FormatTime(s.c.clock.Now())
	readErr := readEach(ctx, s.c, st, endpointDetails, req.Mode, refs, out, func(ctx context.Context, a accountRef, cached *detailsCache) (*detailsCache, error) {
		if req.Mode == protocol.Incremental && cached != nil && fromTheFuture(cached.SyncedAt, s.c.clock.Now()) {
			return cached, nil // a state from the future: nothing to read yet
		}
		meta, err := s.c.accountMeta(ctx, a)
		if err != nil {
			return nil, err
		}
		details, fresh, detailsErr := s.details(ctx, a, cached)
		if skipped(detailsErr) && req.Mode == protocol.Incremental {
			detailsErr = nil // the cached details, if any, stand in
		}
		if a.blocked != nil {
			detailsErr = nil // reported once per requisition, below
		}
		if err := out.Record(jsonrow.With(meta, jsonrow.Raw("details", details), jsonrow.String("requisition_id", a.RequisitionID))); err != nil {
			return nil, err
		}
		next := detailsCache{}
		if cached != nil {
			next = *cached
		}
		if fresh {
			next.Details, next.FetchedAt = details, now
		}
		next.SyncedAt = now // the state moves with every account emitted
		return &next, detailsErr
	})
	return errors.Join(listErr, blockedErrors(refs), readErr)
}

// details returns an account's details object: the cached one while it is
// under a day old, else a fetched one (fresh), else the cached one however
// old, else null. err is why fetching failed: a spent quota (skipped) only
// fails a full-refresh read, whose details would be null.
func (s *accountsStream) details(ctx context.Context, a accountRef, cached *detailsCache) (details json.RawMessage, fresh bool, err error) {
	if cached != nil && cached.FetchedAt != "" {
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

// accountMeta fetches GET /accounts/{id}/ once per run. It is not a
// bank-backed call: GoCardless answers from what it holds.
func (c *conn) accountMeta(ctx context.Context, a accountRef) (json.RawMessage, error) {
	return c.metas.Get(a.ID, func() (json.RawMessage, error) {
		var raw json.RawMessage
		if _, err := c.client.getJSON(ctx, "GET /accounts/{id}/", "/accounts/"+url.PathEscape(a.ID)+"/", &raw); err != nil {
			if isStatus(err, 404) {
				return nil, source.ConfigErrorf("account %s of requisition %s was not found; it may have been deleted with its requisition", a.ID, a.RequisitionID)
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
		err := c.dataCall(ctx, a, endpointDetails, nil, func(b []byte) error {
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

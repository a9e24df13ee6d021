// Package gocardless is the GoCardless Bank Account Data provider (formerly
// Nordigen): its client (token, rate-limit headers, error bodies, wire
// types) and its streams, one file each. Everything protocol-shaped lives in
// package source.
//
// What sets it apart is the bank-level quota: an institution may allow as
// few as 4 successful calls per account, per endpoint, per rolling day. So a
// run makes at most one call per account to each of details, balances and
// transactions (details only once a day, transactions shared by the booked
// and pending streams), never retries a bank-level 429, and skips a call it
// knows would fail (see quota.go).
package gocardless

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/quota"
	"github.com/source-pluggy/source-pluggy/connector/source"
	"github.com/source-pluggy/source-pluggy/schemas"
)

//go:embed spec.json
var specJSON []byte

// Source is source-gocardless-bank-data.
type Source struct {
	// Now is the local clock (tests pin it); nil means time.Now. The run
	// follows the API's Date header once it has seen one.
	Now func() time.Time
}

var (
	_ source.Source           = Source{}
	_ source.ConfigNormalizer = Source{}
)

// Name implements source.Source.
func (Source) Name() string { return "source-gocardless-bank-data" }

// Spec implements source.Source.
func (Source) Spec() protocol.Spec {
	return source.IncrementalSpec("gocardless.md", specJSON)
}

// accountWorkers bounds the accounts read at once. GoCardless allows 100
// calls a minute to /accounts/* per company, and a run makes at most four
// per account.
const accountWorkers = 4

// Open implements source.Source. It does no I/O: discover must work offline.
func (s Source) Open(ctx context.Context, raw json.RawMessage, env source.Env) (source.Conn, error) {
	cfg, err := parseConfig(raw)
	if err != nil {
		return nil, err
	}
	local := s.Now
	if local == nil {
		local = time.Now
	}
	clock := httpclient.NewServerClock(local)
	hc := source.HTTPClient(env, "source-gocardless-bank-data", 2)
	hc.Timeout, hc.TimeoutSetting = time.Duration(cfg.HTTPTimeoutSeconds)*time.Second, "http_timeout_seconds"
	c := &conn{cfg: cfg, env: env, clock: clock, quotas: quota.NewLedger[allowance](clock.Now), failures: map[string]int{}, blocked: map[string]error{}}
	c.client = NewClient(cfg.base, cfg.SecretID, cfg.SecretKey, hc, env.Secrets, clock)
	c.client.Log = env.Log
	return c, nil
}

// conn is one run's connection: the client, the quota ledger and per-run
// caches, so a requisition, an institution or an account's transactions are
// fetched once however many streams need them.
type conn struct {
	source.Plan // which of the streams sharing an answer the run reads (source.Part)
	cfg         *settings
	env         source.Env
	client      *Client
	clock       *httpclient.ServerClock
	quotas      *ledger

	requisitions source.Memo[*requisitionInfo]
	institutions source.Memo[institutionInfo]
	agreements   source.Memo[*agreement]
	accountList  source.Memo[[]accountRef]
	metas        source.Memo[json.RawMessage]
	details      source.Memo[json.RawMessage]
	balances     source.Memo[[]json.RawMessage]
	transactions source.Memo[*txResponse]
	// bookedPlaces is the transactions stream's incremental state per
	// account, from PlanRequests: how far back the shared call must reach
	// when the pending stream asks first. Nil without one.
	bookedPlaces map[string]*accountTxPos
	// bookedSnapshot says the run reads the transactions stream in
	// full_refresh (PlanRequests): a snapshot a failed account leaves
	// whole, so the pending one is kept whole beside it (see pendingStream).
	bookedSnapshot bool

	mu sync.Mutex
	// failures counts an account's 500 UnknownRequestErrors this run.
	failures map[string]int
	// blocked holds the error of an account not to call again this run
	// (suspended, access expired, institution failing).
	blocked map[string]error
	// endingWarned holds the requisitions whose access ends within a week
	// that the run has warned about: each stream reading a requisition
	// looks at it, and one WARN a requisition says it.
	endingWarned source.Memo[struct{}]
}

func (c *conn) Close() error { return nil }

// Streams implements source.Conn.
func (c *conn) Streams() []source.Stream {
	return []source.Stream{
		&requisitionsStream{c: c},
		&accountsStream{c: c},
		&balancesStream{c: c},
		&transactionsStream{c: c},
		&pendingStream{c: c},
	}
}

// Check gets an access token and looks up every requisition (and its
// agreement), so bad keys, an unknown or unlinked requisition, an account id
// outside them and an unreachable base_url each get a message naming what to
// fix. It makes no bank-backed call: a check must not spend quota.
func (c *conn) Check(ctx context.Context) error {
	c.client.http.Interactive()
	if _, _, err := c.client.token(ctx); err != nil {
		return c.unreachable(err)
	}
	if err := c.futureStart(ctx); err != nil {
		return err
	}
	_, err := c.readable(ctx)
	return c.unreachable(err)
}

// futureStart refuses a start_date after the API's today (its Date header,
// UTC): there is nothing to read yet, and GoCardless refuses a date_from in
// the future, which would fail one stream's calls while another, seeing no
// window to read, completed. Check and both transactions streams ask it, so
// they agree. The day is the API's, never the machine's: before any answer
// the clock is the local one, which past UTC midnight ahead of the API's
// (a fast clock) took its new day for today and let a start_date of it
// through, to a date_from GoCardless refused; so the run's token is asked
// for first (it is needed anyway, and its answer carries a Date). A token
// that fails is for the streams' calls to report.
func (c *conn) futureStart(ctx context.Context) error {
	if !c.clock.Synced() {
		_, _, _ = c.client.token(ctx)
	}
	return source.StartDateAfter(c.cfg.StartDate, c.cfg.startDate, c.clock.Today(), DefaultStartDays)
}

func (c *conn) unreachable(err error) error {
	return source.Unreachable(err, "the GoCardless API", c.cfg.base)
}

// requisitionInfo is a requisition as served and as read.
type requisitionInfo struct {
	raw json.RawMessage
	requisition
}

// requisition fetches a requisition once per run.
func (c *conn) requisition(ctx context.Context, id string) (*requisitionInfo, error) {
	return c.requisitions.Get(id, func() (*requisitionInfo, error) {
		var raw json.RawMessage
		_, err := c.client.getJSON(ctx, "GET /requisitions/{id}/", "/requisitions/"+url.PathEscape(id)+"/", &raw)
		if err != nil {
			if isStatus(err, http.StatusNotFound) {
				return nil, source.ConfigErrorf("requisition %s was not found for this secret_id; check config.requisition_ids (the id is in the redirect URL after the bank link, or in GET /requisitions/)", id)
			}
			return nil, c.client.wrap("requisition "+id, err)
		}
		r := &requisitionInfo{raw: raw}
		if err := json.Unmarshal(raw, &r.requisition); err != nil || r.ID == "" {
			return nil, source.SystemErrorf("requisition %s: GoCardless answered with an object that is not a requisition", id)
		}
		return r, nil
	})
}

// accountNotFound is the config error of an account GoCardless answers 404
// for while its requisition still lists it: answer is the 404 as the
// call met it ("" for the metadata lookup). Whether the account is gone
// for good (closed at the bank, deleted with an earlier requisition) only
// the user knows, so both fixes are given: re-link the bank to read it
// under a new id, or leave it out to read the requisition's others.
func (c *conn) accountNotFound(a accountRef, answer string) error {
	if answer != "" {
		answer = " (" + answer + ")"
	}
	return source.WithNote(source.ConfigErrorf("account %s of requisition %s was not found%s; it may have been deleted with its requisition. To read it again, re-link the bank: run `source-gocardless-bank-data connect --config %s --reconnect %s --state %s --write` (docs/connect.md); to go on without it, list the accounts to read, leaving it out, in config.account_ids",
		a.ID, a.RequisitionID, answer, c.env.ConfigArg(), a.RequisitionID, c.env.StateArg()), c.relinkNote())
}

// relinkError is the config error of a requisition that cannot be read
// until the end user links the bank again.
func (c *conn) relinkError(reqID, why string) error {
	if c.env.StatePath != "" {
		// The read's own state file: the command is the one to run.
		return source.WithNote(source.ConfigErrorf("requisition %s cannot be read: %s. Re-link the bank: run `source-gocardless-bank-data connect --config %s --reconnect %s --state %s --write`, which creates a new requisition, lets the account holder give consent, puts it in config.requisition_ids in place of %s and carries each account's state in %s over to its new id", reqID, why, c.env.ConfigArg(), reqID, c.env.StateArg(), reqID, c.env.StateArg()), c.relinkNote())
	}
	return source.WithNote(source.ConfigErrorf("requisition %s cannot be read: %s. Re-link the bank: run `source-gocardless-bank-data connect --config %s --reconnect %s --state STATE --write`, which creates a new requisition, lets the account holder give consent, puts it in config.requisition_ids in place of %s and carries each account's state over to its new id", reqID, why, c.env.ConfigArg(), reqID, reqID), c.relinkNote())
}

// stateHint says what to give connect --reconnect for STATE when the read
// has no state file to name: its state is kept elsewhere (the PostgreSQL
// sink, a platform reading its STATE messages) or nowhere, which the read
// cannot tell apart from the user's other reads, so both ways are given.
// --no-state is for reads that keep none: told only "--state STATE", their
// user has no file to give, and connect --write refuses to go on without one.
// Each keeper takes the moved state back its own way (PostgreSQL: a read's
// --state, once; Meltano: meltano state set; Airbyte: the connection's
// settings), none of them the next read's --state for Airbyte and Meltano:
// PostgreSQL's and Airbyte's are said, Meltano's left to docs/connect.md.
const stateHint = "STATE: your reads' state file; a state kept in PostgreSQL or by Meltano: export it to a file for STATE and put the rewritten file back as docs/connect.md says (PostgreSQL: the next read's --state, once); under Airbyte, " + airbyteFix + "; reads that keep no state (full refresh only): --no-state in place of --state STATE"

// airbyteFix is how to run the re-link under Airbyte, whose read is given
// --config and --state as files the platform writes for that one sync (a
// later command cannot use them): the config is the source's settings and
// the state the connection's, which the UI shows and takes back.
const airbyteFix = "--config and --state are files it writes for one sync: with the connection disabled, give connect the source's settings as a config file and the state copied from the connection's Settings → Advanced → Connection state, paste the rewritten state back there and the new requisition id (and account_ids, if set) into the source (docs/connect.md, \"Airbyte\")"

// The notes a re-link error ends with (source.WithNote): a read's closing
// summary, and a stream's error, join every failing account's, and say a
// note once at their end, where each account said its sentences again.
var (
	// stateNote says what STATE stands for, where the read has no state
	// file to name.
	stateNote = &source.Note{Pointer: "STATE: see the end of this message", Text: stateHint}
	// airbyteNote says how to re-link under Airbyte, where the read runs
	// there and names the --state the platform wrote for the sync.
	airbyteNote = source.AirbyteNote(airbyteFix)
)

// relinkNote is the note of the run's re-link errors: what STATE stands
// for when the read has no state file; how to re-link under Airbyte when
// the read runs there (source.Env.Airbyte) and names its --state, the
// platform's copy of the connection's state, written for the one sync;
// else none: a --state-file, or a --state of a read run by hand, is the
// user's own file, which the command names.
func (c *conn) relinkNote() *source.Note {
	switch {
	case c.env.StatePath == "":
		return stateNote
	case c.env.StateInput && c.env.Airbyte:
		return airbyteNote
	}
	return nil
}

// usable returns why a requisition cannot be read now, or nil: its status
// is not LN, or its end-user agreement has run out. Reading an account
// whose access expired counts towards suspending it, so such a requisition
// is reported and not called.
func (c *conn) usable(ctx context.Context, r *requisitionInfo) error {
	if r.Status != statusLinked {
		why := statusText[r.Status]
		if why == "" {
			why = "not linked"
		}
		return c.relinkError(r.ID, fmt.Sprintf("its status is %s (%s), not LN (linked)", r.Status, why))
	}
	agr, _ := c.agreement(ctx, r)
	if agr == nil || agr.Accepted == nil || agr.AccessValidForDays <= 0 {
		return nil
	}
	accepted, err := time.Parse(time.RFC3339Nano, *agr.Accepted)
	if err != nil {
		return nil
	}
	// In UTC: a time whose offset the machine's zone uses is parsed into
	// that zone, where adding days across a change to or from summer time
	// moved the end by an hour, on that machine only. Access lasts whole
	// days of 24 hours.
	accepted = accepted.UTC()
	expires := accepted.AddDate(0, 0, agr.AccessValidForDays)
	now := c.clock.Now()
	if agr.Reconfirmation && expires.Sub(now) < 7*24*time.Hour {
		if t, ok := c.reconfirmed(ctx, r); ok && t.After(accepted) {
			expires = t.AddDate(0, 0, agr.AccessValidForDays)
		}
	}
	switch {
	case !expires.After(now):
		return c.relinkError(r.ID, fmt.Sprintf("its end-user agreement %s expired on %s (access_valid_for_days %d)", r.Agreement, expires.Format(time.DateOnly), agr.AccessValidForDays))
	case expires.Sub(now) < 7*24*time.Hour:
		_, _ = c.endingWarned.Get(r.ID, func() (struct{}, error) {
			attrs := []any{"requisition", r.ID, "access_ends", expires.Format(time.DateOnly), "fix", "source-gocardless-bank-data connect --config " + c.env.ConfigArg() + " --reconnect " + r.ID + " --state " + c.env.StateArg() + " --write"}
			if c.env.StatePath == "" {
				attrs = append(attrs, "state", stateHint) // what STATE stands for, as the re-link error says
			}
			// Where the --state is Airbyte's copy for this sync (relinkNote is airbyteNote).
			attrs = append(attrs, c.env.AirbyteAttr(c.relinkNote()))
			c.env.Log.Warn("the requisition's access ends when its end-user agreement expires; re-link the bank before then to keep syncing", attrs...)
			return struct{}{}, nil
		})
	}
	return nil
}

// agreement fetches a requisition's end-user agreement once per run. It is
// optional knowledge (expiry, max_historical_days): a failure is logged and
// the read goes on.
func (c *conn) agreement(ctx context.Context, r *requisitionInfo) (*agreement, error) {
	if r.Agreement == "" {
		return nil, nil
	}
	return c.agreements.Get(r.Agreement, func() (*agreement, error) {
		var a agreement
		if _, err := c.client.getJSON(ctx, "GET /agreements/enduser/{id}/", "/agreements/enduser/"+url.PathEscape(r.Agreement)+"/", &a); err != nil {
			c.env.Log.Info("cannot read the requisition's end-user agreement; going on without its expiry and history limit", "requisition", r.ID, "error", err)
			return nil, err
		}
		return &a, nil
	})
}

// reconfirmed returns when the end user last reconfirmed a requisition's
// agreement (GET /agreements/enduser/{id}/reconfirm/, last_submitted).
// Reconfirmation extends access without a new agreement, for UK banks and
// enterprise customers; the agreement says whether it may be reconfirmed.
// It is asked only when the agreement looks expired or about to be.
func (c *conn) reconfirmed(ctx context.Context, r *requisitionInfo) (time.Time, bool) {
	var rc reconfirmation
	if _, err := c.client.getJSON(ctx, "GET /agreements/enduser/{id}/reconfirm/", "/agreements/enduser/"+url.PathEscape(r.Agreement)+"/reconfirm/", &rc); err != nil {
		if !isStatus(err, http.StatusNotFound) {
			c.env.Log.Info("cannot read the requisition's agreement reconfirmation; judging its expiry from the agreement alone", "requisition", r.ID, "error", err)
		}
		return time.Time{}, false
	}
	if rc.LastSubmitted == nil {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, *rc.LastSubmitted)
	return t.UTC(), err == nil // in UTC, as usable takes accepted
}

// institutionInfo is what a run reads of an institution.
type institutionInfo struct {
	// days of history it gives (transaction_total_days).
	days int
	// separateHistory: separate_continuous_history_consent.
	separateHistory bool
}

// institution fetches an institution once per run. When it cannot be
// read, days is 90, the least any gives.
func (c *conn) institution(ctx context.Context, id string) institutionInfo {
	info, _ := c.institutions.Get(id, func() (institutionInfo, error) {
		var in institution
		_, err := c.client.getJSON(ctx, "GET /institutions/{id}/", "/institutions/"+url.PathEscape(id)+"/", &in)
		if n, ok := in.totalDays(); err == nil && ok {
			return institutionInfo{days: n, separateHistory: in.separateHistory()}, nil
		}
		c.env.Log.Warn("cannot read the institution's transaction_total_days; reading at most max_days back", "institution", id, "error", err, "max_days", DefaultStartDays)
		return institutionInfo{days: DefaultStartDays}, nil
	})
	return info
}

// institutionDays returns how many days of history an institution gives.
func (c *conn) institutionDays(ctx context.Context, id string) int {
	return c.institution(ctx, id).days
}

// frozenHistoryDays is the most history an agreement may ask of an
// institution with separate_continuous_history_consent and still get new
// transactions: asked for more, about 30 banks (LHV, Luminor, SEB Baltics,
// Swedbank, Bankinter, BBVA, CaixaBank, Hype…) deliver the transactions
// once and GoCardless serves that cached answer, without new transactions,
// for the life of the agreement (GoCardless help centre, "Extended history
// and continuous access edge cases").
const frozenHistoryDays = 90

// warnFrozenHistory warns, once per requisition, when its agreement asks an
// institution that needs separate continuous-history consent for more
// than frozenHistoryDays: the sync then never sees a new transaction.
func (c *conn) warnFrozenHistory(ctx context.Context, r *requisitionInfo, agr *agreement) {
	if agr == nil || agr.MaxHistoricalDays <= frozenHistoryDays || !c.institution(ctx, r.InstitutionID).separateHistory {
		return
	}
	c.env.Log.Warn(fmt.Sprintf("the institution needs separate consent for continuous access, and the agreement asks for more than %d days of history: the bank delivers transactions once and GoCardless serves that frozen answer, with no new transactions, until the agreement ends. Re-link with an agreement of max_historical_days %d or less to keep receiving new transactions", frozenHistoryDays, frozenHistoryDays),
		"requisition", r.ID, "institution", r.InstitutionID, "agreement", r.Agreement, "max_historical_days", agr.MaxHistoricalDays)
}

// accountRef is one account to read.
type accountRef struct {
	ID, RequisitionID, InstitutionID string
	// historyDays is the agreement's max_historical_days, 0 if unknown.
	historyDays int
	// blocked is why the account's requisition cannot be read, or nil.
	blocked error
}

// Consent implements quota.Consented.
func (a accountRef) Consent() (string, error) { return a.RequisitionID, a.blocked }

// StateKey implements quota.Account: states key accounts by id.
func (a accountRef) StateKey() string { return a.ID }

// accounts lists the accounts of every configured requisition, once per
// run, restricted to config.account_ids. Accounts of a requisition that
// cannot be read are listed with blocked set, so streams report them; a
// requisition that cannot be fetched at all is in the returned error.
func (c *conn) accounts(ctx context.Context) ([]accountRef, error) {
	return c.accountList.Get("", func() ([]accountRef, error) {
		var refs []accountRef
		var errs []error
		seen := map[string]bool{}
		for _, id := range c.cfg.RequisitionIDs {
			r, err := c.requisition(ctx, id)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			blocked := c.usable(ctx, r)
			days := 0
			if blocked == nil {
				if agr, _ := c.agreement(ctx, r); agr != nil {
					days = agr.MaxHistoricalDays
					c.warnFrozenHistory(ctx, r, agr)
				}
			}
			for _, a := range r.Accounts {
				a = strings.ToLower(a)
				if seen[a] || (c.cfg.onlyAccounts != nil && !c.cfg.onlyAccounts[a]) {
					continue
				}
				seen[a] = true
				refs = append(refs, accountRef{ID: a, RequisitionID: r.ID, InstitutionID: r.InstitutionID, historyDays: days, blocked: blocked})
			}
		}
		for _, a := range c.cfg.AccountIDs {
			if !seen[a] && len(errs) == 0 {
				errs = append(errs, source.ConfigErrorf("config.account_ids: account %s is not an account of any configured requisition; remove it or add its requisition to config.requisition_ids", a))
			}
		}
		return refs, errors.Join(errs...)
	})
}

// readable returns the accounts a data stream reads: the listed ones whose
// requisition can be read. The error joins why the others cannot.
func (c *conn) readable(ctx context.Context) ([]accountRef, error) {
	return quota.Readable(c.accounts(ctx))
}

func isStatus(err error, status int) bool {
	var se *httpclient.StatusError
	return errors.As(err, &se) && se.Status == status
}

func loadSchema(name string) json.RawMessage { return schemas.MustLoad(schemas.GoCardless, name) }

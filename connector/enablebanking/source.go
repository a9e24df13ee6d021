// Package enablebanking is the Enable Banking (Accounts API, AIS) provider:
// its client (an RS256 JWT signed with the application's key on every
// request, the error envelope) and its streams, one file each. Everything
// protocol-shaped lives in package source.
//
// What sets it apart: accounts are reached through sessions the account
// holder authorised (and that expire), account uids change with every new
// session, banks send unsigned amounts with a credit/debit indicator and
// change or omit transaction ids, and PSD2 lets a bank refuse more than a
// few unattended reads of an account a day. So a run reads each account at
// most once per endpoint, keys transactions by a rule that survives changed
// ids (keys.go), and keeps books of its own calls (quota.go).
package enablebanking

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

// Source is source-enablebanking.
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
func (Source) Name() string { return "source-enablebanking" }

// Spec implements source.Source.
func (Source) Spec() protocol.Spec {
	return source.IncrementalSpec("enablebanking.md", specJSON)
}

// accountWorkers bounds the accounts read at once: each call waits on a
// bank, and Enable Banking publishes no throughput limit of its own.
const accountWorkers = 4

// Open implements source.Source. It reads the key file but makes no
// request: discover must work offline.
func (s Source) Open(ctx context.Context, raw json.RawMessage, env source.Env) (source.Conn, error) {
	cfg, err := parseConfig(raw, env.Secrets)
	if err != nil {
		return nil, err
	}
	clock := httpclient.NewServerClock(s.Now)
	// Before any answer only the machine's day is known, which may be a day
	// behind the API's (a clock a few seconds slow, just past UTC midnight):
	// a start_date up to a day after it is left for futureStart, which
	// judges it by the API's day once it has answered, so that a start_date
	// of the API's today is not refused. The error names the machine's
	// day, the only today known here, not the day of leeway after it.
	if today := clock.Today(); cfg.startDate.After(today.AddDate(0, 0, 1)) {
		return nil, source.StartDateAfter(cfg.StartDate, cfg.startDate, today, DefaultStartDays)
	}
	hc := source.HTTPClient(env, "source-enablebanking", 2)
	hc.Timeout, hc.TimeoutSetting = time.Duration(cfg.HTTPTimeoutSeconds)*time.Second, "http_timeout_seconds"
	c := &conn{cfg: cfg, env: env, clock: clock, blocked: map[string]error{}}
	c.quotas = newLedger(cfg.limit, cfg.Attended, clock.Now)
	c.client = NewClient(cfg.base, cfg.ApplicationID, cfg.key, hc, env.Secrets, clock)
	c.client.Log = env.Log
	if cfg.PrivateKeyPath != "" {
		c.client.keyField = "config.private_key_path"
	}
	if cfg.Attended {
		c.psu = http.Header{"Psu-Ip-Address": {strings.TrimSpace(cfg.PSUIPAddress)}, "Psu-User-Agent": {cfg.PSUUserAgent}}
	}
	return c, nil
}

// conn is one run's connection: the client, the limit ledger and per-run
// caches, so a session or an account's transactions are fetched once
// however many streams need them.
type conn struct {
	source.Plan // which of the streams sharing an answer the run reads (source.Part)
	cfg         *settings
	env         source.Env
	client      *Client
	clock       *httpclient.ServerClock
	quotas      *ledger
	// psu holds the PSU headers, sent only when config.attended is true.
	psu http.Header

	sessions     source.Memo[*sessionInfo]
	accountList  source.Memo[[]accountRef]
	details      source.Memo[json.RawMessage]
	balances     source.Memo[[]json.RawMessage]
	transactions source.Memo[*txAnswer]
	// bookedPlaces is the transactions stream's incremental state per
	// account key, from PlanRequests: how far back the shared call must
	// reach when the pending stream asks first. Nil without one.
	bookedPlaces map[string]*txPos
	// bookedSnapshot says the run reads the transactions stream in
	// full_refresh (PlanRequests): a snapshot a failed account leaves
	// whole, so the pending one is kept whole beside it (see pendingStream).
	bookedSnapshot bool

	mu sync.Mutex
	// blocked holds why a session (by its id), or one account of it (by
	// accountBlock), cannot be read any more this run.
	blocked map[string]error
	// endingWarned holds the sessions whose access ends within a week
	// that the run has warned about: each stream reading a session looks
	// at it, and one WARN a session says it.
	endingWarned source.Memo[struct{}]
}

func (c *conn) Close() error { return nil }

// Streams implements source.Conn.
//
// A read takes them in this order, so transactions come before the
// accounts' details and balances: where a bank counts the daily limit per
// consent rather than per account and endpoint (UNCERTAIN, the reference's
// §5), the calls go to the rows first, and the snapshots take what is left.
// Read after them, transactions met the consent's calls spent every day and
// were never read again (TestDailyLimitUnderEveryCountingModel).
func (c *conn) Streams() []source.Stream {
	return []source.Stream{
		&sessionsStream{c: c},
		&transactionsStream{c: c},
		&pendingStream{c: c},
		&accountsStream{c: c},
		&balancesStream{c: c},
	}
}

// Check proves the key signs tokens the API accepts for application_id
// (GET /application), then reads every session, so a wrong key, an
// inactive application, an unknown, expired or revoked session and an
// account outside the sessions each get a message naming what to fix. It
// makes no bank-backed call: a check must not spend the daily limit.
func (c *conn) Check(ctx context.Context) error {
	c.client.http.Interactive()
	var app struct {
		Active *bool `json:"active"`
	}
	if err := c.client.getJSON(ctx, "GET /application", "/application", &app); err != nil {
		return c.unreachable(c.client.wrap("checking the application", err))
	}
	if app.Active != nil && !*app.Active {
		return source.ConfigErrorf("application %s is not active; activate it in the Enable Banking Control Panel (for your own accounts: \"Activate by linking accounts\")", c.cfg.ApplicationID)
	}
	if err := c.futureStart(); err != nil {
		return err
	}
	refs, err := c.accounts(ctx)
	if err != nil {
		return c.unreachable(err)
	}
	return quota.Blocked(refs)
}

// futureStart refuses a start_date after the API's today (its Date header,
// UTC), once the API has answered: check asks it, and both transactions
// streams before their first transactions call. Open refuses one more than
// a day after the machine's today before any call; but a clock ahead of the API's (a few
// seconds fast, just past UTC midnight) takes its new day for today, and
// let through a start_date of it, which the pending stream's call then sent
// as date_from, for Enable Banking to refuse (422 DATE_FROM_IN_FUTURE).
func (c *conn) futureStart() error {
	return source.StartDateAfter(c.cfg.StartDate, c.cfg.startDate, c.clock.Today(), DefaultStartDays)
}

func (c *conn) unreachable(err error) error {
	return source.Unreachable(err, "the Enable Banking API", c.cfg.base)
}

// sessionInfo is a session as served and as read.
type sessionInfo struct {
	raw    json.RawMessage
	id     string
	Status string `json:"status"`
	// Accounts are uids; tolerated as objects with a uid too.
	Accounts     []json.RawMessage `json:"accounts"`
	AccountsData []struct {
		UID                string `json:"uid"`
		IdentificationHash string `json:"identification_hash"`
	} `json:"accounts_data"`
	ASPSP struct {
		Name    string `json:"name"`
		Country string `json:"country"`
	} `json:"aspsp"`
	Access struct {
		ValidUntil string `json:"valid_until"`
	} `json:"access"`
}

// uids returns the session's account uids, in order.
func (s *sessionInfo) uids() []string {
	var out []string
	for _, raw := range s.Accounts {
		var uid string
		if json.Unmarshal(raw, &uid) != nil {
			var obj struct {
				UID string `json:"uid"`
			}
			_ = json.Unmarshal(raw, &obj)
			uid = obj.UID
		}
		if uid = strings.ToLower(strings.TrimSpace(uid)); uid != "" {
			out = append(out, uid)
		}
	}
	if len(out) == 0 { // a session that only lists accounts_data
		for _, d := range s.AccountsData {
			if d.UID != "" {
				out = append(out, strings.ToLower(d.UID))
			}
		}
	}
	return out
}

// withoutUID returns the identification_hash (or "" when it has none
// either) of each account the session lists with no uid (the reference,
// §3.4: absent for an account whose data cannot be fetched).
func (s *sessionInfo) withoutUID() []string {
	var out []string
	for _, d := range s.AccountsData {
		if strings.TrimSpace(d.UID) == "" {
			out = append(out, d.IdentificationHash)
		}
	}
	return out
}

func (s *sessionInfo) hashOf(uid string) string {
	for _, d := range s.AccountsData {
		if strings.EqualFold(d.UID, uid) {
			return d.IdentificationHash
		}
	}
	return ""
}

// session fetches GET /sessions/{id} once per run.
func (c *conn) session(ctx context.Context, id string) (*sessionInfo, error) {
	return c.sessions.Get(id, func() (*sessionInfo, error) {
		var raw json.RawMessage
		err := c.client.getJSON(ctx, "GET /sessions/{id}", "/sessions/"+url.PathEscape(id), &raw)
		if err != nil {
			if se, ae, ok := statusOf(err); ok && (classify(se.Status, ae) == classReauth || se.Status == http.StatusNotFound) {
				return nil, c.reauthError(id, ae.describe(se.Status), nil)
			}
			return nil, c.client.wrap("session "+id, err)
		}
		s := &sessionInfo{raw: raw, id: id}
		if err := json.Unmarshal(raw, s); err != nil || len(raw) == 0 || raw[0] != '{' {
			return nil, source.SystemErrorf("session %s: Enable Banking answered with something that is not a session", id)
		}
		return s, nil
	})
}

// reauthError is the config error of a session that cannot be read until
// the account holder authorises again. s is the session when Enable Banking
// served it: the command then names its bank.
func (c *conn) reauthError(sessionID, why string, s *sessionInfo) error {
	return source.WithNote(source.ConfigErrorf("session %s cannot be read: %s. Authorise again: run `%s` (the account holder logs in at the bank and authorises its accounts again): it puts the new session in config.session_ids in place of %s when the new session holds every account of it, and says so; else remove %s from config.session_ids yourself", sessionID, why, c.connectCommand(s), sessionID, sessionID), c.env.OnAirbyte(reauthNote))
}

// reauthNote is what a message sending the user to connect adds where the
// Airbyte platform runs the check or read (c.env.OnAirbyte, AirbyteAttr):
// the --config it names is a file the platform wrote for that one run, in
// a container with no browser, which connect --write would rewrite for
// nothing. connect is run elsewhere on the source's settings, and the
// session ids it writes go into the source's settings by hand; the state
// keys an account by identification_hash, so the connection's carries over.
var reauthNote = source.AirbyteNote("run connect on a computer with a browser, with --config a file holding the source's settings (application_id and private_key, copied from the source in Airbyte), not the file Airbyte wrote for this run, then copy session_ids (and account_uids, if set) from the file connect --write rewrote into the source's settings in Airbyte; the accounts' state carries over to the new session (by identification_hash), so the connection's state stays as it is (docs/enablebanking.md, \"connect\")")

// connectCommand is the connect command that authorises session s's bank
// again (s nil: the bank left for the user to fill in) and puts the new
// session in the config.
func (c *conn) connectCommand(s *sessionInfo) string {
	bank := "--country CC"
	if s != nil && len(strings.TrimSpace(s.ASPSP.Country)) == 2 && strings.TrimSpace(s.ASPSP.Name) != "" {
		bank = "--country " + strings.ToUpper(strings.TrimSpace(s.ASPSP.Country)) + " --aspsp " + shellWord(strings.TrimSpace(s.ASPSP.Name))
	}
	return "source-enablebanking connect --config " + c.env.ConfigArg() + " " + bank + " --write"
}

// shellWord is s as one word of a shell command line: quoted when it holds
// anything but letters, digits and -_.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// usable returns why a session cannot be read now, or nil: its status is
// not AUTHORIZED, or its access ended.
func (c *conn) usable(ctx context.Context, s *sessionInfo) error {
	if !strings.EqualFold(s.Status, "AUTHORIZED") {
		return c.reauthError(s.id, fmt.Sprintf("its status is %s, not AUTHORIZED", s.Status), s)
	}
	until, err := time.Parse(time.RFC3339, s.Access.ValidUntil)
	if err != nil {
		return nil // absent or unreadable: the API's answers will say
	}
	now := c.clock.Now()
	switch {
	case !until.After(now):
		return c.reauthError(s.id, fmt.Sprintf("its access ended at %s (valid_until)", until.UTC().Format(time.RFC3339)), s)
	case until.Sub(now) < 7*24*time.Hour:
		_, _ = c.endingWarned.Get(s.id, func() (struct{}, error) {
			c.env.Log.Warn("the session's access ends soon (valid_until); authorise again before then to keep syncing: connect --write puts the new session in place of this one", "session", s.id, "valid_until", until.UTC().Format(time.RFC3339), "fix", c.connectCommand(s), c.env.AirbyteAttr(reauthNote))
			return struct{}{}, nil
		})
	}
	return nil
}

// accountRef is one account to read.
type accountRef struct {
	// UID is the account's id within its session; Key is what state and
	// records key it by across sessions: its identification_hash, or
	// "uid:" and the uid when the session gives none.
	UID, Key, Hash, SessionID string
	// blocked is why the account's session cannot be read, or nil.
	blocked error
}

// Consent implements quota.Consented.
func (a accountRef) Consent() (string, error) { return a.SessionID, a.blocked }

// StateKey implements quota.Account.
func (a accountRef) StateKey() string { return a.Key }

// accounts lists the accounts of every configured session, once per run,
// restricted to config.account_uids. Accounts of a session that cannot be
// read are listed with blocked set, so streams report them; a session that
// cannot be fetched at all is in the returned error.
func (c *conn) accounts(ctx context.Context) ([]accountRef, error) {
	return c.accountList.Get("", func() ([]accountRef, error) {
		var refs []accountRef
		var errs []error
		seen := map[string]int{} // account key: its index in refs
		matched := map[string]bool{}
		for _, id := range c.cfg.SessionIDs {
			s, err := c.session(ctx, id)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			blocked := c.usable(ctx, s)
			for _, hash := range s.withoutUID() {
				c.env.Log.Warn("the session lists an account without a uid, which Enable Banking gives no account whose data the bank will not let it fetch (blocked or closed); it is not read. If it should be, authorise the session again",
					"session", id, "identification_hash", hash)
			}
			for _, uid := range s.uids() {
				hash := s.hashOf(uid)
				key := hash
				if key == "" {
					key = "uid:" + uid
				}
				i, dup := seen[key]
				if dup && (refs[i].blocked == nil || blocked != nil) {
					continue // the same account authorised in two sessions
				}
				if c.cfg.only != nil {
					switch {
					case c.cfg.only[uid]:
						matched[uid] = true
					case hash != "" && c.cfg.only[strings.ToLower(hash)]:
						matched[strings.ToLower(hash)] = true
					default:
						continue
					}
				}
				ref := accountRef{UID: uid, Key: key, Hash: hash, SessionID: id, blocked: blocked}
				if dup {
					// The account was listed first by a session that can no
					// longer be read (expired, the new one added after it):
					// it is read through this one.
					refs[i] = ref
					continue
				}
				seen[key] = len(refs)
				refs = append(refs, ref)
			}
		}
		for _, a := range c.cfg.AccountUIDs {
			if !matched[a] && len(errs) == 0 {
				errs = append(errs, source.ConfigErrorf("config.account_uids: %s is neither the uid nor the identification_hash of an account of the configured sessions; remove it, or add its session to config.session_ids (uids change with every new session: prefer identification_hash)", a))
			}
		}
		return refs, errors.Join(errs...)
	})
}

// readable returns the accounts a data stream reads: the listed ones whose
// session can be read. The error joins why the others cannot.
func (c *conn) readable(ctx context.Context) ([]accountRef, error) {
	return quota.Readable(c.accounts(ctx))
}

func loadSchema(name string) json.RawMessage { return schemas.MustLoad(schemas.EnableBanking, name) }

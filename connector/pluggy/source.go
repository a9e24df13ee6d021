// Package pluggy is the Pluggy provider: its client (auth, paging, wire
// types) and its streams, one file each. Everything protocol-shaped lives in
// package source.
package pluggy

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/webhook"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
	"github.com/source-pluggy/source-pluggy/connector/source"
	"github.com/source-pluggy/source-pluggy/schemas"
)

//go:embed spec.json
var specJSON []byte

// Source is source-pluggy.
type Source struct {
	// Now is the clock (tests pin it); nil means time.Now.
	Now func() time.Time
}

var (
	_ source.Source           = Source{}
	_ source.ConfigNormalizer = Source{}
)

// Name implements source.Source.
func (Source) Name() string { return "source-pluggy" }

// Spec implements source.Source.
func (Source) Spec() protocol.Spec {
	return source.IncrementalSpec("pluggy.md", specJSON)
}

// Open implements source.Source. It does no I/O: discover must work offline.
func (s Source) Open(ctx context.Context, raw json.RawMessage, env source.Env) (source.Conn, error) {
	now := s.Now
	if now == nil {
		now = time.Now
	}
	cfg, err := parseConfig(raw, now())
	if err != nil {
		return nil, err
	}
	// A PostgreSQL webhook_log carries a password, perhaps in a URL that
	// does not parse.
	for _, pw := range secret.URLSecrets(cfg.WebhookLog) {
		env.Secrets.Add(pw)
	}
	hc := source.HTTPClient(env, "source-pluggy", cfg.maxRetries)
	hc.Pacer = httpclient.NewPacer(cfg.rpm)
	hc.MaxWait, hc.MaxWaitSetting = time.Duration(cfg.MaxRateLimitWaitSeconds)*time.Second, "max_rate_limit_wait_seconds"
	hc.Timeout, hc.TimeoutSetting = time.Duration(cfg.HTTPTimeoutSeconds)*time.Second, "http_timeout_seconds"
	c := &conn{cfg: cfg, env: env, now: now, start: now().UTC()}
	c.client = NewClient(cfg.base, cfg.ClientID, cfg.ClientSecret, hc, env.Secrets)
	c.client.Log = env.Log
	return c, nil
}

// conn is one run's connection: the client plus per-run caches, so items and
// accounts are fetched once however many streams need them.
type conn struct {
	cfg    *settings
	env    source.Env
	client *Client
	now    func() time.Time
	start  time.Time

	items       source.Memo[json.RawMessage]
	accounts    source.Memo[pageList]
	investments source.Memo[pageList]
	refresh     itemRefresh // trigger_item_update
	estimates   estimator
}

func (c *conn) Close() error { return nil }

// Streams implements source.Conn.
func (c *conn) Streams() []source.Stream {
	return []source.Stream{
		&itemsStream{c: c},
		&accountsStream{c: c},
		&transactionsStream{c: c},
		&categoriesStream{c: c},
		&creditCardBillsStream{c: c},
		&investmentsStream{c: c},
		&investmentTransactionsStream{c: c},
		&loansStream{c: c},
		&identityStream{c: c},
	}
}

// Check authenticates and looks up every item, so bad keys, an unknown item
// id and an unreachable base_url each get a message naming what to fix.
func (c *conn) Check(ctx context.Context) error {
	c.client.http.Interactive()
	if _, _, err := c.client.key(ctx); err != nil {
		return c.unreachable(err)
	}
	var act []string
	for _, id := range c.cfg.ItemIDs {
		// Not c.item: a check neither triggers an item update nor logs
		// (it prints exactly one message).
		_, it, err := c.fetchItem(ctx, id)
		if err != nil {
			return c.unreachable(err)
		}
		if why := c.needsReauth(it); why != "" {
			act = append(act, fmt.Sprintf("item %s %s: run `%s`", it.ID, why, c.updateCommand(it.ID)))
		}
	}
	// webhook_log is read as a read reads it, so that a location a read
	// would refuse (a missing directory, a database without the log) fails
	// the check, not the next read.
	if c.cfg.WebhookLog != "" {
		if _, err := webhook.ReadChanges(ctx, c.cfg.WebhookLog, ""); err != nil {
			return webhookLogError(err)
		}
	}
	if len(act) > 0 {
		msg := "The config works, but re-authenticate: " + strings.Join(act, "; ")
		if n := c.env.OnAirbyte(updateNote); n != nil {
			msg += "; " + n.Text // once, however many items need it
		}
		return &source.Advisory{Msg: msg}
	}
	return nil
}

// needsReauth says why an item needs its user to log in again (its status,
// or a consent that expires within consentWarning), or "" when it does not.
func (c *conn) needsReauth(it item) string {
	switch it.Status {
	case "LOGIN_ERROR", "OUTDATED", "WAITING_USER_INPUT", "WAITING_USER_ACTION":
		return "is " + it.Status
	}
	if exp, ok := consentExpiry(it); ok && exp.Sub(c.now()) <= consentWarning {
		return "has an Open Finance consent expiring at " + *it.ConsentExpiresAt
	}
	return ""
}

func (c *conn) unreachable(err error) error {
	return source.Unreachable(err, "the Pluggy API", c.cfg.base)
}

// item fetches an item once per run (after triggering its update, with
// trigger_item_update). An item in an error state is still read (its last
// data is valid) and the user is warned.
func (c *conn) item(ctx context.Context, id string) (json.RawMessage, error) {
	if c.cfg.TriggerItemUpdate {
		c.refreshItems(ctx)
	}
	return c.items.Get(id, func() (json.RawMessage, error) {
		raw, it, err := c.fetchItem(ctx, id)
		if err != nil {
			return nil, err
		}
		c.warnItem(it)
		return raw, nil
	})
}

// fetchItem is one GET /items/{id}.
func (c *conn) fetchItem(ctx context.Context, id string) (json.RawMessage, item, error) {
	var raw json.RawMessage
	err := c.client.getJSON(ctx, "GET /items/{id}", "/items/"+url.PathEscape(id), nil, &raw)
	if err != nil {
		if source.FailureTypeOf(err) == protocol.SystemError && isNotFound(err) {
			return nil, item{}, unknownItem(id, err)
		}
		return nil, item{}, within("item "+id, err)
	}
	var it item
	if err := json.Unmarshal(raw, &it); err != nil || it.ID == "" {
		return nil, item{}, source.SystemErrorf("item %s: Pluggy answered with an object that is not an item", id)
	}
	return raw, it, nil
}

func (c *conn) warnItem(it item) {
	switch it.Status {
	case "LOGIN_ERROR", "OUTDATED", "WAITING_USER_INPUT", "WAITING_USER_ACTION":
		c.env.Log.Warn("the item needs its user: its last synced data is read, but it may be stale until the user re-authenticates it", "item", it.ID, "status", it.Status, "executionStatus", it.ExecutionStatus, "fix", c.updateCommand(it.ID), c.env.AirbyteAttr(updateNote))
	}
	if stale := notUpdated(it.StatusDetail); len(stale) > 0 {
		c.env.Log.Warn("the item's last sync only partly succeeded: Pluggy did not update some of its products, whose data is read as of their last successful sync (Pluggy retries them at its next sync)", "item", it.ID, "executionStatus", it.ExecutionStatus, "not_updated", strings.Join(stale, "; "))
	}
	c.warnConsent(it)
}

// statusDetailProducts names statusDetail's members as Pluggy's products.
// Investment transactions are spelled investmentsTransactions by the OAS
// and live payloads, investmentTransactions by the SDK's type: both count.
var statusDetailProducts = map[string]string{
	"accounts": "ACCOUNTS", "creditCards": "CREDIT_CARDS", "transactions": "TRANSACTIONS",
	"investments": "INVESTMENTS", "investmentsTransactions": "INVESTMENTS_TRANSACTIONS",
	"investmentTransactions": "INVESTMENTS_TRANSACTIONS", "identity": "IDENTITY",
	"paymentData": "PAYMENT_DATA", "loans": "LOANS", "accountStatements": "ACCOUNT_STATEMENTS",
}

// notUpdated lists the products a PARTIAL_SUCCESS sync did not update
// (statusDetail members whose isUpdated is false; null means not
// requested), each with its warnings, sorted. A member it does not know is
// named as sent; anything it cannot read is skipped, never an error.
func notUpdated(detail json.RawMessage) []string {
	var members map[string]json.RawMessage
	if json.Unmarshal(detail, &members) != nil {
		return nil
	}
	var out []string
	for key, raw := range members {
		var p struct {
			IsUpdated *bool           `json:"isUpdated"`
			Warnings  json.RawMessage `json:"warnings"`
		}
		if json.Unmarshal(raw, &p) != nil || p.IsUpdated == nil || *p.IsUpdated {
			continue
		}
		name := statusDetailProducts[key]
		if name == "" {
			name = key
		}
		var warnings []apiErrorCause
		_ = json.Unmarshal(p.Warnings, &warnings)
		var ws []string
		for _, w := range warnings {
			ws = append(ws, strings.TrimPrefix(w.Code+": "+w.Message, ": "))
		}
		if len(ws) > 0 {
			name += " (" + strings.Join(ws, ", ") + ")"
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// itemAccounts fetches an item's accounts once per run.
func (c *conn) itemAccounts(ctx context.Context, itemID string) ([]json.RawMessage, error) {
	l, err := c.itemAccountList(ctx, itemID)
	return l.rows, err
}

// itemAccountList is itemAccounts with the total the list announced.
func (c *conn) itemAccountList(ctx context.Context, itemID string) (pageList, error) {
	return c.accounts.Get(itemID, func() (pageList, error) {
		l, err := c.client.fetchList(ctx, "GET /accounts", "/accounts", url.Values{"itemId": {itemID}}, 0)
		if err != nil {
			return pageList{}, itemError(itemID, "accounts", err)
		}
		return l, nil
	})
}

// unknownItem is the error for an item Pluggy does not know for this
// client_id, wherever it is met: GET /items/{id} answering 404, or a list
// endpoint answering 404 ITEM_NOT_FOUND to its itemId (an item deleted
// since the run fetched it). The id comes from config.item_ids, so it is
// the user's to fix, not worth a retry, and every stream says so in the
// same words.
func unknownItem(id string, err error) error {
	return source.AsConfigError(err, fmt.Sprintf("item %s was not found for this client_id; check config.item_ids", id))
}

// itemError is err met reading an item's product (what: "accounts",
// "loans"), naming both; Pluggy not knowing the item is unknownItem.
func itemError(id, what string, err error) error {
	if isItemNotFound(err) {
		return unknownItem(id, err)
	}
	return within(what+" of item "+id, err)
}

func isNotFound(err error) bool {
	var se *httpclient.StatusError
	return errors.As(err, &se) && se.Status == 404
}

// isItemNotFound reports Pluggy's 404 ITEM_NOT_FOUND: the itemId a list
// endpoint was given is not an item of this client_id.
func isItemNotFound(err error) bool {
	var se *httpclient.StatusError
	return errors.As(err, &se) && se.Status == 404 && decodeAPIError(se.Body).CodeDescription == "ITEM_NOT_FOUND"
}

func loadSchema(name string) json.RawMessage { return schemas.MustLoad(schemas.Pluggy, name) }

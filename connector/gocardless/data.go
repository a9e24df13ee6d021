package gocardless

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/quota"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// maxInstitutionFailures is how many 500 UnknownRequestErrors an account may
// cost in one run. GoCardless suspends an account after 10 failed accesses in
// a row (a new requisition is then the only way back) and advises to stop
// after 2 or 3, so the connector tries an account's bank twice at most and
// then leaves the account alone until the next run.
const maxInstitutionFailures = 2

// institutionRetryWait is the pause before the second try.
var institutionRetryWait = 2 * time.Second

// suspensionGuard is how many failed accesses in a row, counted over runs
// in the state (allowance.Failed), make the connector try an account only
// once a day, without a second try: at two a run, an hourly job would have
// an account suspended five hours into a bank's outage. From the guard,
// four more days of failures are needed to reach GoCardless's 10, and the
// first call that succeeds clears the count.
const suspensionGuard = 6

// quotaSkip is a bank-backed call not made, or refused with a bank-level
// 429, because the account's daily quota for the endpoint is spent. It is
// not a failure: the stream warns, completes and keeps the account's state.
type quotaSkip struct {
	account  accountRef
	endpoint string
	resetAt  time.Time
}

func (e *quotaSkip) Error() string {
	return fmt.Sprintf("account %s: %s quota spent until %s", e.account.ID, e.endpoint, e.resetAt.Format(time.RFC3339))
}

// Skipped implements source.Skipped.
func (e *quotaSkip) Skipped() bool { return true }

// warnSkip tells the user about a skipped call, once per account and
// endpoint (callers are memoized).
func (c *conn) warnSkip(ctx context.Context, s *quotaSkip) {
	in := s.resetAt.Sub(c.clock.Now()).Round(time.Minute)
	// Through the stream being read, whose name begins the line, as every
	// LOG of a stream's does.
	source.WarnOnce(ctx, "daily-limit "+s.account.ID+" "+s.endpoint, "the bank's daily limit for the endpoint's calls is spent; not calling it until the reset: "+source.SkipMeaning(ctx)+", and a run after that time reads it",
		"account", s.account.ID, "requisition", s.account.RequisitionID, "endpoint", s.endpoint, "until", s.resetAt.Format(time.RFC3339), "in", in)
}

// dataCall makes one bank-backed call (details, balances, transactions) of
// an account, with everything the quota and the suspension rules ask:
//   - an account blocked earlier in the run is not called again;
//   - a call the ledger knows would fail is not made (*quotaSkip);
//   - the per-account rate-limit headers of every answer go to the ledger;
//   - a bank-level 429 is never retried (*quotaSkip, with its reset);
//   - a 500 UnknownRequestError is tried once more, then the account is
//     left alone for the run;
//   - expired access blocks the account's requisition; suspension, an
//     account GoCardless does not know (a 404, its metadata's too) and an
//     institution that is down block the account, for the rest of the run.
func (c *conn) dataCall(ctx context.Context, a accountRef, endpoint string, q url.Values, decode func([]byte) error) error {
	if err := c.blockedErr(a); err != nil {
		return err
	}
	if reset, spent := c.quotas.Get(a.ID, endpoint).spent(c.clock.Now()); spent {
		return &quotaSkip{account: a, endpoint: endpoint, resetAt: reset}
	}
	failed, last := c.failedInARow(a.ID)
	guarded := failed >= suspensionGuard
	if next := last.Add(quota.Window); guarded && c.clock.Now().Before(next) {
		return c.block(a, &source.Error{Type: protocol.TransientError, Msg: fmt.Sprintf(
			"account %s (requisition %s, institution %s): the bank failed the last %d calls, over several runs (the last at %s); GoCardless suspends an account after 10 failed accesses in a row, so the connector tries it once a day until it answers: not before %s",
			a.ID, a.RequisitionID, a.InstitutionID, failed, httpclient.FormatTime(last), httpclient.FormatTime(next))})
	}
	route := "GET /accounts/{id}/" + endpoint + "/"
	path := "/accounts/" + url.PathEscape(a.ID) + "/" + endpoint + "/"
	for {
		resp, err := c.client.get(ctx, route, path, q, decode)
		if resp != nil {
			c.observeQuota(ctx, a, endpoint, resp.Header)
			c.answered(a.ID)
			return nil
		}
		what := fmt.Sprintf("account %s %s", a.ID, endpoint)
		var te *tokenError
		se, ae, ok := statusOf(err)
		if !ok || errors.As(err, &te) { // a token call's answer is not the account's
			return c.client.wrap(what, err)
		}
		c.observeQuota(ctx, a, endpoint, se.Header)
		switch {
		case se.Status == http.StatusTooManyRequests && accountLimited(se.Header, ae):
			reset := c.clock.Now().Add(quota.Window)
			if d, ok := detailSeconds(ae.detail()); ok {
				reset = c.clock.Now().Add(c.capReset(ctx, a, endpoint, d))
			} else if known := c.quotas.Get(a.ID, endpoint).resetAt(); known.After(c.clock.Now()) {
				reset = known
			}
			c.quotas.Update(a.ID, endpoint, func(q *allowance) { q.Remaining, q.ResetAt = 0, httpclient.FormatTime(reset) })
			return &quotaSkip{account: a, endpoint: endpoint, resetAt: reset}
		case se.Status == http.StatusInternalServerError && ae.Type == typeUnknownRequest:
			now := httpclient.FormatTime(c.clock.Now())
			c.quotas.Update(a.ID, endpoint, func(q *allowance) { q.Failed, q.FailedAt = q.Failed+1, now })
			if guarded {
				failed++
				return c.block(a, &source.Error{Type: protocol.TransientError, Msg: fmt.Sprintf(
					"account %s (requisition %s, institution %s): the bank failed again (%s), %d calls in a row over several runs; GoCardless suspends an account after 10, so the connector tries it once a day until it answers",
					a.ID, a.RequisitionID, a.InstitutionID, ae.describe(se.Status), failed)})
			}
			if n := c.institutionFailed(a.ID); n < maxInstitutionFailures {
				c.env.Log.Info("the account's bank failed the call; trying once more", "account", a.ID, "endpoint", endpoint, "answer", ae.describe(se.Status))
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(institutionRetryWait):
				}
				continue
			}
			return c.block(a, &source.Error{Type: protocol.TransientError, Msg: fmt.Sprintf(
				"account %s (requisition %s, institution %s): the bank failed %d calls this run (%s); the account is not called again until the next run, because GoCardless suspends an account after 10 failed accesses in a row",
				a.ID, a.RequisitionID, a.InstitutionID, maxInstitutionFailures, ae.describe(se.Status))})
		case se.Status == http.StatusServiceUnavailable:
			// Retried already; a bank that is down stays down for a while,
			// so the account's other endpoints are not tried this run. An
			// answer that is not GoCardless's error (a load balancer's or
			// a proxy's page) is not about the bank: it is not blamed.
			down := "institution " + a.InstitutionID + " is unavailable"
			if ae.Type == "" && ae.Summary == "" {
				down = "GoCardless, or a proxy on the way to it, is unavailable (the answer is not GoCardless's error, so not the bank's)"
			}
			return c.block(a, &source.Error{Type: protocol.TransientError, Msg: fmt.Sprintf(
				"account %s (requisition %s): %s (%s); its other calls are left for the next run: run again later",
				a.ID, a.RequisitionID, down, ae.describe(se.Status))})
		case se.Status == http.StatusConflict && processing(ae):
			skip := &processingSkip{account: a, endpoint: endpoint, answer: ae.describe(se.Status)}
			c.env.Log.Warn("GoCardless is still processing the account's data; the account is skipped this run and keeps its state. A later run reads it", "account", a.ID, "requisition", a.RequisitionID, "endpoint", endpoint, "answer", skip.answer)
			return c.block(a, skip)
		case se.Status == http.StatusConflict:
			return c.block(a, &source.Error{Type: protocol.ConfigError, Msg: fmt.Sprintf(
				"account %s of requisition %s is suspended by GoCardless (%s); only a new requisition can read it: re-link the bank and put the new requisition's id in config.requisition_ids",
				a.ID, a.RequisitionID, ae.describe(se.Status))})
		case accessExpired(se.Status, ae):
			err := c.relinkError(a.RequisitionID, fmt.Sprintf("GoCardless refused account %s with %s", a.ID, ae.describe(se.Status)))
			c.blockRequisition(a.RequisitionID, err)
			return err
		case se.Status == http.StatusNotFound:
			notFound := c.accountNotFound(a, ae.describe(se.Status))
			// When GoCardless no longer knows the account (its metadata,
			// which costs no quota, is not found either, and blocks it),
			// its other endpoints are not called in the run; a 404 of
			// this endpoint alone fails this endpoint only.
			if _, err := c.accountMeta(ctx, a); err != nil && c.blockedErr(a) != nil {
				return c.block(a, notFound)
			}
			return notFound
		case se.Status == http.StatusTooManyRequests:
			return c.client.wrap(what, se) // company-level, retried up to the cap already
		}
		if name, ok := refusedParam(se.Status, ae, q); ok {
			return c.paramRefused(a, endpoint, name, q.Get(name), ae.describe(se.Status))
		}
		return c.client.wrap(what, se)
	}
}

// refusedParam is the query parameter a 400 refuses, if the call sent it:
// GoCardless puts a bad parameter's error under its name ({"date_from":
// {"summary":"Date can't be in future",…},"status_code":400},
// gocardless-api.md §5), which decodeAPIError reads into Fields.
func refusedParam(status int, ae apiError, q url.Values) (string, bool) {
	if status != http.StatusBadRequest {
		return "", false
	}
	for _, name := range ae.Fields {
		if q.Has(name) {
			return name, true
		}
	}
	return "", false
}

// paramRefused explains a 400 refusing a parameter the connector sent. The
// only one it sends is date_from, never later than the API's own today (its
// Date header): a refusal says GoCardless's day and that header disagree,
// which a later run gets past. So it is transient, names the account and
// what was sent, and the account keeps its state: nothing is skipped.
func (c *conn) paramRefused(a accountRef, endpoint, name, value, answer string) error {
	return &source.Error{Type: protocol.TransientError, Msg: fmt.Sprintf(
		"account %s (requisition %s): GoCardless refused the %s call's %s=%s (%s). The connector never asks past the API's own today (%s by its Date header), so GoCardless's day and its clock disagree; the account keeps its state and is read from the same day by the next run: run again later, and if it repeats, report this message",
		a.ID, a.RequisitionID, endpoint, name, value, answer, c.clock.Today().Format(time.DateOnly))}
}

// accountLimited tells a 429 that spends an account's quota from the
// company-wide per-minute limit (which is worth a short wait and a retry).
// Both per-account limits are: the institution's own (type RateLimitError,
// "Daily request limit set by the Institution has been exceeded.", no
// seconds) and GoCardless's per account and scope (4 a day since March
// 2025: no type, "The rate limit for this resource is 4/day. Please try
// again in 85092 seconds"). So a 429 is the account's when it has a type,
// when its per-account headers say nothing remains, or when it asks to wait
// longer than the company limit's minute or names a daily rate.
func accountLimited(h http.Header, ae apiError) bool {
	if ae.Type != "" {
		return true
	}
	if n, ok := rateLimitInt(h, "x-ratelimit-account-success-remaining"); ok && n == 0 {
		return true
	}
	if d, ok := detailSeconds(ae.detail()); ok && d > time.Minute {
		return true
	}
	return containsFold(ae.detail(), "/day")
}

// processing tells the temporary 409 ("Account is Processing": "Your
// account data is currently being processed. Please try again shortly",
// firefly-iii#10531) from a suspension (firefly-iii#8534), which needs a
// new requisition. Only the summary tells them apart.
func processing(ae apiError) bool {
	return containsFold(ae.Summary, "processing") && !containsFold(ae.Summary, "suspended")
}

// processingSkip is an account whose data GoCardless is still preparing:
// it is left alone for the rest of the run, with a WARN, like a spent quota.
type processingSkip struct {
	account  accountRef
	endpoint string
	answer   string
}

// Skipped implements source.Skipped.
func (e *processingSkip) Skipped() bool { return true }

func (e *processingSkip) Error() string {
	return fmt.Sprintf("account %s (requisition %s): GoCardless is still processing its data (%s on %s); the account is skipped this run and keeps its state. A later run reads it",
		e.account.ID, e.account.RequisitionID, e.answer, e.endpoint)
}

// accessExpired tells an answer that means the end user must link the bank
// again: 401 AccessExpiredError or AccountInactiveError, or the 400/401 an
// expired end-user agreement gets ("EUA was valid for 90 days and it expired
// at …").
func accessExpired(status int, ae apiError) bool {
	if status != http.StatusUnauthorized && status != http.StatusBadRequest && status != http.StatusForbidden {
		return false
	}
	if ae.Type == typeAccessExpired || ae.Type == typeAccountInactive {
		return true
	}
	return containsFold(ae.Summary, "access has expired") || containsFold(ae.detail(), "EUA was valid") ||
		containsFold(ae.Summary+" "+ae.detail(), "end user agreement") && containsFold(ae.Summary+" "+ae.detail(), "expired")
}

func (c *conn) observeQuota(ctx context.Context, a accountRef, endpoint string, h http.Header) {
	if q, ok := accountQuota(h, c.clock.Now()); ok {
		if reset, ok := rateLimitInt(h, "x-ratelimit-account-success-reset"); ok {
			c.capReset(ctx, a, endpoint, time.Duration(min(reset, 1<<30))*time.Second)
		}
		c.quotas.Update(a.ID, endpoint, func(old *allowance) { q.Failed, q.FailedAt = old.Failed, old.FailedAt; *old = q })
	}
}

// capReset bounds a reset the API announced for a's endpoint to a day, with
// a WARN (once per account and endpoint) when it claimed more.
func (c *conn) capReset(ctx context.Context, a accountRef, endpoint string, d time.Duration) time.Duration {
	capped, over := capReset(d)
	if over {
		source.WarnOnce(ctx, "quota-reset-capped "+a.ID+" "+endpoint, "GoCardless said the account's quota resets later than a day, the window; the connector takes it as resetting in a day, so one absurd answer cannot leave the account unread for longer",
			"account", a.ID, "endpoint", endpoint, "resets_in", d, "taken_as", quota.Window)
	}
	return capped
}

// failedInARow is the account's failed accesses in a row that the ledger
// knows of (every endpoint's, as GoCardless counts them per account), and
// the time of the last.
func (c *conn) failedInARow(account string) (n int, last time.Time) {
	for _, endpoint := range []string{quota.Details, quota.Balances, quota.Transactions} {
		q := c.quotas.Get(account, endpoint)
		n += q.Failed
		if t := q.failedAt(); t.After(last) {
			last = t
		}
	}
	return n, last
}

// answered clears the account's failed accesses: one call succeeded.
func (c *conn) answered(account string) {
	for _, endpoint := range []string{quota.Details, quota.Balances, quota.Transactions} {
		if c.quotas.Get(account, endpoint).Failed > 0 {
			c.quotas.Update(account, endpoint, func(q *allowance) { q.Failed, q.FailedAt = 0, "" })
		}
	}
}

func (c *conn) institutionFailed(account string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures[account]++
	return c.failures[account]
}

func (c *conn) block(a accountRef, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.blocked[a.ID] = err
	return err
}

// blockRequisition blocks every account of a requisition: its access is
// gone for all of them, and each call would count towards suspension.
func (c *conn) blockRequisition(reqID string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.blocked["requisition:"+reqID] = err
}

func (c *conn) blockedErr(a accountRef) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.blocked[a.ID]; err != nil {
		return err
	}
	return c.blocked["requisition:"+a.RequisitionID]
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

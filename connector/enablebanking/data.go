package enablebanking

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// quotaSkip is a bank-backed call not made, or refused by the bank, because
// the account's daily limit for the endpoint is spent. It is not a failure
// of an incremental stream, which warns, completes and keeps the account's
// state; a full-refresh one ends INCOMPLETE (source.SkippedPart).
type quotaSkip struct {
	account  accountRef
	endpoint string
	until    time.Time
	refused  bool // the bank said so this run (else the ledger did)
	// earlier: the ledger holds a refusal the bank gave before (this run
	// or an earlier one), not calls it counted.
	earlier bool
	made    int // refused: this connector's calls in the last 24 hours
	limit   int // config.daily_limit
}

// Skipped implements source.Skipped.
func (e *quotaSkip) Skipped() bool { return true }

func (e *quotaSkip) Error() string {
	return fmt.Sprintf("account %s: %s limit spent until %s", e.account.Key, e.endpoint, e.until.Format(time.RFC3339))
}

// warnSkip tells the user about a skipped call, once per account and
// endpoint (callers are memoized).
func (c *conn) warnSkip(ctx context.Context, s *quotaSkip) {
	why := fmt.Sprintf("the connector has made the %d calls config.daily_limit allows in 24 hours", s.limit)
	switch {
	case s.refused && (s.limit == 0 || s.made < s.limit):
		// Not this connector's calls alone: the bank counts more of them
		// than the books (the reference, §5: per account, endpoint or
		// consent, rolling or calendar day, bank-specific).
		why = fmt.Sprintf("the bank refused the call (ASPSP_RATE_LIMIT_EXCEEDED) though the connector made %d of the account's %s calls in 24 hours: the bank also counts other calls (another application's, or the account's other endpoints or the consent's other accounts when it counts per account or per consent) or another window (a calendar day), and says neither nor its reset, so it is not retried in this run and not called for a full day", s.made, s.endpoint)
	case s.refused:
		why = "the bank refused the call (ASPSP_RATE_LIMIT_EXCEEDED); it is not retried in this run"
	case s.earlier:
		why = "the bank refused a call of it earlier (ASPSP_RATE_LIMIT_EXCEEDED, kept in the state), and that refusal holds until then"
	}
	in := s.until.Sub(c.clock.Now()).Round(time.Minute)
	// Through the stream being read, whose name begins the line, as every
	// LOG of a stream's does.
	source.WarnOnce(ctx, "daily-limit "+s.account.Key+" "+s.endpoint, "the bank's daily limit for the endpoint's unattended calls is spent: "+why+". Not calling it until the reset: "+source.SkipMeaning(ctx)+", and a run after that time reads it",
		"account", s.account.Key, "uid", s.account.UID, "session", s.account.SessionID, "endpoint", s.endpoint, "until", s.until.Format(time.RFC3339), "in", in)
}

// bankCall makes one bank-backed request (details, balances, a page of
// transactions) of an account, with what the limit and session rules ask:
//   - an account whose session failed earlier in the run is not called;
//   - counted (a first page) calls the ledger says would go over are not
//     made (*quotaSkip), and successful ones are recorded;
//   - a refusal (ASPSP_RATE_LIMIT_EXCEEDED, or any 429) is recorded and
//     never retried (*quotaSkip);
//   - an expired, closed or revoked session blocks its accounts for the
//     rest of the run, with the message to authorise again; a refusal
//     naming the account (accountCodes) fails that account alone;
//   - a 401 or 404 without an error code fails the account alone;
//   - PSU headers go out only when config.attended is true.
func (c *conn) bankCall(ctx context.Context, a accountRef, endpoint, route, path string, q url.Values, counted bool, decode func([]byte) error) error {
	if err := c.blockedErr(a); err != nil {
		return err
	}
	if counted {
		if until, refusal, ok := c.quotas.allow(a.Key, endpoint); !ok {
			return &quotaSkip{account: a, endpoint: endpoint, until: until, earlier: refusal, limit: c.quotas.limit}
		}
	}
	_, err := c.client.do(ctx, call{method: http.MethodGet, route: route, path: path, query: q, header: c.psu, decode: decode, bankBacked: true})
	if err == nil {
		if counted {
			c.quotas.spend(a.Key, endpoint)
		}
		return nil
	}
	se, ae, ok := statusOf(err)
	if !ok {
		return c.client.wrap(fmt.Sprintf("account %s %s", a.Key, endpoint), err)
	}
	if ae.Error == "" && (se.Status == http.StatusUnauthorized || se.Status == http.StatusNotFound) {
		// A bare 401 or 404 on one account's endpoint: without the code
		// it is not the session's end (Enable Banking answers 401 for
		// other errors too; the reference, §6), nor the key's, which has
		// just read the session. The account fails, named; the rest is
		// read.
		return source.WithNote(&source.Error{Type: protocol.TransientError, Err: err, Quoted: true, Msg: c.client.secrets.String(fmt.Sprintf(
			"account %s (uid %s, session %s): Enable Banking refused the %s call with %s, without an error code: not taken for the session's end, nor for a wrong key (the same key read the session); the account's state is kept: run again later, and if it goes on, authorise the session again (source-enablebanking connect)",
			a.Key, a.UID, a.SessionID, endpoint, ae.describe(se.Status)))}, c.env.OnAirbyte(reauthNote))
	}
	switch classify(se.Status, ae) {
	case classRateLimited:
		until, made := c.quotas.refused(a.Key, endpoint)
		return &quotaSkip{account: a, endpoint: endpoint, until: until, refused: true, made: made, limit: c.quotas.limit}
	case classReauth:
		sess, _ := c.session(ctx, a.SessionID) // read already, when its accounts were listed
		err := c.reauthError(a.SessionID, fmt.Sprintf("Enable Banking refused account %s with %s", a.UID, ae.describe(se.Status)), sess)
		if accountCodes[ae.Error] {
			// A code naming the account leaves the session's others to
			// their own calls: one account closed at the bank must not
			// stop them. This one is not called again in the run.
			c.block(accountBlock(a), err)
		} else {
			c.block(a.SessionID, err) // the session is gone: none of its accounts is called
		}
		return err
	case classPSUHeaders:
		return c.psuRefusal(a, endpoint, ae, se.Status)
	case classBank:
		// A blanket 400 ASPSP_ERROR also hides refusals that running
		// again will not change (the reference, §5-6): some banks answer
		// so every unattended call (Sparebanken Vest, Bulder). An
		// unattended run says what to try when it keeps coming.
		hint := ""
		if !c.cfg.Attended && ae.Error == codeASPSPError && se.Status == http.StatusBadRequest {
			hint = "; if it fails so on every run, the bank may refuse unattended reads (some answer every call without PSU headers this way): read it with config.attended true, psu_ip_address and psu_user_agent, while the account holder is there"
		}
		// Err keeps the answer, for a caller that can do something
		// about it (fetchTransactions narrowing its window).
		return &source.Error{Type: protocol.TransientError, Err: err, Quoted: true, Msg: c.client.secrets.String(fmt.Sprintf(
			"account %s (uid %s, session %s): the bank failed the %s call (%s); the account's state is kept: run again later%s",
			a.Key, a.UID, a.SessionID, endpoint, ae.describe(se.Status), hint))}
	}
	return c.client.wrap(fmt.Sprintf("account %s (uid %s) %s", a.Key, a.UID, endpoint), err)
}

// psuRefusal is the config error of a PSU_HEADER_NOT_PROVIDED or
// PSU_HEADER_INVALID answer, with the fix that works in the run's mode.
// Enable Banking takes either all of a bank's required PSU headers (GET
// /aspsps, required_psu_headers) or none (the reference, §5), and attended
// mode sends two: a bank requiring more refuses every attended call, and
// is read with no PSU header at all (attended false), never by running
// attended. An unattended call carries none, so its refusal means the
// bank wants the holder present.
func (c *conn) psuRefusal(a accountRef, endpoint string, ae apiError, status int) error {
	who := fmt.Sprintf("account %s (uid %s, session %s)", a.Key, a.UID, a.SessionID)
	switch {
	case c.cfg.Attended && ae.Error == codePSUHeaderInvalid:
		return source.ConfigErrorf("%s: the bank refused a PSU header of the attended %s call (%s): check config.psu_ip_address (the holder's IP address) and config.psu_user_agent (the holder's browser user agent)", who, endpoint, ae.describe(status))
	case c.cfg.Attended:
		return source.ConfigErrorf("%s: the bank refused the attended %s call (%s): it requires PSU headers beyond the two an attended run sends (Psu-Ip-Address and Psu-User-Agent), and Enable Banking takes either all of a bank's required PSU headers (GET /aspsps lists them, required_psu_headers) or none. Read this account with config.attended false: no PSU header is sent, and its calls are unattended ones, counted against daily_limit", who, endpoint, ae.describe(status))
	}
	return source.ConfigErrorf("%s: the bank refused an unattended %s call, which carries no PSU header (%s), though Enable Banking takes a call with none of a bank's required PSU headers: the bank wants the account holder present. It can be read only attended (config.attended true with the holder's psu_ip_address and psu_user_agent, while the holder is there), and only if those two are all the bank requires (GET /aspsps, required_psu_headers)", who, endpoint, ae.describe(status))
}

func (c *conn) block(sessionID string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.blocked[sessionID] == nil {
		c.blocked[sessionID] = err
	}
}

func (c *conn) blockedErr(a accountRef) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.blocked[a.SessionID]; err != nil {
		return err
	}
	return c.blocked[accountBlock(a)]
}

// accountBlock is the key in conn.blocked of one account refused on its
// own (accountCodes); session ids, the other keys, are UUIDs.
func accountBlock(a accountRef) string { return "account " + a.SessionID + " " + a.UID }

// accountPath is /accounts/{uid}/endpoint.
func accountPath(uid, endpoint string) string {
	return "/accounts/" + url.PathEscape(uid) + "/" + endpoint
}

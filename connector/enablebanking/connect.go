package enablebanking

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/source-pluggy/source-pluggy/connector/connect"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// CallbackPath is where the bank sends the browser back: a fixed path on
// the loopback server, so that one redirect URL
// (http://127.0.0.1:PORT/enablebanking/callback with a fixed --listen
// port) can be registered with the application. The run is bound by the
// OAuth state, 128 random bits checked on return.
const CallbackPath = "/enablebanking/callback"

// ConnectCommand is `source-enablebanking connect`: it lists the country's
// banks (ASPSPs), starts an authorisation (POST /auth) whose redirect is
// the local server, opens the bank's page in the user's browser, exchanges
// the returned code for a session (POST /sessions), prints one JSON line
// with the session id and its accounts and, with --write, adds the session
// to the config's session_ids.
func ConnectCommand(r *source.Runner) source.Command {
	var o connectOptions
	return connect.Command(r, "authorise a bank in your browser; print (or --write) the new session id and its accounts", "session_ids",
		func(fs *pflag.FlagSet) {
			fs.StringVar(&o.country, "country", "", "the bank's country, ISO 3166 two letters (FI, SE, DE, ...)")
			fs.StringVar(&o.aspsp, "aspsp", "", "the bank's name exactly as GET /aspsps lists it")
			fs.StringVar(&o.search, "search", "", "pick the bank whose name contains this text (case-insensitive); several matches are listed")
			fs.StringVar(&o.psuType, "psu-type", "personal", "personal or business")
			fs.IntVar(&o.days, "days", 180, "how many days the consent lasts, at most the bank's maximum")
		},
		func(ctx context.Context, s *connect.Session) error { return connectSession(ctx, s, o) },
		connect.FixedRedirect(CallbackPath))
}

type connectOptions struct {
	country, aspsp, search, psuType string
	days                            int
}

// ConnectResult is the line `connect` prints on stdout.
type ConnectResult struct {
	SessionID  string          `json:"session_id"`
	ASPSP      aspspRef        `json:"aspsp"`
	ValidUntil string          `json:"valid_until"`
	Accounts   []ConnectedAcct `json:"accounts"`
}

type aspspRef struct {
	Name    string `json:"name"`
	Country string `json:"country"`
}

// ConnectedAcct is what the result says of each authorised account: its
// IBAN masked but for the last 4 (connect.MaskAccountID), as GoCardless's
// connect prints it, and its product ("Current account") to tell the
// accounts apart. The bank's other identifiers (BBAN, PAN, other account
// numbers) and the account's name, which Enable Banking gives as the
// holder's, are personal data a terminal or a CI log keeps: not printed.
type ConnectedAcct struct {
	UID                string `json:"uid"`
	IdentificationHash string `json:"identification_hash"`
	IBAN               string `json:"iban,omitempty"`
	Product            string `json:"product,omitempty"`
	Currency           string `json:"currency,omitempty"`
}

// aspsp is what connect reads of a bank in GET /aspsps.
type aspsp struct {
	Name                   string `json:"name"`
	Country                string `json:"country"`
	MaximumConsentValidity int64  `json:"maximum_consent_validity"`
}

func connectSession(ctx context.Context, s *connect.Session, o connectOptions) error {
	o.country = strings.ToUpper(strings.TrimSpace(o.country))
	switch {
	case len(o.country) != 2:
		return connect.Usagef("--country %q is not a two-letter country code (FI, SE, DE, ...); it is required", o.country)
	case o.aspsp != "" && o.search != "":
		return connect.Usagef("--aspsp and --search both given; keep one")
	case o.psuType != "personal" && o.psuType != "business":
		return connect.Usagef("--psu-type %q must be personal or business", o.psuType)
	case o.days < 1:
		return connect.Usagef("--days must be at least 1")
	}
	src, err := Source{}.Open(ctx, s.Config, s.Env())
	if err != nil {
		return err
	}
	c := src.(*conn)
	c.client.http.Interactive()

	bank, err := c.pickASPSP(ctx, s, o)
	if err != nil {
		return err
	}
	srv, err := s.Serve()
	if err != nil {
		return err
	}
	state := connect.Token()
	results := make(chan callbackResult, 1)
	srv.HandleFixed("GET "+CallbackPath, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			// With the fixed --listen port the application registered, a
			// bank tab left from an earlier run comes back here.
			http.Error(w, "this page belongs to another authorisation (an earlier connect run?); finish at the bank page this run printed, or run connect again", http.StatusBadRequest)
			return
		}
		res := callbackResult{code: q.Get("code")}
		if e := q.Get("error"); e != "" || res.code == "" {
			res = callbackResult{err: fmt.Errorf("the bank did not authorise access: %s %s; nothing was written: run connect again to authorise", orNone(e), q.Get("error_description"))}
		}
		select {
		case results <- res: // the first answer wins; a reload shows its outcome
		default:
		}
		// The page waits for the code's exchange (and --write): only then
		// is it known whether the bank was connected.
		done, err := s.Outcome(r.Context())
		connect.HTML(w, callbackPage(done, err))
	})
	redirect := srv.Origin() + CallbackPath
	// AddDate: --days times a day's Duration overflows past 106,751 days.
	until := c.clock.Now().AddDate(0, 0, o.days)
	if longest := time.Duration(bank.MaximumConsentValidity) * time.Second; longest > time.Hour && until.After(c.clock.Now().Add(longest-time.Hour)) {
		until = c.clock.Now().Add(longest - time.Hour) // the API refuses more than the bank's maximum
	}
	authURL, err := c.startAuth(ctx, bank, state, redirect, o.psuType, until)
	if err != nil {
		return err
	}
	s.Show(authURL, fmt.Sprintf("to authorise %s (%s) at the bank; it sends your browser back to %s", bank.Name, bank.Country, redirect))

	res, err := connect.Wait(ctx, results, "the bank to send the browser back")
	if err != nil {
		return err
	}
	if res.err != nil {
		return res.err
	}
	out, err := c.createSession(ctx, res.code)
	if err != nil {
		return err
	}
	s.Logf("Enable Banking authorised session %s with %d account(s)", out.SessionID, len(out.Accounts))
	if s.Write {
		// Both edits are planned before either is written, from lookups of
		// the configured sessions. Each lookup that fails is read as a
		// session of another login (kept) or unknown accounts (added), so
		// lookups cut short by Ctrl-C or --timeout would plan a wrong
		// config: the expired session kept beside the new one, excluded
		// accounts added. Then nothing is written, as for any stopped run,
		// and the message keeps the new session's id.
		replaced, stale := c.replacedSessions(ctx, out)
		var plan accountUIDsPlan
		if c.cfg.only != nil {
			plan = c.planAccountUIDs(ctx, out, replaced)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("session %s is authorised, but nothing was written to %s (the run ended while it looked up the configured sessions): add it to session_ids yourself, in place of the session of %s it renews, if any: %w", out.SessionID, s.ConfigPath, out.ASPSP.Name, err)
		}
		added, err := connect.EditList(s.ConfigPath, s.ListField, func(ids []string) []string {
			return placeSession(ids, out.SessionID, replaced)
		})
		if err != nil {
			return fmt.Errorf("session %s is authorised, but %w; add it to session_ids by hand", out.SessionID, err)
		}
		if added {
			for _, r := range replaced {
				s.Logf("Replaced session %s (%s; every account of it is in the new session) by %s in session_ids in %s", r.id, r.why, out.SessionID, s.ConfigPath)
			}
			if len(replaced) == 0 {
				s.Logf("Added session %s to session_ids in %s", out.SessionID, s.ConfigPath)
			}
		}
		for _, r := range stale {
			s.Logf("Session %s (%s) stays in session_ids in %s: the new session does not hold its account(s) %s (not authorised again), and every check and read fails on it until you remove it from session_ids. Their state is kept by identification_hash: authorised again later, they continue where they stopped",
				r.id, r.why, s.ConfigPath, strings.Join(r.missing, ", "))
		}
		if c.cfg.only != nil {
			if _, err := connect.EditList(s.ConfigPath, "account_uids", plan.apply); err != nil {
				return fmt.Errorf("session %s is authorised and in session_ids, but %w; add its accounts to account_uids by hand", out.SessionID, err)
			}
			for _, r := range plan.renamed {
				s.Logf("Replaced uid %s by the account's identification_hash %s in account_uids in %s: the uid ended with the replaced session", r[0], r[1], s.ConfigPath)
			}
			if len(plan.added) > 0 {
				s.Logf("Added the new session's account(s) %s to account_uids in %s: the config reads only the accounts listed there", strings.Join(plan.added, ", "), s.ConfigPath)
			}
			if len(plan.out) > 0 {
				s.Logf("Left the new session's account(s) %s out of account_uids in %s, as it left them out before: reads pass them over; add one there to read it", strings.Join(plan.out, ", "), s.ConfigPath)
			}
		}
	}
	return s.Result(out)
}

// replacedSession is a configured session the new one replaces (or, with
// missing set, cannot, as it does not hold the accounts missing names),
// and why it can no longer be read.
type replacedSession struct {
	id, why string
	missing []string
}

// accountUIDsPlan is how connect --write changes the account_uids of a
// config that reads only the accounts listed there. An account of the new
// session that a configured session holds too (the same
// identification_hash, as after re-authorising) keeps its place: in when
// listed, by uid or hash, and then listed by its hash, as its uid in a
// replaced session ends with it (left, it would fail every read); out when
// not listed, which the user chose. Any other account is new, and is added
// by its identification_hash (its uid without one): else reads would pass
// it over without a word.
type accountUIDsPlan struct {
	added []string
	// renamed are [old uid, identification_hash] pairs; out, the accounts
	// left out as before.
	renamed [][2]string
	out     []string
}

func (c *conn) planAccountUIDs(ctx context.Context, fresh ConnectResult, replaced []replacedSession) accountUIDsPlan {
	var p accountUIDsPlan
	gone := map[string]bool{}
	for _, r := range replaced {
		gone[strings.ToLower(r.id)] = true
	}
	known, listed := map[string]bool{}, map[string]bool{}
	staleUIDs := map[string][]string{} // hash: listed uids of replaced sessions
	for _, id := range c.cfg.SessionIDs {
		if strings.EqualFold(id, fresh.SessionID) {
			continue
		}
		sess, err := c.session(ctx, id)
		if err != nil {
			continue // unknown accounts: the new ones are added
		}
		for _, d := range sess.AccountsData {
			h, uid := strings.ToLower(d.IdentificationHash), strings.ToLower(d.UID)
			if h == "" {
				continue
			}
			known[h] = true
			if c.cfg.only[h] || (uid != "" && c.cfg.only[uid]) {
				listed[h] = true
			}
			if uid != "" && c.cfg.only[uid] && gone[strings.ToLower(id)] {
				staleUIDs[h] = append(staleUIDs[h], uid)
			}
		}
	}
	for _, a := range fresh.Accounts {
		h := strings.ToLower(a.IdentificationHash)
		switch {
		case h == "":
			if a.UID != "" {
				p.added = append(p.added, a.UID)
			}
		case !known[h]:
			p.added = append(p.added, a.IdentificationHash)
		case !listed[h]:
			p.out = append(p.out, a.IdentificationHash)
		default:
			for _, uid := range staleUIDs[h] {
				p.renamed = append(p.renamed, [2]string{uid, a.IdentificationHash})
			}
			if !c.cfg.only[h] && len(staleUIDs[h]) == 0 {
				p.added = append(p.added, a.IdentificationHash)
			}
		}
	}
	return p
}

// apply is the plan as an edit of account_uids. A renamed account's hash
// goes in its uid's place.
func (p accountUIDsPlan) apply(ids []string) []string {
	in := map[string]string{} // old uid: its hash
	for _, r := range p.renamed {
		in[r[0]] = r[1]
	}
	out, seen := []string{}, map[string]bool{}
	add := func(id string) {
		if !seen[strings.ToLower(id)] {
			seen[strings.ToLower(id)] = true
			out = append(out, id)
		}
	}
	for _, id := range ids {
		if h, ok := in[strings.ToLower(id)]; ok {
			add(h)
		} else {
			add(id)
		}
	}
	for _, id := range p.added {
		add(id)
	}
	return out
}

// replacedSessions are the configured sessions the new session out takes
// the place of: at the same bank, every account of theirs among out's (the
// same identification_hash; re-authorising gives the same accounts new
// uids), and no longer readable (not AUTHORIZED, or past valid_until) or
// renewed (readable until no later than out's valid_until).
// Left in session_ids, each would fail every later check and read. A
// session that cannot be fetched, or whose accounts are not all in out,
// stays: it may be another login's. The unreadable ones of the same bank
// that stay are stale, with the accounts out lacks, so connect can say
// why every check will go on failing.
func (c *conn) replacedSessions(ctx context.Context, out ConnectResult) (rs, stale []replacedSession) {
	fresh := map[string]bool{}
	for _, a := range out.Accounts {
		if a.IdentificationHash != "" {
			fresh[a.IdentificationHash] = true
		}
	}
	freshUntil, err := time.Parse(time.RFC3339, out.ValidUntil)
	freshUntilOK := err == nil
	for _, id := range c.cfg.SessionIDs {
		if strings.EqualFold(id, out.SessionID) {
			continue
		}
		sess, err := c.session(ctx, id)
		if err != nil || len(sess.AccountsData) == 0 ||
			!strings.EqualFold(sess.ASPSP.Name, out.ASPSP.Name) || !strings.EqualFold(sess.ASPSP.Country, out.ASPSP.Country) {
			continue
		}
		why, renewed := "", false
		until, err := time.Parse(time.RFC3339, sess.Access.ValidUntil)
		switch {
		case !strings.EqualFold(sess.Status, "AUTHORIZED"):
			why = "status " + sess.Status
		case err == nil && !until.After(c.clock.Now()):
			why = "its access ended at " + until.UTC().Format(time.RFC3339)
		case err == nil && freshUntilOK && !until.After(freshUntil):
			// Renewed before it ended, as the WARN a week ahead asks: left
			// beside the new session, it would fail every check once it
			// ends, and its message would send the user to connect again.
			why, renewed = "still readable until "+until.UTC().Format(time.RFC3339)+", which the new session outlasts", true
		}
		if why == "" {
			continue
		}
		var missing []string
		for _, d := range sess.AccountsData {
			if !fresh[d.IdentificationHash] {
				missing = append(missing, cmp.Or(d.IdentificationHash, "uid "+d.UID))
			}
		}
		switch {
		case len(missing) == 0:
			rs = append(rs, replacedSession{id: id, why: why})
		case !renewed: // a readable session of other accounts is another login's
			stale = append(stale, replacedSession{id: id, why: why, missing: missing})
		}
	}
	return rs, stale
}

// placeSession puts the new session in ids: in the place of the first
// session it replaces (the others replaced are dropped), else at the end,
// never twice.
func placeSession(ids []string, newID string, replaced []replacedSession) []string {
	drop := map[string]bool{strings.ToLower(newID): true}
	for _, r := range replaced {
		drop[strings.ToLower(r.id)] = true
	}
	out, placed := []string{}, false
	for _, id := range ids {
		if !drop[strings.ToLower(id)] {
			out = append(out, id)
		} else if !placed {
			out, placed = append(out, newID), true
		}
	}
	if !placed {
		out = append(out, newID)
	}
	return out
}

type callbackResult struct {
	code string
	err  error
}

func orNone(s string) string {
	if s == "" {
		return "(no code in the redirect)"
	}
	return s
}

// pickASPSP lists the country's banks and picks the one --aspsp names or
// --search matches; with neither, or several matches, it lists them.
func (c *conn) pickASPSP(ctx context.Context, s *connect.Session, o connectOptions) (aspsp, error) {
	var env struct {
		ASPSPs []aspsp `json:"aspsps"`
	}
	q := url.Values{"country": {o.country}, "service": {"AIS"}, "psu_type": {o.psuType}}
	_, err := c.client.do(ctx, call{method: http.MethodGet, route: "GET /aspsps", path: "/aspsps", query: q, decode: func(b []byte) error { return json.Unmarshal(b, &env) }})
	if err != nil {
		return aspsp{}, c.unreachable(c.client.wrap("listing the banks", err))
	}
	var match []aspsp
	for _, b := range env.ASPSPs {
		switch {
		case o.aspsp != "" && strings.EqualFold(b.Name, o.aspsp):
			return b, nil
		case o.aspsp == "" && (o.search == "" || strings.Contains(strings.ToLower(b.Name), strings.ToLower(o.search))):
			match = append(match, b)
		}
	}
	if len(match) == 1 && o.search != "" {
		return match[0], nil
	}
	if o.aspsp != "" || len(match) == 0 {
		match = env.ASPSPs
	}
	names := make([]string, len(match))
	for i, b := range match {
		names[i] = b.Name
	}
	sort.Strings(names)
	for _, n := range names {
		s.Logf("  %s", n)
	}
	what := "pick one"
	switch {
	case len(env.ASPSPs) == 0:
		return aspsp{}, connect.Usagef("Enable Banking lists no bank in country %s for this application", o.country)
	case o.aspsp != "":
		what = fmt.Sprintf("no bank in %s is named %q", o.country, o.aspsp)
	case o.search != "" && len(match) == len(env.ASPSPs):
		what = fmt.Sprintf("no bank in %s matches %q", o.country, o.search)
	case o.search != "":
		what = fmt.Sprintf("%d banks match %q", len(match), o.search)
	}
	return aspsp{}, connect.Usagef("%s; the banks above are the choices: rerun with --aspsp NAME", what)
}

// startAuth is POST /auth; it returns the URL of the bank's page.
func (c *conn) startAuth(ctx context.Context, b aspsp, state, redirect, psuType string, until time.Time) (string, error) {
	body := map[string]any{
		"access":       map[string]any{"valid_until": until.UTC().Format(time.RFC3339)},
		"aspsp":        map[string]string{"name": b.Name, "country": b.Country},
		"state":        state,
		"redirect_url": redirect,
		"psu_type":     psuType,
	}
	var out struct {
		URL string `json:"url"`
	}
	_, err := c.client.do(ctx, call{method: http.MethodPost, route: "POST /auth", path: "/auth", body: body, decode: func(b []byte) error {
		if err := json.Unmarshal(b, &out); err != nil {
			return err
		}
		if !strings.HasPrefix(out.URL, "https://") && !strings.HasPrefix(out.URL, "http://") {
			return errors.New("no url in the answer")
		}
		return nil
	}})
	if se, ae, ok := statusOf(err); ok && ae.Error == "REDIRECT_URI_NOT_ALLOWED" {
		return "", c.redirectRefused(ctx, redirect, ae.describe(se.Status))
	}
	if err != nil {
		return "", c.client.wrap("starting the authorisation", err)
	}
	return out.URL, nil
}

// redirectRefused is the error of a POST /auth whose redirect_url the
// application has not registered (REDIRECT_URI_NOT_ALLOWED), with the fix
// its registered URLs (GET /application) point to: the --listen that makes
// connect send one of them, or, when none is a loopback http URL of
// CallbackPath (connect serves plain http on a numeric loopback address;
// some applications may take https only, the reference says, unverified),
// the one to register.
func (c *conn) redirectRefused(ctx context.Context, redirect, answer string) error {
	var app struct {
		RedirectURLs []string `json:"redirect_urls"`
	}
	_ = c.client.getJSON(ctx, "GET /application", "/application", &app)
	msg := fmt.Sprintf("Enable Banking refused the redirect URL %s, which connect sends (%s): the application takes only the redirect URLs registered with it", redirect, answer)
	const register = "register http://127.0.0.1:PORT" + CallbackPath + " (PORT a free port of your choice, e.g. 8080) with the application in the Enable Banking Control Panel, and run connect with --listen 127.0.0.1:PORT"
	var usable []string
	https := len(app.RedirectURLs) > 0
	for _, raw := range app.RedirectURLs {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		https = https && u.Scheme == "https"
		if ip := net.ParseIP(u.Hostname()); u.Scheme == "http" && ip != nil && ip.IsLoopback() && u.Port() != "" && u.Path == CallbackPath && u.RawQuery == "" {
			usable = append(usable, raw)
		}
	}
	switch {
	case len(usable) > 0:
		u, _ := url.Parse(usable[0])
		return fmt.Errorf("%s, and it registers %s: run connect with --listen %s", msg, usable[0], u.Host)
	case https:
		return fmt.Errorf("%s, and it registers only https ones (%s), while connect serves plain http on loopback: %s (if the Control Panel takes no http URL, connect cannot authorise with this application)", msg, strings.Join(app.RedirectURLs, ", "), register)
	case len(app.RedirectURLs) > 0:
		return fmt.Errorf("%s (it registers %s, none of which connect can serve: a loopback http URL of %s with a port): %s", msg, strings.Join(app.RedirectURLs, ", "), CallbackPath, register)
	}
	return fmt.Errorf("%s: %s", msg, register)
}

// codeAdvice is what to do when POST /sessions refuses the code the bank
// sent back: it is single-use and short-lived, and no session was made.
var codeAdvice = map[string]string{
	"EXPIRED_AUTHORIZATION_CODE": "the code the bank sent back expired before it was exchanged (it lives only minutes: the authorisation took too long); nothing was written; run connect again and finish at the bank without a pause",
	"ALREADY_AUTHORIZED":         "the code the bank sent back was exchanged already (a reloaded page or a repeated redirect); nothing was written; if another connect printed the session, use that one, otherwise run connect again",
	"WRONG_AUTHORIZATION_CODE":   "Enable Banking does not know the code the bank sent back; nothing was written; run connect again",
}

// createSession is POST /sessions with the code the bank sent back. The
// code is a credential until it is exchanged, and a refusal may quote the
// request back (a front end echoing its body): it is masked in the error,
// which goes to stderr and to the callback page.
func (c *conn) createSession(ctx context.Context, code string) (ConnectResult, error) {
	c.client.secrets.Add(code)
	var raw struct {
		SessionID string            `json:"session_id"`
		Accounts  []json.RawMessage `json:"accounts"`
		ASPSP     aspspRef          `json:"aspsp"`
		Access    struct {
			ValidUntil string `json:"valid_until"`
		} `json:"access"`
	}
	_, err := c.client.do(ctx, call{method: http.MethodPost, route: "POST /sessions", path: "/sessions", body: map[string]string{"code": code}, decode: func(b []byte) error {
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		if raw.SessionID == "" {
			return errors.New("no session_id in the answer")
		}
		return nil
	}})
	if _, ae, ok := statusOf(err); ok && codeAdvice[ae.Error] != "" {
		return ConnectResult{}, fmt.Errorf("%w; %s", c.client.wrap("creating the session", err), codeAdvice[ae.Error])
	}
	if err != nil {
		return ConnectResult{}, c.client.wrap("creating the session", err)
	}
	out := ConnectResult{SessionID: raw.SessionID, ASPSP: raw.ASPSP, ValidUntil: raw.Access.ValidUntil, Accounts: []ConnectedAcct{}}
	for _, a := range raw.Accounts {
		var acct struct {
			UID       string `json:"uid"`
			Hash      string `json:"identification_hash"`
			Product   string `json:"product"`
			Currency  string `json:"currency"`
			AccountID struct {
				IBAN string `json:"iban"`
			} `json:"account_id"`
		}
		if json.Unmarshal(a, &acct) == nil {
			out.Accounts = append(out.Accounts, ConnectedAcct{UID: acct.UID, IdentificationHash: acct.Hash, IBAN: connect.MaskAccountID(acct.AccountID.IBAN), Product: acct.Product, Currency: acct.Currency})
		}
	}
	return out, nil
}

var callbackTemplate = template.Must(template.New("callback").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<title>source-enablebanking</title></head>
<body style="font-family:sans-serif">
<p id="status">{{.}}</p>
</body></html>
`))

// callbackPage is the page the bank's redirect gets once the run ended
// (done) with err, or while it still goes on; err is already redacted.
func callbackPage(done bool, err error) string {
	msg := "Authorised. You can close this tab and go back to the terminal."
	switch {
	case !done:
		msg = "The bank sent you back; Enable Banking has not confirmed the session yet. The terminal shows the outcome."
	case err != nil:
		msg = "Not connected: " + err.Error() + ". Close this tab; the terminal says the same."
	}
	var b strings.Builder
	_ = callbackTemplate.Execute(&b, msg)
	return b.String()
}

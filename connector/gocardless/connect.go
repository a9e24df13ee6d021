package gocardless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/source-pluggy/source-pluggy/connector/connect"
	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/quota"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// ConnectCommand is `source-gocardless-bank-data connect`: it picks an institution,
// creates an end-user agreement with the institution's own limits and a
// requisition whose redirect is a loopback callback bound to this run,
// sends the user to the bank's consent page, waits for the redirect, polls
// the requisition until it is linked (LN), prints it with its accounts and,
// with --write, adds it to requisition_ids. With --reconnect it replaces an
// expired requisition and maps the new account ids to the old ones.
func ConnectCommand(r *source.Runner) source.Command {
	var o connectOptions
	return connect.Command(r, "link a bank through GoCardless's consent flow in your browser; print (or --write) the requisition id", "requisition_ids",
		func(fs *pflag.FlagSet) {
			fs.StringVar(&o.country, "country", "", "the bank's country, an ISO 3166 two-letter code (e.g. DE, GB)")
			fs.StringVar(&o.institution, "institution", "", "the GoCardless institution id (e.g. ING_INGDDEFF)")
			fs.StringVar(&o.search, "search", "", "pick the institution of --country whose name, id or BIC contains this text")
			fs.StringVar(&o.reconnect, "reconnect", "", "replace this (expired) requisition: same bank by default; new accounts are matched to its old ones")
			fs.StringVar(&o.state, "state", "", "with --reconnect: the state file of your reads; --write moves each matched account's state to its new id")
			fs.BoolVar(&o.noState, "no-state", false, "with --reconnect --write and no --state: your reads keep no state to carry over (full refresh only)")
		},
		func(ctx context.Context, s *connect.Session) error { return linkBank(ctx, s, o) })
}

type connectOptions struct {
	country, institution, search, reconnect, state string
	noState                                        bool
}

// ConnectResult is the line `connect` prints on stdout.
type ConnectResult struct {
	RequisitionID string           `json:"requisition_id"`
	Status        string           `json:"status"`
	InstitutionID string           `json:"institution_id"`
	Accounts      []ConnectAccount `json:"accounts"`
	// Reconnect is set with --reconnect.
	Reconnect *Reconnect `json:"reconnect,omitempty"`
}

// ConnectAccount is one linked account, its IBAN masked but for the last 4.
type ConnectAccount struct {
	ID   string `json:"id"`
	IBAN string `json:"iban,omitempty"`
	Name string `json:"name,omitempty"`
}

// Reconnect says which new account continues which old one.
type Reconnect struct {
	Replaces string         `json:"replaces"`
	Mapping  []AccountMatch `json:"mapping"`
	// UnmatchedOld are old accounts no new account matched (their history
	// stops); UnmatchedNew are new accounts that start a history.
	UnmatchedOld []string `json:"unmatched_old"`
	UnmatchedNew []string `json:"unmatched_new"`
}

// AccountMatch is one old account and the new one that continues it.
type AccountMatch struct {
	Old string `json:"old"`
	New string `json:"new"`
	// By is what matched them: "iban", "iban+currency" or "masked_pan+currency".
	By string `json:"by"`
}

var (
	uuidRE    = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	countryRE = regexp.MustCompile(`^[A-Za-z]{2}$`)
)

// pollInterval is the pause between two looks at a requisition being
// linked (GET /requisitions/ allows 300 a minute).
var pollInterval = time.Second

func linkBank(ctx context.Context, s *connect.Session, o connectOptions) error {
	switch {
	case o.country != "" && !countryRE.MatchString(o.country):
		return connect.Usagef("--country %q is not a two-letter country code (ISO 3166, e.g. DE)", o.country)
	case o.institution != "" && o.search != "":
		return connect.Usagef("--institution and --search exclude each other: --search finds the institution id")
	case o.search != "" && o.country == "":
		return connect.Usagef("--search needs --country CC: it looks for the institution among that country's (e.g. --country DE --search %q)", o.search)
	case o.reconnect != "" && !uuidRE.MatchString(o.reconnect):
		return connect.Usagef("--reconnect %q is not a requisition id (a UUID); copy it from config.requisition_ids", o.reconnect)
	case o.state != "" && o.reconnect == "":
		return connect.Usagef("--state is only for --reconnect (it moves the old accounts' state to the new ids)")
	case o.noState && (o.reconnect == "" || o.state != ""):
		return connect.Usagef("--no-state is only for --reconnect without --state (reads that keep no state to carry over)")
	case o.reconnect != "" && s.Write && o.state == "" && !o.noState:
		// Without the state moved, the next incremental read would read
		// every matched account's whole history again under its new id
		// (each row twice in a destination keyed by account_id), and once
		// the requisition is replaced nothing can move it any more.
		return connect.Usagef("--reconnect --write needs --state FILE, the state of your reads, to carry each account's state over to its new id: without it the next read reads every account's whole history again under its new id, each row twice in a destination keyed by account_id. " +
			"Reads that keep their state elsewhere (--postgres, Airbyte, Meltano): export it to a file first (docs/connect.md, \"Reconnect an expired requisition\"); reads that keep none (full refresh only): pass --no-state")
	case o.reconnect == "" && o.country == "" && o.institution == "":
		return connect.Usagef("say which bank: --country CC with --search TEXT or --institution ID (list a country's banks with --country CC alone)")
	}
	// Everything that can be checked without GoCardless is, before its
	// first call: the loopback server (connect.Command has bound --listen
	// already) and the --state file. A usage error must not leave an
	// end-user agreement behind.
	srv, err := s.Serve()
	if err != nil {
		return err
	}
	src, err := Source{}.Open(ctx, s.Config, s.Env())
	if err != nil {
		return err
	}
	c := src.(*conn)
	c.client.http.Interactive()
	// stateLock is held, with --write --state, from here to the end: the
	// moved state is written through it (moveState).
	var stateLock *source.StateFileLock
	if s.Write && o.state != "" {
		if stateLock, err = lockState(o.state); err != nil {
			return err
		}
		defer stateLock.Release()
	}
	cached, err := cachedDetails(o.state, c.Streams())
	if err != nil {
		return err
	}

	var old *requisitionInfo
	if o.reconnect != "" {
		if old, err = c.fetchRequisition(ctx, strings.ToLower(o.reconnect)); err != nil {
			if isStatus(err, http.StatusNotFound) {
				return source.ConfigErrorf("--reconnect %s: no such requisition for this secret_id; copy the id from config.requisition_ids", o.reconnect)
			}
			return c.unreachable(c.client.wrap("requisition "+o.reconnect, err))
		}
		if o.institution == "" && o.search == "" {
			o.institution = old.InstitutionID
		}
	}
	in, err := c.pickInstitution(ctx, o)
	if err != nil {
		return c.unreachable(err)
	}
	oldAccounts, err := c.oldAccounts(ctx, old, cached)
	if err != nil {
		return err
	}
	if old == nil && s.Write {
		if err := c.alreadyLinked(ctx, in); err != nil {
			return err
		}
	}

	agr, err := c.createAgreement(ctx, in)
	if err != nil {
		return err
	}
	ref := connect.Token() // binds the callback to this requisition
	done := make(chan error, 1)
	srv.Handle("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("ref") != ref {
			http.Error(w, "this callback is not for this run", http.StatusBadRequest)
			return
		}
		var outcome error
		if e := q.Get("error"); e != "" {
			outcome = fmt.Errorf("the bank consent ended with %s: %s; nothing was written: run connect again to link the bank (a new requisition)", e, orNone(q.Get("details")))
		}
		select {
		case done <- outcome: // the first redirect wins; a reload shows its outcome
		default:
		}
		// The page waits for the requisition to link (and --write): the
		// redirect alone does not say it will (RJ, EX, ER, SU).
		msg := "Bank linked. You can close this tab and go back to the terminal."
		switch ended, err := s.Outcome(r.Context()); {
		case !ended:
			msg = "The bank sent you back; GoCardless has not linked the requisition yet. The terminal shows the outcome."
		case err != nil:
			msg = "The bank was not linked: " + err.Error() + ". Close this tab; the terminal says the same."
		}
		connect.HTML(w, `<!doctype html><meta charset="utf-8"><title>source-gocardless-bank-data</title><p id="result">`+html.EscapeString(msg)+`</p>`)
	})
	rq, err := c.createRequisition(ctx, in.ID, agr, srv.URL("/callback"), ref)
	if err != nil {
		return err
	}
	s.Logf("Created requisition %s for %s (%s); agreement %s", rq.ID, in.Name, in.ID, agr)
	s.Show(rq.Link, "to give consent at "+in.Name)

	if err, werr := connect.Wait(ctx, done, "the bank's redirect after consent"); werr != nil {
		return fmt.Errorf("requisition %s: %w", rq.ID, werr)
	} else if err != nil {
		return err
	}
	linked, err := c.waitLinked(ctx, rq.ID)
	if err != nil {
		return err
	}
	accounts, err := c.newAccounts(ctx, linked)
	if err != nil {
		return err
	}
	res := ConnectResult{RequisitionID: linked.ID, Status: linked.Status, InstitutionID: linked.InstitutionID}
	for _, a := range accounts {
		res.Accounts = append(res.Accounts, ConnectAccount{ID: a.ID, IBAN: connect.MaskAccountID(a.IBAN), Name: a.Name})
	}
	if old != nil {
		if needKeys(oldAccounts, accounts) {
			c.addDetails(ctx, linked.ID, accounts)
			if err := ctx.Err(); err != nil {
				// Details cut short by Ctrl-C or --timeout read as absent:
				// the accounts they would match stay unmatched, and --write
				// would replace the requisition without moving their state.
				return fmt.Errorf("requisition %s is linked, but nothing was written (the run ended while it read the new accounts' details, which matching them to the old ones needs): run connect --reconnect %s again (a new requisition), or put %s in place of %s in requisition_ids yourself (the accounts' state then stays under their old ids): %w", linked.ID, old.ID, linked.ID, old.ID, err)
			}
		}
		res.Reconnect = match(old.ID, oldAccounts, accounts)
		for _, m := range res.Reconnect.Mapping {
			s.Logf("Account %s continues as %s (matched by %s)", m.Old, m.New, m.By)
		}
		for _, u := range res.Reconnect.UnmatchedOld {
			s.Logf("Old account %s matches no new account (by IBAN, or masked PAN and currency): its history stops there; it was not guessed", u)
		}
	}
	if s.Write {
		if err := c.write(s, o, stateLock, old, &res, oldAccounts, accounts); err != nil {
			_ = s.Result(res)
			return fmt.Errorf("requisition %s is linked, but %w", res.RequisitionID, err)
		}
	}
	return s.Result(res)
}

// alreadyLinked refuses, before anything is created, a --write link of an
// institution a requisition in requisition_ids already links: GoCardless
// gives the same accounts new ids on every requisition, so the config would
// read each of them twice (their rows twice in the destination, their daily
// quota spent twice). A requisition that cannot be looked up is passed over:
// check and read name it.
func (c *conn) alreadyLinked(ctx context.Context, in institution) error {
	for _, id := range c.cfg.RequisitionIDs {
		r, err := c.fetchRequisition(ctx, id)
		if err != nil || !strings.EqualFold(r.InstitutionID, in.ID) {
			continue
		}
		status := r.Status
		if r.Status == statusLinked {
			status += ", linked"
		} else if t := statusText[r.Status]; t != "" {
			status += ", " + t
		}
		return connect.Usagef("requisition %s in requisition_ids already links %s (%s; status %s): a new link gives the same accounts new ids, so every read would read them twice. "+
			"To replace it (expired, or about to), run connect --reconnect %s --state STATE_FILE --write; "+
			"to link another login at the same bank, run without --write and add the requisition id it prints to requisition_ids yourself",
			r.ID, in.Name, in.ID, status, r.ID)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(no details)"
	}
	return s
}

// pickInstitution resolves --institution, or --search within --country.
func (c *conn) pickInstitution(ctx context.Context, o connectOptions) (institution, error) {
	if o.institution != "" {
		var in institution
		_, err := c.client.getJSON(ctx, "GET /institutions/{id}/", "/institutions/"+url.PathEscape(o.institution)+"/", &in)
		if err != nil {
			if isStatus(err, http.StatusNotFound) {
				return in, source.ConfigErrorf("--institution %s is not a GoCardless institution id; find it with --country CC --search NAME", o.institution)
			}
			return in, c.client.wrap("institution "+o.institution, err)
		}
		if o.country != "" && len(in.Countries) > 0 && !slices.ContainsFunc(in.Countries, func(cc string) bool { return strings.EqualFold(cc, o.country) }) {
			return in, source.ConfigErrorf("--institution %s serves %s, not --country %s", in.ID, strings.Join(in.Countries, ", "), strings.ToUpper(o.country))
		}
		return in, nil
	}
	country := strings.ToUpper(o.country)
	var all []institution
	q := url.Values{"country": {country}}
	_, err := c.client.get(ctx, "GET /institutions/", "/institutions/", q, func(b []byte) error { return json.Unmarshal(b, &all) })
	if err != nil {
		return institution{}, c.client.wrap("institutions of "+country, err)
	}
	if len(all) == 0 {
		return institution{}, source.ConfigErrorf("--country %s: GoCardless lists no institution there; use the two-letter code of a country it serves (e.g. DE, GB, FR)", country)
	}
	if o.search == "" {
		return institution{}, connect.Usagef("pick a bank of %s with --institution ID or --search TEXT; they are:\n%s", country, listInstitutions(all))
	}
	needle := strings.ToLower(o.search)
	var hits []institution
	for _, in := range all {
		if strings.EqualFold(in.ID, o.search) || strings.EqualFold(in.Name, o.search) {
			return in, nil // an exact id or name wins over substrings
		}
		if strings.Contains(strings.ToLower(in.Name), needle) || strings.Contains(strings.ToLower(in.ID), needle) || strings.Contains(strings.ToLower(in.BIC), needle) {
			hits = append(hits, in)
		}
	}
	switch len(hits) {
	case 0:
		return institution{}, source.ConfigErrorf("--search %q matches no institution in %s; run with --country %s alone to list them", o.search, country, country)
	case 1:
		return hits[0], nil
	}
	return institution{}, connect.Usagef("--search %q matches %d institutions in %s; pick one with --institution ID:\n%s", o.search, len(hits), country, listInstitutions(hits))
}

func listInstitutions(ins []institution) string {
	const most = 60
	var b strings.Builder
	for i, in := range ins {
		if i == most {
			fmt.Fprintf(&b, "  … and %d more (narrow with --search)\n", len(ins)-most)
			break
		}
		fmt.Fprintf(&b, "  %-32s %s\n", in.ID, in.Name)
	}
	return strings.TrimRight(b.String(), "\n")
}

// createAgreement makes an end-user agreement with the institution's own
// limits: its whole history (transaction_total_days), except 90 days at
// banks with separate_continuous_history_consent (more would freeze their
// history after the first read), and its longest access.
func (c *conn) createAgreement(ctx context.Context, in institution) (string, error) {
	hist, ok := in.totalDays()
	if !ok {
		hist = DefaultStartDays
	}
	if in.separateHistory() {
		hist = min(hist, 90)
	}
	access, ok := in.accessDays()
	if !ok {
		access = 90
	}
	body, _ := json.Marshal(map[string]any{
		"institution_id": in.ID, "max_historical_days": hist, "access_valid_for_days": access,
		"access_scope": []string{"balances", "details", "transactions"},
	})
	var agr struct {
		ID string `json:"id"`
	}
	if err := c.client.post(ctx, "POST /agreements/enduser/", "/agreements/enduser/", body, &agr); err != nil {
		return "", err
	}
	return agr.ID, nil
}

type newRequisition struct {
	ID   string `json:"id"`
	Link string `json:"link"`
}

func (c *conn) createRequisition(ctx context.Context, institutionID, agreement, redirect, ref string) (newRequisition, error) {
	body, _ := json.Marshal(map[string]any{
		"redirect": redirect, "institution_id": institutionID, "agreement": agreement, "reference": ref,
	})
	var rq newRequisition
	if err := c.client.post(ctx, "POST /requisitions/", "/requisitions/", body, &rq); err != nil {
		return rq, err
	}
	if rq.ID == "" || !strings.HasPrefix(rq.Link, "http") {
		return rq, source.SystemErrorf("GoCardless created a requisition without an id or a link")
	}
	return rq, nil
}

// waitLinked polls the requisition until it is LN, or reports the end
// states (RJ, EX, ER, SU), and UA or ID at the timeout: it waits through
// the identity check (ID) and the other steps of the consent flow.
func (c *conn) waitLinked(ctx context.Context, id string) (*requisitionInfo, error) {
	for {
		r, err := c.fetchRequisition(ctx, id)
		if err != nil {
			return nil, c.client.wrap("requisition "+id, err)
		}
		switch r.Status {
		case statusLinked:
			return r, nil
		case "RJ", "EX":
			return nil, fmt.Errorf("requisition %s is %s (%s); nothing was written; run connect again", id, r.Status, statusText[r.Status])
		case "ER", "SU":
			return nil, fmt.Errorf("requisition %s is %s (%s) at GoCardless; nothing was written; run connect again for a new requisition, and if it ends %s again, try later or ask GoCardless support about requisition %s", id, r.Status, statusText[r.Status], r.Status, id)
		}
		t := time.NewTimer(pollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("requisition %s is still %s (%s); GoCardless says a bank can take long, so it may still link: check later with GET /requisitions/%s/, then add it to requisition_ids: %w", id, r.Status, statusText[r.Status], id, ctx.Err())
		case <-t.C:
		}
	}
}

// fetchRequisition is one GET /requisitions/{id}/, uncached (its status
// changes while connect waits). A 404 comes back as the client's error.
func (c *conn) fetchRequisition(ctx context.Context, id string) (*requisitionInfo, error) {
	var raw json.RawMessage
	if _, err := c.client.getJSON(ctx, "GET /requisitions/{id}/", "/requisitions/"+url.PathEscape(id)+"/", &raw); err != nil {
		return nil, err
	}
	r := &requisitionInfo{raw: raw}
	if err := json.Unmarshal(raw, &r.requisition); err != nil || r.ID == "" {
		return nil, source.SystemErrorf("requisition %s: GoCardless answered with an object that is not a requisition", id)
	}
	return r, nil
}

// linkedAccount is what connect learns of an account: from its metadata
// (no bank call), and from its details (one call of the account's daily
// quota) only when matching needs them.
type linkedAccount struct {
	ID, IBAN, Name      string
	Currency, MaskedPAN string
	// details are the account's details object when addDetails read it,
	// at detailsAt: the moved state keeps them, so the next read spends
	// no second call of the account's daily quota on them.
	details   json.RawMessage
	detailsAt string
	// replaced are the paths in details of the text whose invalid UTF-8
	// was replaced, kept with them for the read that emits them
	// (quota.CachedDetails.ReplacedText).
	replaced []string
}

func (c *conn) newAccounts(ctx context.Context, r *requisitionInfo) ([]*linkedAccount, error) {
	var out []*linkedAccount
	for _, id := range r.Accounts {
		a, err := c.accountKeys(ctx, r.ID, id)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func (c *conn) accountKeys(ctx context.Context, reqID, id string) (*linkedAccount, error) {
	raw, err := c.accountMeta(ctx, accountRef{ID: id, RequisitionID: reqID})
	if err != nil {
		return nil, err
	}
	var m struct {
		IBAN string `json:"iban"`
		Name string `json:"name"`
	}
	_ = json.Unmarshal(raw, &m)
	return &linkedAccount{ID: id, IBAN: normIBAN(m.IBAN), Name: m.Name}, nil
}

// addDetails reads the details of the new accounts (IBAN, currency, masked
// PAN). A failure leaves an account with what its metadata said.
func (c *conn) addDetails(ctx context.Context, reqID string, accounts []*linkedAccount) {
	ctx = source.CollectReplaced(ctx)
	for _, a := range accounts {
		d, err := c.accountDetails(ctx, accountRef{ID: a.ID, RequisitionID: reqID})
		if err == nil {
			a.applyDetails(d)
			a.details, a.detailsAt = d, httpclient.FormatTime(c.clock.Now())
			a.replaced = source.ReplacedPaths(ctx, d)
		}
	}
}

func (a *linkedAccount) applyDetails(raw json.RawMessage) {
	var d struct {
		IBAN      string `json:"iban"`
		Currency  string `json:"currency"`
		MaskedPAN string `json:"maskedPan"`
		Name      string `json:"name"`
	}
	if json.Unmarshal(raw, &d) != nil {
		return
	}
	if a.IBAN == "" {
		a.IBAN = normIBAN(d.IBAN)
	}
	a.Currency, a.MaskedPAN = strings.ToUpper(d.Currency), strings.ReplaceAll(d.MaskedPAN, " ", "")
	if a.Name == "" {
		a.Name = d.Name
	}
}

// cachedDetails are the account details the last reads cached in the
// accounts stream's state of the --state file (statePath; none without
// it), by account id. It is read before any API call, so a missing or
// foreign file fails the run before anything is created.
func cachedDetails(statePath string, streams []source.Stream) (map[string]json.RawMessage, error) {
	if statePath == "" {
		return nil, nil
	}
	states, err := readStateFile(statePath, streams)
	if err != nil {
		return nil, err
	}
	raw := states["accounts"]
	if raw == nil {
		return nil, nil
	}
	st, err := parseAccountsState(raw)
	if err != nil {
		return nil, source.AsConfigError(err, "--state "+statePath+" has an accounts state this connector did not write")
	}
	cached := map[string]json.RawMessage{}
	for id, d := range st.Accounts {
		cached[id] = d.Details
	}
	return cached, nil
}

// oldAccounts are the accounts of the requisition being replaced: their
// metadata (served even after expiry, and no bank call) and the details
// the last reads cached (cachedDetails). Their details are never fetched:
// an expired account's failed calls count towards suspending it.
func (c *conn) oldAccounts(ctx context.Context, old *requisitionInfo, cached map[string]json.RawMessage) ([]*linkedAccount, error) {
	if old == nil {
		return nil, nil
	}
	var out []*linkedAccount
	for _, id := range old.Accounts {
		a, err := c.accountKeys(ctx, old.ID, id)
		if err != nil {
			if source.FailureTypeOf(err) == protocol.ConfigError {
				a = &linkedAccount{ID: id} // deleted: match by the cached details only
			} else {
				return nil, err
			}
		}
		if d := cached[id]; len(d) > 0 {
			a.applyDetails(d)
		}
		out = append(out, a)
	}
	return out, nil
}

// needKeys says whether the new accounts' details are needed to match:
// an old account without an IBAN, or an IBAN on more than one account on
// either side (multi-currency pockets share one).
func needKeys(old, fresh []*linkedAccount) bool {
	for _, a := range old {
		if a.IBAN == "" {
			return true
		}
	}
	return sharedIBAN(old) || sharedIBAN(fresh)
}

func sharedIBAN(accounts []*linkedAccount) bool {
	seen := map[string]bool{}
	for _, a := range accounts {
		if a.IBAN != "" && seen[a.IBAN] {
			return true
		}
		seen[a.IBAN] = true
	}
	return false
}

// match maps each old account to the one new account with its IBAN (and
// currency when an IBAN is shared), else with its masked PAN and currency.
// Anything ambiguous stays unmatched: a wrong match would merge two
// accounts' histories.
func match(oldReq string, old, fresh []*linkedAccount) *Reconnect {
	rc := &Reconnect{Replaces: oldReq, Mapping: []AccountMatch{}, UnmatchedOld: []string{}, UnmatchedNew: []string{}}
	pick := func(a *linkedAccount) (*linkedAccount, string) {
		if a.IBAN != "" {
			c := filter(fresh, func(n *linkedAccount) bool { return n.IBAN == a.IBAN })
			if len(c) == 1 {
				return c[0], "iban"
			}
			if cc := filter(c, func(n *linkedAccount) bool { return a.Currency != "" && n.Currency == a.Currency }); len(cc) == 1 {
				return cc[0], "iban+currency"
			}
		}
		if a.MaskedPAN != "" && a.Currency != "" {
			c := filter(fresh, func(n *linkedAccount) bool { return n.MaskedPAN == a.MaskedPAN && n.Currency == a.Currency })
			if len(c) == 1 {
				return c[0], "masked_pan+currency"
			}
		}
		return nil, ""
	}
	claims := map[*linkedAccount][]AccountMatch{}
	for _, a := range old {
		if n, by := pick(a); n != nil {
			claims[n] = append(claims[n], AccountMatch{Old: a.ID, New: n.ID, By: by})
		} else {
			rc.UnmatchedOld = append(rc.UnmatchedOld, a.ID)
		}
	}
	for _, n := range fresh {
		switch cl := claims[n]; len(cl) {
		case 0:
			rc.UnmatchedNew = append(rc.UnmatchedNew, n.ID)
		case 1:
			rc.Mapping = append(rc.Mapping, cl[0])
		default: // two old accounts claim one new one: guess neither
			rc.UnmatchedNew = append(rc.UnmatchedNew, n.ID)
			for _, m := range cl {
				rc.UnmatchedOld = append(rc.UnmatchedOld, m.Old)
			}
		}
	}
	sort.Strings(rc.UnmatchedOld)
	return rc
}

func filter(accounts []*linkedAccount, keep func(*linkedAccount) bool) []*linkedAccount {
	var out []*linkedAccount
	for _, a := range accounts {
		if keep(a) {
			out = append(out, a)
		}
	}
	return out
}

func normIBAN(s string) string { return strings.ToUpper(strings.ReplaceAll(s, " ", "")) }

// write applies --write: the requisition goes into requisition_ids (in
// place of the one it replaces), account_ids follows (accountIDsPlan), and
// with --state (stateLock held on it) each matched account's state moves
// to its new id.
func (c *conn) write(s *connect.Session, o connectOptions, stateLock *source.StateFileLock, old *requisitionInfo, res *ConnectResult, oldAccounts, accounts []*linkedAccount) error {
	newID := res.RequisitionID
	if old == nil {
		added, err := connect.AddIDs(s.ConfigPath, s.ListField, newID)
		if err != nil {
			return err
		}
		if added {
			s.Logf("Added requisition %s to %s in %s", newID, s.ListField, s.ConfigPath)
		}
		if c.cfg.onlyAccounts != nil && len(accounts) > 0 {
			// The config reads only the accounts it lists: without
			// theirs, the new requisition's accounts would not be read.
			ids := make([]string, len(accounts))
			for i, a := range accounts {
				ids[i] = a.ID
			}
			added, err := connect.AddIDs(s.ConfigPath, "account_ids", ids...)
			if err != nil {
				return err
			}
			if added {
				s.Logf("Added its %d account(s) to account_ids in %s: the config reads only the accounts listed there", len(ids), s.ConfigPath)
			}
		}
		return nil
	}
	rename := map[string]string{}
	for _, m := range res.Reconnect.Mapping {
		rename[m.Old] = m.New
	}
	if stateLock != nil {
		fresh := map[string]quota.CachedDetails{}
		for _, a := range accounts {
			if a.details != nil {
				fresh[a.ID] = quota.CachedDetails{Details: a.details, FetchedAt: a.detailsAt, ReplacedText: a.replaced}
			}
		}
		n, err := moveState(stateLock, c.Streams(), rename, fresh)
		if err != nil {
			return err
		}
		s.Logf("Moved the state of %d account(s) to their new ids in %s. The next read must start from this file: if your reads keep their state elsewhere (--postgres, Airbyte, Meltano), give that read --state %s (or put the file back where they keep it), else it reads those accounts' whole history again under their new ids", n, o.state, o.state)
	}
	if _, err := connect.EditList(s.ConfigPath, s.ListField, func(ids []string) []string {
		out, replaced := []string{}, false
		for _, id := range ids {
			if strings.EqualFold(id, old.ID) {
				if !replaced {
					out = append(out, newID)
				}
				replaced = true
				continue
			}
			out = append(out, id)
		}
		if !replaced {
			out = append(out, newID)
		}
		return out
	}); err != nil {
		return err
	}
	s.Logf("Replaced requisition %s by %s in %s", old.ID, newID, s.ConfigPath)
	if c.cfg.onlyAccounts == nil {
		return nil
	}
	plan := planAccountIDs(c.cfg.onlyAccounts, res.Reconnect, oldAccounts, accounts)
	if _, err := connect.EditList(s.ConfigPath, "account_ids", plan.apply); err != nil {
		return err
	}
	for _, id := range plan.dropped {
		s.Logf("Removed old account %s from account_ids in %s: no new account continues it, and its requisition is replaced", id, s.ConfigPath)
	}
	for _, id := range plan.kept {
		s.Logf("Old account %s stays in account_ids in %s though no new account continues it: without it account_ids would be empty, which reads every account of every requisition. Reads fail on it until you edit account_ids: list the accounts to read, or remove the field to read them all", id, s.ConfigPath)
	}
	for _, id := range plan.added {
		s.Logf("Added new account %s to account_ids in %s: it matches no old account, and the config reads only the accounts listed there", id, s.ConfigPath)
	}
	for _, l := range plan.leftOut {
		s.Logf("New account %s matches no old account but may be old account %s, which account_ids leaves out (nothing tells them apart): it is NOT added, so reads pass it over. To read it, add %s to account_ids in %s", l.id, strings.Join(l.maybe, ", "), l.id, s.ConfigPath)
	}
	return nil
}

// accountIDsPlan is how a --reconnect --write changes the account_ids of a
// config that reads only the accounts listed there. A matched account
// follows its old one: in its place when listed, out when not. A new
// account no old one matches is added, as a plain --write adds a new
// link's accounts (else reads would pass it over without a word), unless
// it may be an unmatched old account the list leaves out: no IBAN, masked
// PAN or currency tells them apart, and reading it could read an account
// the user excluded; it is left out, and stderr says how to add it. A
// listed old account no new one continues is removed with its
// requisition (left, it would fail every read as an account of no
// configured requisition), unless the list would then be empty, which
// reads every account.
type accountIDsPlan struct {
	rename               map[string]string
	dropped, kept, added []string
	leftOut              []leftOutAccount
}

// leftOutAccount is a new account not added to account_ids, and the old
// accounts it may be.
type leftOutAccount struct {
	id    string
	maybe []string
}

func planAccountIDs(listed map[string]bool, rc *Reconnect, old, fresh []*linkedAccount) accountIDsPlan {
	p := accountIDsPlan{rename: map[string]string{}}
	for _, m := range rc.Mapping {
		if listed[strings.ToLower(m.Old)] {
			p.rename[strings.ToLower(m.Old)] = m.New
		}
	}
	byID := func(accounts []*linkedAccount, id string) *linkedAccount {
		for _, a := range accounts {
			if strings.EqualFold(a.ID, id) {
				return a
			}
		}
		return &linkedAccount{ID: id}
	}
	var excluded []*linkedAccount // unmatched old accounts the list leaves out
	for _, id := range rc.UnmatchedOld {
		if listed[strings.ToLower(id)] {
			p.dropped = append(p.dropped, id)
		} else {
			excluded = append(excluded, byID(old, id))
		}
	}
	for _, id := range rc.UnmatchedNew {
		n := byID(fresh, id)
		var maybe []string
		for _, e := range excluded {
			if !e.differsFrom(n) {
				maybe = append(maybe, e.ID)
			}
		}
		if len(maybe) > 0 {
			p.leftOut = append(p.leftOut, leftOutAccount{id: id, maybe: maybe})
		} else {
			p.added = append(p.added, id)
		}
	}
	if len(p.added) == 0 && len(p.dropped) == len(listed) {
		p.kept, p.dropped = p.dropped, nil
	}
	return p
}

// apply is the plan as an edit of account_ids.
func (p accountIDsPlan) apply(ids []string) []string {
	drop := map[string]bool{}
	for _, id := range p.dropped {
		drop[strings.ToLower(id)] = true
	}
	out := []string{}
	for _, id := range ids {
		switch n, ok := p.rename[strings.ToLower(id)]; {
		case ok:
			out = append(out, n)
		case !drop[strings.ToLower(id)]:
			out = append(out, id)
		}
	}
	for _, id := range p.added {
		if !slices.ContainsFunc(out, func(have string) bool { return strings.EqualFold(have, id) }) {
			out = append(out, id)
		}
	}
	return out
}

// differsFrom says whether what is known of a and b proves them different
// accounts: two IBANs, masked PANs or currencies that differ.
func (a *linkedAccount) differsFrom(b *linkedAccount) bool {
	differ := func(x, y string) bool { return x != "" && y != "" && x != y }
	return differ(a.IBAN, b.IBAN) || differ(a.MaskedPAN, b.MaskedPAN) || differ(a.Currency, b.Currency)
}

// post sends a POST that creates something (an agreement, a requisition):
// never retried, since a retry could create it twice; 4xx answers quote the
// API's per-field message.
func (c *Client) post(ctx context.Context, route, path string, body []byte, v any) error {
	token, _, err := c.token(ctx)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(ctx, &httpclient.Request{
		Method: http.MethodPost, URL: c.url(path, nil), Route: route, Body: body,
		Header: http.Header{"Authorization": {"Bearer " + token}, "Content-Type": {"application/json"}},
		Accept: func(b []byte) error { return json.Unmarshal(b, v) },
	})
	c.observeClock(resp, err)
	if err != nil {
		var se *httpclient.StatusError
		if errors.As(err, &se) && se.Status == http.StatusBadRequest {
			return source.ConfigErrorf("GoCardless refused %s: %s", route, fieldErrors(se.Body))
		}
		return c.wrap(route, err)
	}
	return nil
}

// fieldErrors renders a validation answer {"field":{"summary","detail"}}.
func fieldErrors(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return strings.TrimSpace(string(body))
	}
	var parts []string
	for k, v := range m {
		var e struct{ Summary, Detail string }
		if json.Unmarshal(v, &e) == nil && (e.Summary != "" || e.Detail != "") {
			parts = append(parts, fmt.Sprintf("%s: %s (%s)", k, e.Summary, e.Detail))
		}
	}
	if len(parts) == 0 {
		return strings.TrimSpace(string(body))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

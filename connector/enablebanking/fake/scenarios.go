package fake

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"
)

func itoa(n int) string { return strconv.Itoa(n) }

// unknownError names an id a scenario switch does not know.
type unknownError struct{ what, id string }

func (e unknownError) Error() string { return fmt.Sprintf("unknown %s %q", e.what, e.id) }

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func (s *Server) account(uid string) (*account, error) {
	a := s.accounts[uid]
	if a == nil {
		return nil, unknownError{"account", uid}
	}
	return a, nil
}

// AddBooked books n new rows on an account today, ahead of the day's
// others (so a positional bank renumbers the day), and returns them as
// served.
func (s *Server) AddBooked(uid string, n int) []string {
	out, err := s.addBooked(uid, n)
	must(err)
	return out
}

func (s *Server) addBooked(uid string, n int) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.account(uid)
	if err != nil {
		return nil, err
	}
	today := day(s.now())
	var rows []*row
	for i := range n {
		r := a.draft(1000+a.seq+i, today, false)
		r.f["entry_reference"] = a.nextRef() // a plain, usable reference
		r.f["booking_date"], r.f["value_date"] = today.Format(time.DateOnly), today.Format(time.DateOnly)
		rows = append(rows, r)
	}
	a.booked = append(rows, a.booked...)
	var refs []string
	for _, raw := range a.serve(a.booked)[:n] {
		refs = append(refs, string(raw))
	}
	return refs, nil
}

// BookPending books an account's oldest pending row under a new
// entry_reference and transaction_id, as banks do: it leaves the pending
// list and appears among the booked rows, dated today.
func (s *Server) BookPending(uid string) { must(s.bookPending(uid)) }

func (s *Server) bookPending(uid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.account(uid)
	if err != nil {
		return err
	}
	if len(a.pending) == 0 {
		return fmt.Errorf("account %s has no pending rows", uid)
	}
	p := a.pending[len(a.pending)-1]
	a.pending = a.pending[:len(a.pending)-1]
	b := &row{f: clone(p.f)}
	today := day(s.now()).Format(time.DateOnly)
	b.f["status"], b.f["booking_date"], b.f["value_date"] = "BOOK", today, today
	b.f["entry_reference"] = a.nextRef()
	b.f["transaction_id"] = "bk-" + hexID(a.rng, 12)
	a.booked = append([]*row{b}, a.booked...)
	return nil
}

// AddPending adds n pending rows dated today to an account, ahead of its
// others, as card payments authorised since the last read appear: the
// pending snapshot grows, and BookPending still books the oldest first.
func (s *Server) AddPending(uid string, n int) {
	s.setAccount(uid, func(a *account) {
		today := day(s.now())
		rows := make([]*row, n)
		for i := range n {
			rows[n-1-i] = a.pendingRow(1+len(a.pending)+i, today)
		}
		a.pending = append(rows, a.pending...)
	})
}

// ChangeReferences gives every booked row of an account dated within the
// last days days a new entry_reference and transaction_id, every other
// field equal (what sure#3464 saw at Oberbank on every sync); rows with a
// null or missing reference get one (filled in a day late).
func (s *Server) ChangeReferences(uid string, days int) { must(s.changeReferences(uid, days)) }

func (s *Server) changeReferences(uid string, days int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.account(uid)
	if err != nil {
		return err
	}
	cutoff := day(s.now()).AddDate(0, 0, -days).Format(time.DateOnly)
	for _, r := range a.booked {
		if r.date() >= cutoff {
			r.f["entry_reference"] = a.nextRef()
			r.f["transaction_id"] = "ch-" + hexID(a.rng, 12)
		}
	}
	return nil
}

// EnrichRemittance appends a line to the remittance_information of every
// booked row of an account dated within the last days days, every other
// field equal: DNB enriches the text after booking (the reference, §4.2).
func (s *Server) EnrichRemittance(uid string, days int) {
	s.setAccount(uid, func(a *account) {
		cutoff := day(s.now()).AddDate(0, 0, -days).Format(time.DateOnly)
		for _, r := range a.booked {
			if r.date() >= cutoff {
				lines, _ := r.f["remittance_information"].([]any)
				r.f["remittance_information"] = append(slices.Clone(lines), "Merchant: Example Store, Oslo")
			}
		}
	})
}

// PositionalDots makes an account's bank number its booked rows'
// entry_reference by place within the booking day as YYYY-MM-DD.N
// (whisper-money#669), counted at serve time like the built-in
// YYYY-MM-DD-N bank's.
func (s *Server) PositionalDots(uid string) {
	s.setAccount(uid, func(a *account) { a.positional, a.positionalSep = true, "." })
}

// Reauthorize is the user authorising the same bank again: a new
// AUTHORIZED session whose accounts are the old session's bank accounts
// under new uids (every session mints its own) with the same
// identification_hash, rows and balances; the old session is left as it
// is (expire it to play a consent that ran out). It returns the new
// session's id. Rows booked afterwards go to the uid they are booked on.
func (s *Server) Reauthorize(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.sessions[id]
	if old == nil {
		panic(unknownError{"session", id})
	}
	return s.reauthorize(old, nil).id
}

// reauthorize is Reauthorize of old, but for the accounts whose indexes
// leave holds (the holder did not authorise them again); caller holds s.mu.
func (s *Server) reauthorize(old *session, leave map[int]bool) *session {
	id := old.id
	r := newRNG(s.opts.Seed, "reauthorize/"+id+"/"+itoa(len(s.sessionOrder)))
	ss := &session{id: uuid(r), status: "AUTHORIZED", bank: old.bank, created: s.now(), validUntil: s.now().Add(180 * 24 * time.Hour), psuIDHash: old.psuIDHash}
	for i, uid := range old.accounts {
		if leave[i] {
			continue
		}
		a := *s.accounts[uid]
		a.uid, a.sessionID = uuid(r), ss.id
		a.historyServed = false // a new consent
		a.resource = maps.Clone(a.resource)
		a.resource["uid"] = a.uid
		a.booked, a.pending = slices.Clone(a.booked), slices.Clone(a.pending)
		s.accounts[a.uid] = &a
		ss.accounts = append(ss.accounts, a.uid)
	}
	s.sessions[ss.id] = ss
	s.sessionOrder = append(s.sessionOrder, ss.id)
	return ss
}

// ExpireSession moves a session to EXPIRED: its account calls answer 401
// EXPIRED_SESSION.
func (s *Server) ExpireSession(id string) { must(s.setSessionStatus(id, "EXPIRED")) }

// RevokeSession moves a session to REVOKED (the user withdrew consent at
// the bank): its account calls answer 401 REVOKED_SESSION.
func (s *Server) RevokeSession(id string) { must(s.setSessionStatus(id, "REVOKED")) }

func (s *Server) setSessionStatus(id, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[id]
	if ss == nil {
		return unknownError{"session", id}
	}
	ss.status = status
	if status == "EXPIRED" && ss.validUntil.After(s.now()) {
		ss.validUntil = s.now().Add(-time.Minute)
	}
	return nil
}

// ExhaustQuota spends an account's unattended calls for an endpoint, as
// another application of the same user would: with Options.QuotaUnit,
// those of the account's or session's whole unit.
func (s *Server) ExhaustQuota(uid, endpoint string) { must(s.exhaustQuota(uid, endpoint)) }

func (s *Server) exhaustQuota(uid, endpoint string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.account(uid)
	if err != nil {
		return err
	}
	k := s.quotaKeyOf(a, endpoint)
	now := s.now()
	for len(s.window(k, now)) < s.opts.DailyLimit {
		s.quotas[k] = append(s.quotas[k], now)
	}
	s.freeSpent[k] = true
	return nil
}

// SetASPSPError makes an account's bank fail every call with 400
// ASPSP_ERROR (on), or work again (off).
func (s *Server) SetASPSPError(uid string, on bool) { must(s.setASPSPError(uid, on)) }

func (s *Server) setASPSPError(uid string, on bool) error {
	var f *AccountError
	if on {
		e := errASPSP()
		f = &AccountError{Status: e.Code, Code: e.Error, Message: e.Message, Detail: e.Detail}
	}
	return s.failAccount(uid, f)
}

// BlockAccount plays an account the bank has blocked or closed: its
// session lists it in accounts_data without a uid, and not in accounts.
func (s *Server) BlockAccount(uid string) { s.setAccount(uid, func(a *account) { a.blocked = true }) }

// LimitHistory plays a bank that keeps days of history and refuses a
// longer window with a blanket 400 ASPSP_ERROR instead of clamping it
// (Danske, at about 90 days: the reference, §5).
func (s *Server) LimitHistory(uid string, days int) {
	s.setAccount(uid, func(a *account) { a.historyDays = days })
}

// NoBalances makes an account's bank answer its balances with an empty
// list, which Actual's client errors on (the reference, §4.3).
func (s *Server) NoBalances(uid string) {
	s.setAccount(uid, func(a *account) { a.balances = []map[string]any{} })
}

// RepeatKey makes an account's bank answer every continuation page with
// the key it was called with, so a client that follows keys blindly never
// reaches the end (and spends its bank's daily limit doing so).
func (s *Server) RepeatKey(uid string) { s.setAccount(uid, func(a *account) { a.repeatKey = true }) }

// An AccountError is an answer every call on an account gets instead of
// its data, for the refusals the reference lists that the fake's own
// scenarios do not make: the HTTP status and the body's error code,
// message and detail (nil, a string or an object, as banks send each), or
// Body as it is when set (a proxy's HTML page, a bare status).
type AccountError struct {
	Status        int
	Code, Message string
	Detail        any
	Body          string
}

func (e *AccountError) write(w http.ResponseWriter) {
	if e.Body != "" {
		w.WriteHeader(e.Status)
		_, _ = w.Write([]byte(e.Body))
		return
	}
	writeError(w, apiError{Code: e.Status, Message: e.Message, Error: e.Code, Detail: e.Detail})
}

// FailAccount makes every call on an account (details, balances,
// transactions) answer e, or, with nil, work again.
func (s *Server) FailAccount(uid string, e *AccountError) { must(s.failAccount(uid, e)) }

func (s *Server) failAccount(uid string, e *AccountError) error {
	return s.trySetAccount(uid, func(a *account) { a.failure = e })
}

// setAccount changes an account under the lock; an unknown uid panics.
func (s *Server) setAccount(uid string, set func(*account)) { must(s.trySetAccount(uid, set)) }

// trySetAccount changes an account under the lock, or says its uid is
// unknown (for the HTTP switches, which answer 400).
func (s *Server) trySetAccount(uid string, set func(*account)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.account(uid)
	if err != nil {
		return err
	}
	set(a)
	return nil
}

// AdvanceClock moves the fake's clock forward.
func (s *Server) AdvanceClock(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

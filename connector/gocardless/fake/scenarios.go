package fake

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The exported scenario switches panic on an unknown id or argument: they
// are called by tests, where a typo should fail loudly rather than leave
// the scenario silently unarmed. The admin endpoints use the error-
// returning forms below.

// ExpireRequisition sets a requisition to EX (its accounts to EXPIRED), as
// when the end-user agreement runs out. Data calls on its accounts then
// answer 401 AccessExpiredError, and count towards suspension.
func (s *Server) ExpireRequisition(id string) { must(s.expireRequisition(id)) }

// SuspendAccount suspends an account: data calls answer 409 "Account
// suspended" and its metadata reports SUSPENDED.
func (s *Server) SuspendAccount(id string) { must(s.suspendAccount(id)) }

// ExhaustQuota spends the bank-level quota of an account for one endpoint
// ("details", "balances" or "transactions"; "" for all three), so the next
// calls answer 429 RateLimitError until the window rolls past now.
func (s *Server) ExhaustQuota(accountID, endpoint string) {
	must(s.exhaustQuota(accountID, endpoint))
}

// SetInstitutionError makes the data calls of an account fail as if its
// bank did: 500 UnknownRequestError (counts towards suspension) or 503
// ServiceError. Status 0 clears the failure.
func (s *Server) SetInstitutionError(accountID string, status int) {
	must(s.setInstitutionError(accountID, status))
}

// AdvanceClock moves the fake's time forward by d, on top of Options.Now.
// Quota windows, token expiry and "today" all follow it; the generated
// history does not move.
func (s *Server) AdvanceClock(d time.Duration) { must(s.advanceClock(d)) }

// AddBooked books n new rows dated today on an account and returns their
// internalTransactionIds, newest first, as a new sync would find them.
func (s *Server) AddBooked(accountID string, n int) []string {
	ids, err := s.addBooked(accountID, n)
	must(err)
	return ids
}

// ChangePending changes an account's pending rows the way a bank's do
// between two fetches: the first one books (it reappears among the booked
// rows with a new transactionId, an internalTransactionId and a slightly
// different amount), the next one changes its amount, the others stay, and
// a new one appears.
func (s *Server) ChangePending(accountID string) { must(s.changePending(accountID)) }

// SetProcessing makes an account's data calls answer the temporary 409
// "Account is Processing" (on) or answer normally again (off). It counts
// neither towards suspension nor against the quota.
func (s *Server) SetProcessing(accountID string, on bool) { must(s.setProcessing(accountID, on)) }

// AddLateBooked books n rows the way a late card posting arrives: valueDate
// today, bookingDate daysLate days before, so only the valueDate matches a
// recent date_from. It returns their internalTransactionIds, newest first.
func (s *Server) AddLateBooked(accountID string, n, daysLate int) []string {
	ids, err := s.addLateBooked(accountID, n, daysLate)
	must(err)
	return ids
}

// AddUndated books three rows without the dates a client sorts and
// filters by, as banks send them (gocardless-api.md §2.4): one with no
// date at all (Actual drops such a row, hoping a later sync dates it), one
// with only valueDateTime (ABN AMRO) and one with only bookingDateTime.
// With no bookingDate or valueDate to match, they are in every window. It
// returns their internalTransactionIds, in that order.
func (s *Server) AddUndated(accountID string) []string {
	ids, err := s.addUndated(accountID)
	must(err)
	return ids
}

// ReuseTransactionID books a row dated today under transactionID, the id
// the bank gave one of the account's earlier booked rows, as banks that
// reuse their ids over time do (Co-operative Bank UK,
// actualbudget/actual#5376): an answer holding both rows repeats the id,
// and a later one whose window has left the earlier row behind does not.
// It returns the new row's internalTransactionId.
func (s *Server) ReuseTransactionID(accountID, transactionID string) string {
	id, err := s.reuseTransactionID(accountID, transactionID)
	must(err)
	return id
}

// DeleteAccount plays an account GoCardless no longer has while its
// requisition still lists it: its metadata and every data call answer
// 404 "Not found." (gocardless-api.md §3.3; Actual's NotFound).
func (s *Server) DeleteAccount(id string) { must(s.deleteAccount(id)) }

// SetAccountInactive makes an account's data calls answer 401
// AccountInactiveError (on), counting towards suspension, or answer
// normally again (off).
func (s *Server) SetAccountInactive(accountID string, on bool) { must(s.setInactive(accountID, on)) }

// SetRequisitionStatus sets a requisition's status to one of the API's
// (CR, GC, UA, RJ, SA, GA, LN, EX, ID, ER, SU), as GET /requisitions/{id}/
// then serves it. EX is ExpireRequisition. Data calls on the accounts of a
// requisition that is not LN answer as expired access.
func (s *Server) SetRequisitionStatus(id, status string) { must(s.setRequisitionStatus(id, status)) }

// ReconfirmAgreement has the end user reconfirm a requisition's agreement
// now: the agreement reports reconfirmation true and GET
// /agreements/enduser/{id}/reconfirm/ a last_submitted of now, from which
// access runs another access_valid_for_days.
func (s *Server) ReconfirmAgreement(requisitionID string) { must(s.reconfirmAgreement(requisitionID)) }

func (s *Server) setProcessing(accountID string, on bool) error {
	return s.setAccount(accountID, func(a *account) { a.processing = on })
}

func (s *Server) setInactive(accountID string, on bool) error {
	return s.setAccount(accountID, func(a *account) { a.inactive = on })
}

// requisitionStatuses are the statuses the API's type file lists.
var requisitionStatuses = []string{"CR", "GC", "UA", "RJ", "SA", "GA", statusLinked, statusExpired, "ID", "ER", "SU"}

func (s *Server) setRequisitionStatus(id, status string) error {
	if !slices.Contains(requisitionStatuses, status) {
		return fmt.Errorf("requisition status %q: want one of %s", status, strings.Join(requisitionStatuses, ", "))
	}
	if status == statusExpired {
		return s.expireRequisition(id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.requisitions[id]
	if !ok {
		return unknownError{"requisition", id}
	}
	req.Status = status
	return nil
}

func (s *Server) addLateBooked(accountID string, n, daysLate int) ([]string, error) {
	if daysLate < 1 {
		return nil, fmt.Errorf("daysLate %d: want at least 1", daysLate)
	}
	ids, err := s.addBooked(accountID, n)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[accountID]
	today := day(s.now())
	booking := today.AddDate(0, 0, -daysLate).Format(dateLayout)
	for i := range n {
		tx := a.booked[i].tx
		tx.BookingDate = booking
		tx.ValueDate = today.Format(dateLayout)
		tx.BookingDateTime, tx.ValueDateTime = "", ""
		a.booked[i] = newRow(tx, a.booked[i].cents)
	}
	return ids, nil
}

func (s *Server) addUndated(accountID string) ([]string, error) {
	ids, err := s.addBooked(accountID, 3)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[accountID]
	at := s.now().Add(-time.Hour).Truncate(time.Second)
	for i := range 3 {
		tx := a.booked[i].tx
		tx.BookingDate, tx.ValueDate, tx.BookingDateTime, tx.ValueDateTime = "", "", "", ""
		switch i {
		case 1:
			tx.ValueDateTime = at.Format(time.RFC3339)
		case 2:
			tx.BookingDateTime = at.Format(time.RFC3339)
		}
		a.booked[i] = newRow(tx, a.booked[i].cents)
	}
	return ids, nil
}

func (s *Server) deleteAccount(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.account(id); err != nil {
		return err
	}
	delete(s.accounts, id)
	return nil
}

func (s *Server) reconfirmAgreement(requisitionID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.requisitions[requisitionID]
	if !ok {
		return unknownError{"requisition", requisitionID}
	}
	agr := s.agreements[req.Agreement]
	agr.Reconfirmation = true
	now := s.now()
	submitted := now.Format(apiTimeLayout)
	s.reconfirmations[agr.ID] = &reconfirmation{
		Created:           now.Add(-time.Hour).Format(apiTimeLayout),
		ReconfirmationURL: "https://ob.gocardless.com/ob-psd2/reconfirm/" + agr.ID,
		URLValidFrom:      now.Add(-time.Hour).Format(apiTimeLayout),
		URLValidTo:        now.AddDate(0, 0, 14).Format(apiTimeLayout),
		LastAccessed:      &submitted,
		LastSubmitted:     &submitted,
		Redirect:          req.Redirect,
	}
	return nil
}

func must(err error) {
	if err != nil {
		panic("fake: " + err.Error())
	}
}

// unknownError names an id the fake does not have; the admin endpoints
// answer it with 404.
type unknownError struct{ what, id string }

func (e unknownError) Error() string { return fmt.Sprintf("unknown %s %q", e.what, e.id) }

func (s *Server) account(id string) (*account, error) {
	a, ok := s.accounts[id]
	if !ok {
		return nil, unknownError{"account", id}
	}
	return a, nil
}

func (s *Server) expireRequisition(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.requisitions[id]
	if !ok {
		return unknownError{"requisition", id}
	}
	req.Status = statusExpired
	req.expiredAt = s.now().Format(apiTimeLayout)
	for _, id := range req.Accounts {
		if a := s.accounts[id]; !a.suspended {
			a.meta.Status = accountExpired
		}
	}
	return nil
}

func (s *Server) suspendAccount(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.account(id)
	if err != nil {
		return err
	}
	a.suspended = true
	a.meta.Status = accountSuspended
	return nil
}

func (s *Server) exhaustQuota(accountID, endpoint string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.account(accountID); err != nil {
		return err
	}
	endpoints := quotaEndpoints
	if endpoint != "" {
		if !slices.Contains(quotaEndpoints, endpoint) {
			return fmt.Errorf("unknown endpoint %q: want one of %s", endpoint, strings.Join(quotaEndpoints, ", "))
		}
		endpoints = []string{endpoint}
	}
	now := s.now()
	for _, e := range endpoints {
		s.quota(accountID, e).fill(now)
	}
	return nil
}

func (s *Server) setInstitutionError(accountID string, status int) error {
	if status != 0 && status != http.StatusInternalServerError && status != http.StatusServiceUnavailable {
		return fmt.Errorf("institution error status %d: want 500, 503 or 0", status)
	}
	return s.setAccount(accountID, func(a *account) { a.institutionFail = status })
}

// setAccount changes an account under the lock, or says its id is
// unknown.
func (s *Server) setAccount(accountID string, set func(*account)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.account(accountID)
	if err != nil {
		return err
	}
	set(a)
	return nil
}

func (s *Server) advanceClock(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("cannot move the clock back by %v", -d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
	return nil
}

func (s *Server) addBooked(accountID string, n int) ([]string, error) {
	if n < 0 {
		return nil, fmt.Errorf("cannot add %d rows", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.account(accountID)
	if err != nil {
		return nil, err
	}
	return a.book(day(s.now()), n), nil
}

// book books n new rows dated today and returns their
// internalTransactionIds, newest first.
func (a *account) book(today time.Time, n int) []string {
	running := a.opening
	for _, r := range a.booked {
		running += r.cents
	}
	added := make([]*row, n)
	ids := make([]string, n)
	for i := range n {
		tx, c := a.draft(a.pickKind(int(numKinds)), today, false)
		tx.InternalTransactionID = a.internalID()
		tx.TransactionID = a.bookedID(len(a.booked)+i, tx.BookingDate, max(2, len(a.booked)/4))
		if a.withBalanceAfter {
			running += c
			tx.BalanceAfterTransaction = a.balanceAfter(running)
		}
		// Newest first: the last row added leads.
		added[n-1-i] = newRow(tx, c)
		ids[n-1-i] = tx.InternalTransactionID
	}
	a.booked = append(added, a.booked...)
	return ids
}

func (s *Server) reuseTransactionID(accountID, transactionID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.account(accountID)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(transactionID) == "" || !slices.ContainsFunc(a.booked, func(r *row) bool { return r.tx.TransactionID == transactionID }) {
		return "", fmt.Errorf("account %s has no booked row with transactionId %q to reuse", accountID, transactionID)
	}
	ids := a.book(day(s.now()), 1)
	tx := a.booked[0].tx
	tx.TransactionID = transactionID
	a.booked[0] = newRow(tx, a.booked[0].cents)
	return ids[0], nil
}

func (s *Server) changePending(accountID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.account(accountID)
	if err != nil {
		return err
	}
	today := day(s.now())
	if len(a.pending) == 0 {
		a.pending = a.generatePending(today)
		return nil
	}
	r := a.gen

	// The first pending row books, under new ids and its final amount.
	first := a.pending[0]
	tx := first.tx
	c := first.cents - r.between(0, 200)
	a.seq++
	tx.TransactionID = fmt.Sprintf("%s%08d", compactDate(today.Format(dateLayout)), a.seq)
	tx.InternalTransactionID = a.internalID()
	tx.BookingDate = today.Format(dateLayout)
	if tx.ValueDate == "" {
		tx.ValueDate = tx.BookingDate
	}
	tx.RemittanceInformationUnstructured = strings.Replace(tx.RemittanceInformationUnstructured, "CARD AUTHORISATION", "CARD PAYMENT", 1)
	tx.TransactionAmount = money{formatCents(c), a.currency}
	if a.withBalanceAfter {
		running := a.opening + c
		for _, b := range a.booked {
			running += b.cents
		}
		tx.BalanceAfterTransaction = a.balanceAfter(running)
	}
	a.booked = append([]*row{newRow(tx, c)}, a.booked...)

	rest := slices.Clone(a.pending[1:])
	if len(rest) > 0 { // the next one is re-fetched with another amount
		tx := rest[0].tx
		c := rest[0].cents - r.between(50, 300)
		tx.TransactionAmount = money{formatCents(c), a.currency}
		rest[0] = newRow(tx, c)
	}
	m := pick(r, merchants)
	c = -r.between(200, 6_000)
	rest = append(rest, newRow(transaction{
		BookingDate:                       today.Format(dateLayout),
		ValueDate:                         today.Format(dateLayout),
		TransactionAmount:                 money{formatCents(c), a.currency},
		CreditorName:                      m.name,
		RemittanceInformationUnstructured: "CARD AUTHORISATION " + m.name + " " + m.city,
		AdditionalInformation:             "Card ****" + a.card,
		MerchantCategoryCode:              m.mcc,
	}, c))
	a.pending = rest
	return nil
}

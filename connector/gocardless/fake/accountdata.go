package fake

import (
	"bytes"
	"fmt"
	"net/http"
	"time"
)

// dataCall describes one of the bank-backed endpoints (details, balances,
// transactions): the ones that reach the institution and so are subject to
// its quota and its failures.
type dataCall struct {
	endpoint string
	// validate checks the request's input before the bank is asked; a
	// refused request does not use quota. Optional.
	validate func(r *http.Request, a *account, now time.Time) *apiError
	// body renders the successful answer.
	body func(r *http.Request, a *account, now time.Time) []byte
}

// serveData applies, in order: unknown account (404), suspension (409),
// expired access (401, or 400 with Options.BadRequestExpiry), inactive
// account (401), input checks (400), bank quota (429), institution failure
// (500/503), and finally the answer, which alone uses quota. Every answer
// about a known account carries the per-account rate-limit headers.
func (s *Server) serveData(w http.ResponseWriter, r *http.Request, call dataCall) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	a, ok := s.accounts[r.PathValue("id")]
	if !ok {
		writeError(w, errNotFound())
		return
	}
	q := s.quota(a.meta.ID, call.endpoint)
	fail := func(e apiError) {
		s.setLimitHeaders(w.Header(), true, q, now)
		writeError(w, e)
	}
	req := s.requisitions[a.requisitionID]
	switch {
	case a.suspended:
		fail(errSuspended(a.meta.ID))
		return
	case req.Status != statusLinked:
		a.failed()
		switch agr := s.agreements[req.Agreement]; {
		case s.opts.BadRequestExpiry:
			fail(errExpiredAgreement(agr, req.expiredAt, http.StatusBadRequest))
		case s.opts.UntypedExpiry:
			fail(errExpiredAgreement(agr, req.expiredAt, http.StatusUnauthorized))
		default:
			fail(errAccessExpired(agr, req.expiredAt))
		}
		return
	case a.inactive:
		// GoCardless's table leaves blank whether it counts towards
		// suspension; the fake counts it, the reading that punishes a
		// client which keeps calling.
		a.failed()
		fail(errAccountInactive(a.meta.ID))
		return
	case a.processing:
		fail(errProcessing())
		return
	}
	if call.validate != nil {
		if e := call.validate(r, a, now); e != nil {
			fail(*e)
			return
		}
	}
	if q.remaining(now) == 0 {
		fail(s.bankLimited(q, now))
		return
	}
	if a.institutionFail != 0 {
		if a.institutionFail != http.StatusServiceUnavailable {
			a.failed()
		}
		fail(errInstitution(a.institutionFail))
		return
	}
	q.add(now)
	a.failures = 0
	a.meta.LastAccessed = now.Format(apiTimeLayout)
	s.setLimitHeaders(w.Header(), true, q, now)
	writeJSON(w, http.StatusOK, call.body(r, a, now))
}

// failed counts a failed access; GoCardless suspends an account after
// suspendAfter of them in a row.
func (a *account) failed() {
	a.failures++
	if a.failures >= suspendAfter {
		a.suspended = true
		a.meta.Status = accountSuspended
	}
}

func (s *Server) handleDetails(w http.ResponseWriter, r *http.Request) {
	s.serveData(w, r, dataCall{
		endpoint: EndpointDetails,
		body: func(_ *http.Request, a *account, _ time.Time) []byte {
			return encode(struct {
				Account accountDetails `json:"account"`
			}{a.details})
		},
	})
}

func (s *Server) handleBalances(w http.ResponseWriter, r *http.Request) {
	s.serveData(w, r, dataCall{
		endpoint: EndpointBalances,
		body: func(_ *http.Request, a *account, now time.Time) []byte {
			return encode(struct {
				Balances []balance `json:"balances"`
			}{a.balances(now)})
		},
	})
}

func (s *Server) handleTransactions(w http.ResponseWriter, r *http.Request) {
	s.serveData(w, r, dataCall{
		endpoint: EndpointTransactions,
		validate: func(r *http.Request, a *account, now time.Time) *apiError {
			_, _, e := dateRange(r, a, now)
			return e
		},
		body: func(r *http.Request, a *account, now time.Time) []byte {
			from, to, _ := dateRange(r, a, now)
			if n := s.opts.HistoryAfterFirstCall; n > 0 {
				if a.historyServed {
					from = max(from, day(now).AddDate(0, 0, -n).Format(dateLayout))
				}
				a.historyServed = true
			}
			booked := a.booked
			if s.freezes(a) {
				if a.frozen == 0 {
					a.frozen = len(a.booked)
				}
				booked = a.booked[len(a.booked)-a.frozen:]
			}
			var b bytes.Buffer
			b.WriteString(`{"transactions":{"booked":[`)
			writeRows(&b, booked, from, to)
			b.WriteString(`],"pending":[`)
			writeRows(&b, a.pending, from, to)
			// last_updated stands for the top-level keys besides
			// "transactions" that clients must tolerate.
			fmt.Fprintf(&b, `]},"last_updated":%q}`, now.Format(apiTimeLayout))
			return b.Bytes()
		},
	})
}

// freezes reports that the account's bank serves a frozen cache: its
// institution asks for separate continuous-history consent and the
// agreement asked for more than 90 days.
func (s *Server) freezes(a *account) bool {
	agr := s.agreements[s.requisitions[a.requisitionID].Agreement]
	return s.opts.SeparateHistoryConsent && agr.MaxHistoricalDays > 90
}

// dateRange reads date_from and date_to. date_from defaults to the oldest
// day the institution gives access to, and an older one is clipped to it
// silently, as the real API does (invoiceninja PR #9004); a future one is
// refused with the error under the field's name. date_to is open by
// default.
func dateRange(r *http.Request, a *account, now time.Time) (from, to string, e *apiError) {
	oldest := day(now).AddDate(0, 0, -a.inst.days).Format(dateLayout)
	q := r.URL.Query()
	from, to = q.Get("date_from"), q.Get("date_to")
	if from == "" {
		from = oldest
	} else if _, err := time.Parse(dateLayout, from); err != nil {
		return "", "", &apiError{Summary: "Invalid date_from", Detail: fmt.Sprintf("%q is not a date in the format YYYY-MM-DD", from), StatusCode: http.StatusBadRequest}
	} else if from < oldest {
		from = oldest
	} else if from > day(now).Format(dateLayout) {
		return "", "", &apiError{Summary: "Date can't be in future", Detail: "date_from can't be in the future", StatusCode: http.StatusBadRequest, Field: "date_from"}
	}
	if to != "" {
		if _, err := time.Parse(dateLayout, to); err != nil {
			return "", "", &apiError{Summary: "Invalid date_to", Detail: fmt.Sprintf("%q is not a date in the format YYYY-MM-DD", to), StatusCode: http.StatusBadRequest}
		}
		if to < from {
			return "", "", &apiError{Summary: "Invalid date_to", Detail: "date_to must not be before date_from", StatusCode: http.StatusBadRequest}
		}
	}
	return from, to, nil
}

// writeRows writes the rows within [from, to] as a JSON array body. As on
// the real API (OCA/bank-statement-import#689: "GoCardless returns the
// transactions based on both dates"), a row is in when its bookingDate or
// its valueDate is; rows with neither are always included.
func writeRows(b *bytes.Buffer, rows []*row, from, to string) {
	in := func(d string) bool { return d != "" && d >= from && (to == "" || d <= to) }
	first := true
	for _, r := range rows {
		if (r.tx.BookingDate != "" || r.tx.ValueDate != "") && !in(dateOnlyOf(r.tx.BookingDate)) && !in(dateOnlyOf(r.tx.ValueDate)) {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(r.raw)
	}
}

// dateOnlyOf is the YYYY-MM-DD part of a date or date-time.
func dateOnlyOf(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// balance is one entry of GET /accounts/{id}/balances/.
type balance struct {
	BalanceAmount            money  `json:"balanceAmount"`
	BalanceType              string `json:"balanceType"`
	ReferenceDate            string `json:"referenceDate,omitempty"`
	LastChangeDateTime       string `json:"lastChangeDateTime,omitempty"`
	CreditLimitIncluded      *bool  `json:"creditLimitIncluded,omitempty"`
	LastCommittedTransaction string `json:"lastCommittedTransaction,omitempty"`
}

// creditLimit is the overdraft that odd accounts include in their
// interimAvailable balance, the way card accounts report available credit.
const creditLimit = 100_000

// balances derives the balances from the rows, so that they agree with the
// transactions whatever AddBooked and ChangePending did: closingBooked is
// the booked total up to yesterday, expected adds today's booked and all
// pending rows, interimAvailable is expected plus any credit limit. An
// account that answers as Amex does (Options.InformationBalance) has one
// balance only, of type information, worth what expected would be.
func (a *account) balances(now time.Time) []balance {
	today := day(now).Format(dateLayout)
	yesterday := day(now).AddDate(0, 0, -1).Format(dateLayout)
	closing, booked, pending := a.opening, a.opening, int64(0)
	for _, r := range a.booked {
		booked += r.cents
		if r.date < today {
			closing += r.cents
		}
	}
	for _, r := range a.pending {
		pending += r.cents
	}
	amount := func(c int64) money { return money{formatCents(c), a.currency} }
	if a.amex {
		return []balance{{BalanceAmount: amount(booked + pending), BalanceType: "information", ReferenceDate: today}}
	}
	even := a.index%2 == 0
	closingB := balance{BalanceAmount: amount(closing), BalanceType: "closingBooked", ReferenceDate: yesterday}
	available := balance{BalanceAmount: amount(booked + pending), BalanceType: "interimAvailable"}
	expected := balance{BalanceAmount: amount(booked + pending), BalanceType: "expected"}
	if even {
		available.LastChangeDateTime = now.Format(apiTimeLayout)
		expected.ReferenceDate = today
		if len(a.booked) > 0 {
			expected.LastCommittedTransaction = a.booked[0].tx.InternalTransactionID
		}
	} else {
		included := true
		available.CreditLimitIncluded = &included
		available.BalanceAmount = amount(booked + pending + creditLimit)
	}
	return []balance{closingB, available, expected}
}

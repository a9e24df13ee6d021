package fake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// errorExecutionStatuses are the executionStatus values that come with an
// item error object, and that object's message.
var errorExecutionStatuses = map[string]string{
	"INVALID_CREDENTIALS":            "Invalid credentials.",
	"INVALID_CREDENTIALS_MFA":        "Invalid MFA credentials.",
	"ALREADY_LOGGED_IN":              "The user is already logged in.",
	"SITE_NOT_AVAILABLE":             "The institution site is not available.",
	"ACCOUNT_LOCKED":                 "The account is locked.",
	"ACCOUNT_CREDENTIALS_RESET":      "The account credentials must be reset.",
	"CONNECTION_ERROR":               "There was a connection error with the institution.",
	"ACCOUNT_NEEDS_ACTION":           "The account needs an action from the user.",
	"USER_AUTHORIZATION_PENDING":     "User authorization is pending.",
	"USER_AUTHORIZATION_NOT_GRANTED": "User authorization was not granted.",
	"USER_NOT_SUPPORTED":             "The user is not supported.",
	"USER_INPUT_TIMEOUT":             "User requested input had expired",
	"UNEXPECTED_ERROR":               "An unexpected error occurred.",
	"MERGE_ERROR":                    "There was an error merging the data.",
	"ERROR":                          "An error occurred.",
}

var itemProducts = []string{"ACCOUNTS", "CREDIT_CARDS", "TRANSACTIONS", "INVESTMENTS", "IDENTITY"}

// itemJSON renders an item. Callers hold s.mu.
func (s *Server) itemJSON(it *item, status, exec string) *itemJSON {
	out := &itemJSON{
		ID: it.idStr, Connector: &pluggyBank, Status: status, ExecutionStatus: exec,
		CreatedAt: jsTime(it.createdAt), UpdatedAt: jsTime(it.updatedAt), LastUpdatedAt: ptrTime(it.lastUpdatedAt),
		ClientUserID: ptrStr(it.clientUserID), NextAutoSyncAt: ptrTime(it.nextAutoSyncAt), Products: itemProducts,
	}
	if it.consentExpiresAt != 0 {
		out.ConsentExpiresAt = ptrTime(it.consentExpiresAt)
	}
	if msg, ok := errorExecutionStatuses[exec]; ok {
		out.Error = &itemErrorJSON{Code: exec, Message: msg}
	}
	if exec == "PARTIAL_SUCCESS" {
		// The reference's example (accounts not updated, cards and
		// transactions updated), plus investment transactions not
		// collected, with a warning, under the configured spelling.
		ok := &productStatusJSON{IsUpdated: true, LastUpdatedAt: ptrTime(it.lastUpdatedAt)}
		failed := &productStatusJSON{IsUpdated: false, Warnings: []warningJSON{{Code: "UNEXPECTED_ERROR", Message: "Investment transactions could not be collected from the institution"}}}
		out.StatusDetail = &statusDetailJSON{
			Accounts:     &productStatusJSON{IsUpdated: false, Warnings: []warningJSON{}},
			CreditCards:  ok,
			Transactions: ok,
			Investments:  ok,
		}
		if s.opts.StatusDetailSDKSpelling {
			out.StatusDetail.InvestmentTransactions = failed
		} else {
			out.StatusDetail.InvestmentsTransactions = failed
		}
	}
	if status == "LOGIN_ERROR" {
		out.ConsecutiveFailedLoginAttempts = 1
	}
	return out
}

func (s *Server) lookupItem(idStr string) *item {
	id, ok := parseUUID(idStr)
	if !ok {
		return nil
	}
	return s.itemsByID[id]
}

// handleGetItem serves GET /items/{id}. After a PATCH the item reads
// UPDATING for two polls, then UPDATED/SUCCESS with a fresh lastUpdatedAt.
func (s *Server) handleGetItem(r *http.Request) *reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.lookupItem(r.PathValue("id"))
	if it == nil {
		return errorReply(http.StatusNotFound, "ITEM_NOT_FOUND", "item not found")
	}
	if it.status == "UPDATING" && it.pendingPolls > 0 {
		it.pendingPolls--
		exec := "ACCOUNTS_IN_PROGRESS"
		if it.pendingPolls == 0 {
			exec = "TRANSACTIONS_IN_PROGRESS"
		}
		return jsonReply(http.StatusOK, s.itemJSON(it, "UPDATING", exec))
	}
	if it.status == "UPDATING" && it.lastPatchAt != 0 {
		now := s.opts.Now().UnixMilli()
		it.status, it.execState = "UPDATED", "SUCCESS"
		if it.loginError {
			it.status, it.execState, it.loginError = "LOGIN_ERROR", "INVALID_CREDENTIALS", false
		}
		it.lastUpdatedAt, it.updatedAt = now, now
		it.nextAutoSyncAt = now - now%msPerSecond + msPerDay
	}
	return jsonReply(http.StatusOK, s.itemJSON(it, it.status, it.execState))
}

// handlePatchItem serves PATCH /items/{id}: 20 requests per minute, then at
// most one accepted update per item per 24 hours (switchable with
// SetPatchFrequencyLimit).
func (s *Server) handlePatchItem(r *http.Request) *reply {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if len(bytes.TrimSpace(body)) > 0 {
		var v map[string]any
		if json.Unmarshal(body, &v) != nil {
			return validationError("Invalid JSON body")
		}
	}
	now := s.opts.Now()
	nowMs := now.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := nowMs / msPerMinute; w != s.patchWindow {
		s.patchWindow, s.patchCount = w, 0
	}
	s.patchCount++
	if s.patchCount > 20 {
		rep := errorReply(http.StatusTooManyRequests, "", "Too many requests. Please try again later (see Retry-After header in seconds)")
		rep.header = http.Header{}
		rep.header.Set("RateLimit-Limit", "20")
		rep.header.Set("RateLimit-Reset", strconv.FormatInt(60-nowMs%msPerMinute/msPerSecond, 10))
		rep.header.Set("Retry-After", "60")
		return rep
	}
	it := s.lookupItem(r.PathValue("id"))
	if it == nil {
		return errorReply(http.StatusNotFound, "ITEM_NOT_FOUND", "item not found")
	}
	if it.patchRefusal != "" {
		return patchRefused(it.patchRefusal, nowMs)
	}
	if s.patchLimit && it.lastPatchAt != 0 && nowMs-it.lastPatchAt < msPerDay {
		last := isoString(it.lastPatchAt)
		b := []byte(`{"code":409,"codeDescription":"CLIENT_IS_UPDATING_BEFORE_ALLOWED_FREQUENCY","message":`)
		b = appendString(b, "Client updates on this item are allowed at most every 24 hours. Last update was at "+last)
		b = append(b, `,"data":{"minUpdateFrequencyAllowedInHours":24,"lastUpdatedAt":"`...)
		b = append(b, last...)
		b = append(b, `"}}`...)
		return &reply{status: http.StatusConflict, parts: [][]byte{b}}
	}
	it.lastPatchAt = nowMs
	it.status, it.execState = "UPDATING", "LOGIN_IN_PROGRESS"
	it.updatedAt = nowMs
	it.pendingPolls = 2
	return jsonReply(http.StatusOK, s.itemJSON(it, it.status, it.execState))
}

// Codes of the 400s PATCH /items/{id} answers an item Pluggy will not
// update (pluggy-api.md, items): more than 5 failed syncs in a row, or
// repeated failed logins (with a back-off until canRetryAfterDate).
const (
	TooManyConsecutiveErrors        = "TOO_MANY_CONSECUTIVE_ERRORS"
	TooManyConsecutiveLoginFailures = "TOO_MANY_CONSECUTIVE_LOGIN_FAILURES"
)

// SetPatchRefusal makes PATCH /items/{id} of one item answer 400 with
// codeDescription code (TooManyConsecutiveErrors or
// TooManyConsecutiveLoginFailures) instead of starting an update; "" lets
// it be updated again. GET /items/{id} is unaffected: the item's last data
// is still served. Unknown items are ignored.
func (s *Server) SetPatchRefusal(itemID, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it := s.lookupItem(itemID); it != nil {
		it.patchRefusal = code
	}
}

// patchRefused is the 400 of SetPatchRefusal. The login failures one
// carries data {readableBackoffTime, canRetryAfterDate}, an hour from now.
func patchRefused(code string, nowMs int64) *reply {
	b := []byte(`{"code":400,"codeDescription":`)
	b = appendString(b, code)
	switch code {
	case TooManyConsecutiveLoginFailures:
		b = append(b, `,"message":"Too many consecutive login failures for this item. Please wait before trying again","data":{"readableBackoffTime":"1 hour","canRetryAfterDate":"`...)
		b = appendISO(b, nowMs+msPerHour)
		b = append(b, `"}}`...)
	case TooManyConsecutiveErrors:
		b = append(b, `,"message":"The item had more than 5 consecutive failed updates; it must be updated by the user"}`...)
	default:
		b = append(b, `,"message":"The item cannot be updated"}`...)
	}
	return &reply{status: http.StatusBadRequest, parts: [][]byte{b}}
}

// SetItemStatus sets an item's status and executionStatus (derived from the
// status when empty) and cancels any simulated update in progress. Unknown
// items are ignored.
func (s *Server) SetItemStatus(itemID, status, executionStatus string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.lookupItem(itemID)
	if it == nil {
		return
	}
	if executionStatus == "" {
		executionStatus = defaultExecutionStatus(status)
	}
	it.status, it.execState = status, executionStatus
	it.pendingPolls = 0
	it.updatedAt = s.opts.Now().UnixMilli()
}

func (s *Server) handleConnectors(r *http.Request) *reply {
	return listPage(s, r.URL.Query(), []*connectorJSON{&pluggyBank})
}

func (s *Server) handleConnector(r *http.Request) *reply {
	if r.PathValue("id") != "0" {
		return errorReply(http.StatusNotFound, "CONNECTOR_NOT_FOUND", "connector not found")
	}
	return jsonReply(http.StatusOK, &pluggyBank)
}

// queryItem validates the itemId parameter shared by the list endpoints.
// An unknown (well-formed) itemId answers 404 ITEM_NOT_FOUND.
func (s *Server) queryItem(q url.Values) (*item, *reply) {
	id, ok := parseUUID(q.Get("itemId"))
	if !ok {
		return nil, validationError("itemId must be a UUID")
	}
	it := s.itemsByID[id]
	if it == nil {
		return nil, errorReply(http.StatusNotFound, "ITEM_NOT_FOUND", "item not found")
	}
	return it, nil
}

var subtypes = [...]string{kindChecking: "CHECKING_ACCOUNT", kindSavings: "SAVINGS_ACCOUNT", kindCard: "CREDIT_CARD"}

// subtype is a's subtype as served: CHECKINGS_ACCOUNT for the checking
// accounts of the first item with Options.LegacyCheckingSubtype.
func (s *Server) subtype(a *account) string {
	if s.opts.LegacyCheckingSubtype && a.kind == kindChecking && a.item == s.items[0] {
		return "CHECKINGS_ACCOUNT"
	}
	return subtypes[a.kind]
}

func (s *Server) accountJSON(a *account) *accountJSON {
	out := &accountJSON{
		ID: a.idStr, ItemID: a.item.idStr, Type: "BANK", Subtype: s.subtype(a), Number: a.number, Name: a.name,
		Balance: money(a.balance), CurrencyCode: "BRL", Owner: ptrStr(a.item.owner), TaxNumber: ptrStr(a.item.taxNumber),
		CreatedAt: jsTime(a.createdAt), UpdatedAt: jsTime(a.updatedAt),
	}
	if a.marketingName != "" {
		out.MarketingName = ptrStr(a.marketingName)
	}
	if a.bankData != nil {
		bd := *a.bankData
		bd.ClosingBalance = money(a.balance)
		out.BankData = &bd
	}
	if a.kind == kindCard {
		out.Type = "CREDIT"
		out.CreditData = a.creditData
	}
	return out
}

// handleAccounts serves GET /accounts?itemId=[&type=BANK|CREDIT], a single
// page unless Options.ListPageSize pages it.
func (s *Server) handleAccounts(r *http.Request) *reply {
	q := r.URL.Query()
	typ := q.Get("type")
	if typ != "" && typ != "BANK" && typ != "CREDIT" {
		return validationError("type must be one of the following values: BANK, CREDIT")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	it, rep := s.queryItem(q)
	if rep != nil {
		return rep
	}
	var out []*accountJSON
	for _, a := range it.accounts {
		aj := s.accountJSON(a)
		if typ == "" || aj.Type == typ {
			out = append(out, aj)
		}
	}
	return listPage(s, q, out)
}

func (s *Server) lookupAccount(idStr string) *account {
	id, ok := parseUUID(idStr)
	if !ok {
		return nil
	}
	return s.accountsByID[id]
}

func (s *Server) handleAccount(r *http.Request) *reply {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a := s.lookupAccount(r.PathValue("id"))
	if a == nil {
		return errorReply(http.StatusNotFound, "ACCOUNT_NOT_FOUND", "account not found")
	}
	return jsonReply(http.StatusOK, s.accountJSON(a))
}

func (s *Server) handleCategories(r *http.Request) *reply {
	parent := r.URL.Query().Get("parentId")
	out := make([]category, 0, len(categories))
	for _, c := range categories {
		if parent == "" || (c.ParentID != nil && *c.ParentID == parent) {
			out = append(out, c)
		}
	}
	if s.opts.CategoriesAsArray {
		return jsonReply(http.StatusOK, out)
	}
	return jsonReply(http.StatusOK, singlePage(out).totalAs(s.opts.PageTotals))
}

func (s *Server) handleCategory(r *http.Request) *reply {
	i, ok := categoryIndex[r.PathValue("id")]
	if !ok {
		return errorReply(http.StatusNotFound, "CATEGORY_NOT_FOUND", "category not found")
	}
	return jsonReply(http.StatusOK, categories[i])
}

// billJSON renders a bill. Callers hold s.mu and have ensured its account.
func (s *Server) billJSON(a *account, b *bill) *billJSON {
	due := time.UnixMilli(b.due).UTC()
	out := &billJSON{
		ID: b.idStr, AccountID: a.idStr, DueDate: isoString(b.due), BillClosingDate: ptrTime(b.closing),
		TotalAmount: money(b.total), TotalAmountCurrencyCode: "BRL",
		MinimumPaymentAmount: ptrMoney(max(b.total, 0) * 15 / 100), AllowsInstallments: new(bool),
		FinanceCharges: b.charges, Payments: []billPaymentJSON{},
		CreatedAt: jsTime(b.createdAt), UpdatedAt: jsTime(b.updatedAt),
	}
	*out.AllowsInstallments = true
	if b.noZ {
		out.DueDate = due.Format("2006-01-02T15:04:05")
	}
	if b.closingNull {
		out.BillClosingDate, out.MinimumPaymentAmount, out.AllowsInstallments = nil, nil, nil
	}
	if out.FinanceCharges == nil {
		out.FinanceCharges = []financeChargeJSON{}
	}
	if b.due < s.genNow {
		mode := "DEBIT_ACCOUNT"
		if b.noZ {
			mode = "PIX"
		}
		out.Payments = append(out.Payments, billPaymentJSON{
			ID: b.paymentID, ValueType: "FULL_PAYMENT", PaymentDate: jsTime(b.due), PaymentMode: ptrStr(mode),
			Amount: money(b.total), CurrencyCode: "BRL",
		})
	}
	return out
}

// handleBills serves GET /bills?accountId=: a card's closed bills, newest
// first, as one page (unless Options.ListPageSize pages them); a bank
// account has none. An unknown accountId answers
// 404 ACCOUNT_NOT_FOUND.
func (s *Server) handleBills(r *http.Request) *reply {
	q := r.URL.Query()
	id, ok := parseUUID(q.Get("accountId"))
	if !ok {
		return validationError("accountId should not be null or undefined, accountId must be a UUID")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	a := s.accountsByID[id]
	if a == nil {
		return errorReply(http.StatusNotFound, "ACCOUNT_NOT_FOUND", "account not found")
	}
	a.ensure(s)
	out := make([]*billJSON, 0, len(a.bills))
	for _, b := range a.bills {
		out = append(out, s.billJSON(a, b))
	}
	return listPage(s, q, out)
}

func (s *Server) handleBill(r *http.Request) *reply {
	id, ok := parseUUID(r.PathValue("id"))
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.billsByID[id]
	if !ok || b == nil {
		return errorReply(http.StatusNotFound, "CREDIT_CARD_BILL_NOT_FOUND", "credit card bill not found")
	}
	b.acct.ensure(s)
	return jsonReply(http.StatusOK, s.billJSON(b.acct, b))
}

// paging parses page and pageSize (1-based page; pageSize 1..500, default
// Options.PageSize) for the page-numbered endpoints.
func (s *Server) paging(q url.Values) (page, size int, rep *reply) {
	return pagingWith(q, min(s.opts.PageSize, maxIDs))
}

// listPage answers a list the reference calls effectively one page
// (accounts, bills, loans, connectors): all of it in one page, page and
// pageSize ignored, or with Options.ListPageSize the page asked for.
func listPage[T any](s *Server, q url.Values, all []T) *reply {
	if s.opts.ListPageSize <= 0 {
		return jsonReply(http.StatusOK, singlePage(all).totalAs(s.opts.PageTotals))
	}
	page, size, rep := pagingWith(q, min(s.opts.ListPageSize, maxIDs))
	if rep != nil {
		return rep
	}
	return jsonReply(http.StatusOK, pageOf(all, page, size).totalAs(s.opts.PageTotals))
}

// pagingWith parses page and pageSize, with pageSize def when none is sent.
func pagingWith(q url.Values, def int) (page, size int, rep *reply) {
	page, size = 1, def
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, validationError("page must not be less than 1")
		}
		page = n
	}
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 1:
			return 0, 0, validationError("pageSize must not be less than 1")
		case n > 500:
			return 0, 0, validationError("pageSize must not be greater than 500")
		}
		size = n
	}
	return page, size, nil
}

// pageOf slices all into page `page` of `size`; totalPages is 0 when there
// is nothing, as on the real API.
func pageOf[T any](all []T, page, size int) pageJSON[T] {
	out := pageJSON[T]{Page: page, Total: pageTotal{n: len(all)}, TotalPages: (len(all) + size - 1) / size, Results: []T{}}
	if start := (page - 1) * size; start < len(all) {
		out.Results = all[start:min(start+size, len(all))]
	}
	return out
}

// handleInvestments serves GET /investments?itemId=[&type=][&page=&pageSize=].
func (s *Server) handleInvestments(r *http.Request) *reply {
	q := r.URL.Query()
	page, size, rep := s.paging(q)
	if rep != nil {
		return rep
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	it, rep := s.queryItem(q)
	if rep != nil {
		return rep
	}
	typ := q.Get("type")
	var all []*investmentJSON
	for _, in := range it.investments {
		if typ == "" || in.json.Type == typ {
			all = append(all, &in.json)
		}
	}
	return jsonReply(http.StatusOK, pageOf(all, page, size).totalAs(s.opts.PageTotals))
}

func (s *Server) lookupInvestment(idStr string) *investment {
	id, ok := parseUUID(idStr)
	if !ok {
		return nil
	}
	return s.investmentsByID[id]
}

func (s *Server) handleInvestment(r *http.Request) *reply {
	in := s.lookupInvestment(r.PathValue("id"))
	if in == nil {
		return errorReply(http.StatusNotFound, "INVESTMENT_NOT_FOUND", "investment not found")
	}
	return jsonReply(http.StatusOK, &in.json)
}

// handleInvestmentTransactions serves GET /investments/{id}/transactions.
// The rows do not carry investmentId, exactly like the real API.
func (s *Server) handleInvestmentTransactions(r *http.Request) *reply {
	page, size, rep := s.paging(r.URL.Query())
	if rep != nil {
		return rep
	}
	in := s.lookupInvestment(r.PathValue("id"))
	if in == nil {
		return errorReply(http.StatusNotFound, "INVESTMENT_NOT_FOUND", "investment not found")
	}
	return jsonReply(http.StatusOK, pageOf(in.txns, page, size).totalAs(s.opts.PageTotals))
}

// handleLoans serves GET /loans?itemId=, one page unless
// Options.ListPageSize pages it.
func (s *Server) handleLoans(r *http.Request) *reply {
	q := r.URL.Query()
	s.mu.RLock()
	defer s.mu.RUnlock()
	it, rep := s.queryItem(q)
	if rep != nil {
		return rep
	}
	return listPage(s, q, it.loans)
}

func (s *Server) handleLoan(r *http.Request) *reply {
	id := r.PathValue("id")
	for _, it := range s.items {
		for _, l := range it.loans {
			if l.ID == id {
				return jsonReply(http.StatusOK, l)
			}
		}
	}
	return errorReply(http.StatusNotFound, "LOAN_NOT_FOUND", "loan not found")
}

// handleIdentity serves GET /identity?itemId=; only the first item has one,
// the others answer 404 IDENTITY_NOT_FOUND.
func (s *Server) handleIdentity(r *http.Request) *reply {
	s.mu.RLock()
	defer s.mu.RUnlock()
	it, rep := s.queryItem(r.URL.Query())
	if rep != nil {
		return rep
	}
	if it.identity == nil {
		return errorReply(http.StatusNotFound, "IDENTITY_NOT_FOUND", "identity not found")
	}
	return jsonReply(http.StatusOK, it.identity)
}

func (s *Server) handleIdentityByID(r *http.Request) *reply {
	id := r.PathValue("id")
	for _, it := range s.items {
		if it.identity != nil && it.identity.ID == id {
			return jsonReply(http.StatusOK, it.identity)
		}
	}
	return errorReply(http.StatusNotFound, "IDENTITY_NOT_FOUND", "identity not found")
}

func (s *Server) handleConsents(r *http.Request) *reply {
	s.mu.RLock()
	defer s.mu.RUnlock()
	it, rep := s.queryItem(r.URL.Query())
	if rep != nil {
		return rep
	}
	return jsonReply(http.StatusOK, singlePage(it.consents).totalAs(s.opts.PageTotals))
}

func (s *Server) handleConsent(r *http.Request) *reply {
	id := r.PathValue("id")
	for _, it := range s.items {
		for _, c := range it.consents {
			if c.ID == id {
				return jsonReply(http.StatusOK, c)
			}
		}
	}
	return errorReply(http.StatusNotFound, "CONSENT_NOT_FOUND", "consent not found")
}

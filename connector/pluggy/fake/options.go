package fake

import (
	"strings"
	"time"
)

// NextStyle selects how the v2 transactions `next` link is written. The real
// API's encoding of the cursor inside `next` is undocumented, so the fake can
// produce every plausible variant and the connector must cope with all of them.
type NextStyle int

const (
	// NextRelativeEncoded writes "?accountId=..&after=<percent-encoded>",
	// the form in Pluggy's spec example ('=' sent as %3D).
	NextRelativeEncoded NextStyle = iota
	// NextRelativeRaw writes the filters and the base64 cursor unescaped, the
	// way the official Node SDK builds query strings ('=' '+' '/' left raw).
	NextRelativeRaw
	// NextAbsolute writes a full URL, "http://host/v2/transactions?...".
	NextAbsolute
)

// String returns the style's flag spelling ("encoded", "raw", "absolute").
func (n NextStyle) String() string {
	switch n {
	case NextRelativeRaw:
		return "raw"
	case NextAbsolute:
		return "absolute"
	default:
		return "encoded"
	}
}

// ParseNextStyle is the inverse of NextStyle.String; it reports false for an
// unknown spelling.
func ParseNextStyle(s string) (NextStyle, bool) {
	switch strings.ToLower(s) {
	case "", "encoded", "relative", "relative-encoded":
		return NextRelativeEncoded, true
	case "raw", "relative-raw":
		return NextRelativeRaw, true
	case "absolute":
		return NextAbsolute, true
	}
	return 0, false
}

// RowOrder is the order GET /v2/transactions serves an account's rows in.
// Pluggy documents none (pluggy-api.md §5: v1 examples are newest first and
// the keyset suggests date desc, id; "Don't depend on order", UNCERTAIN),
// so the fake can serve each and the connector must read the same whatever
// the order. Every order is a keyset on the row's (date, id), the cursor
// Pluggy's `after` encodes, so paging stays exact while rows change.
type RowOrder int

const (
	// OrderNewestFirst is date desc, then id desc (the default).
	OrderNewestFirst RowOrder = iota
	// OrderOldestFirst is date asc, then id asc.
	OrderOldestFirst
	// OrderShuffled is a fixed pseudo-random order drawn from
	// Options.OrderSeed: by a hash of the seed and the row's id, then id.
	// A row keeps its place while others are added or deleted, and dates
	// are mixed on every page.
	OrderShuffled
)

// String returns the order's name ("newest-first", "oldest-first",
// "shuffled").
func (o RowOrder) String() string {
	switch o {
	case OrderOldestFirst:
		return "oldest-first"
	case OrderShuffled:
		return "shuffled"
	default:
		return "newest-first"
	}
}

// TotalStyle is how the page envelopes ({page, total, totalPages,
// results}) write `total`. Pluggy's spec has it a number; a client must
// not depend on it for anything but an estimate, so the fake can send it
// absent or malformed.
type TotalStyle int

const (
	// TotalNumber writes the list's length, as the real API (the default).
	TotalNumber TotalStyle = iota
	// TotalAbsent leaves `total` out.
	TotalAbsent
	// TotalString writes the length as a JSON string ("total":"4").
	TotalString
	// TotalNegative writes -1.
	TotalNegative
)

// Options configures a Server. The zero value is usable: every field has a
// default chosen to match the real API or to keep tests small and fast.
type Options struct {
	// Seed drives every generated value (ids, amounts, names, dates). Default 1.
	Seed uint64
	// Items is the number of items (bank connections). Default 2.
	Items int
	// AccountsPerItem cycles checking (BANK/CHECKING_ACCOUNT), savings
	// (BANK/SAVINGS_ACCOUNT) and credit card (CREDIT/CREDIT_CARD). Default 3.
	AccountsPerItem int
	// TransactionsPerAccount is the exact number of rows generated per
	// account. Default 120; a negative value generates none.
	TransactionsPerAccount int
	// PageSize is the v2 transactions page size and the default pageSize of
	// the investment endpoints. Default 500, the real API's value.
	PageSize int
	// ClientID and ClientSecret are the only credentials POST /auth accepts.
	// Defaults "demo-client-id" / "demo-client-secret".
	ClientID, ClientSecret string
	// Now is the clock. Default time.Now. Generated data is dated relative to
	// the reading taken in New; key expiry, mutations and the PATCH rules read
	// it again on every use, so tests can move time forward.
	Now func() time.Time
	// Latency is slept before every response (honouring request cancellation).
	Latency time.Duration
	// KeyTTL is the lifetime of an issued apiKey. Default 2h, as documented.
	KeyTTL time.Duration
	// ItemStatuses optionally overrides the initial status of item i. Each
	// entry is "STATUS" or "STATUS:EXECUTION_STATUS", e.g. "LOGIN_ERROR" or
	// "UPDATED:PARTIAL_SUCCESS"; missing or empty entries mean UPDATED/SUCCESS.
	ItemStatuses []string
	// CategoriesAsArray serves GET /categories as a bare array (what the spec
	// says) instead of the page envelope (what the live API returns).
	CategoriesAsArray bool
	// NextStyle selects how v2 `next` links are written.
	NextStyle NextStyle
	// InvestmentIDNull sends "investmentId": null on investment movements
	// instead of leaving the field out.
	InvestmentIDNull bool
	// MaxURLBytes answers 414 URI Too Long to a request whose request line
	// (path and query) is longer, as front ends with a 16 KiB (or smaller)
	// request-line limit do. 0: no limit.
	MaxURLBytes int
	// StaleKey401 answers a missing, unknown, expired or revoked apiKey with
	// 401 {"code":401,"message":"Missing or invalid authorization token"}
	// instead of the spec's 403: Pluggy's error table says 401 means "your
	// API key is wrong" and the reference leaves open which one a stale key
	// gets (pluggy-api.md §11.3, "handle both").
	StaleKey401 bool
	// ClientDisabled, 401 or 403, answers POST /auth with the right keys
	// with that status and {"codeDescription":"CLIENT_DISABLED","message":
	// "Client is disabled"}: 401 is the documented answer, 403 the one other
	// sources report (UNCERTAIN). Wrong keys still get
	// CLIENT_KEYS_UNAUTHORIZED. 0: the client is enabled.
	ClientDisabled int
	// ClientIDMustBeUUID answers POST /auth with a class-validator 400
	// ("clientId must be a UUID", no codeDescription) when the clientId is
	// not a UUID, as other sources report for a malformed clientId. Real
	// client ids are UUIDs; the default ClientID is not, so set ClientID to
	// a UUID to be let in.
	ClientIDMustBeUUID bool
	// LegacyCheckingSubtype serves the checking accounts of the first item
	// with subtype CHECKINGS_ACCOUNT, the spelling of old pluggy-js and
	// agent-skills; the other items keep the live API's CHECKING_ACCOUNT,
	// so one read meets both (pluggy-api.md, accounts: "accept both").
	LegacyCheckingSubtype bool
	// StatusDetailSDKSpelling spells the investment transactions member of
	// a PARTIAL_SUCCESS item's statusDetail "investmentTransactions", as
	// the Node SDK's type does, instead of "investmentsTransactions", as
	// the OAS and a recorded payload do (pluggy-api.md, item fields: "read
	// both").
	StatusDetailSDKSpelling bool
	// PreciseInvestmentMoney serves investment movements whose amount and
	// netAmount carry the decimals of a computed double, as Pluggy's
	// OpenAPI allows (number, format double, no scale limit; pluggy-api.md
	// §12: amounts "computed the same way" as amountOriginal = quantity ×
	// unit price): in turn six places (1266.803034), eight places, and the
	// seventeen significant digits a double prints (1290.4500000000001,
	// thirteen places); fund quotas (value) get ten places. The investments
	// themselves too: the CDB is the recorded live Nubank CDB of §12
	// (value 0.010186, quantity 126680.3034, amount 1290.45,
	// amountOriginal 1266.803034, with amountProfit, taxes and
	// amountWithdrawal computed from them to six and seven places), the
	// fund has a ten-place quota value, an eight-place amountOriginal and
	// thirteen-place amount, balance and amountProfit; the stock keeps two
	// places. Off: money has two places, as money usually has.
	PreciseInvestmentMoney bool
	// LegacyInvestmentTransactions embeds each investment's movements in
	// its "transactions" member, as GET /investments and GET
	// /investments/{id} answer applications created before 2023-03-20
	// (pluggy-api.md §6: the legacy embedded array is null only for newer
	// ones). The movements are the ones GET /investments/{id}/transactions
	// serves, every member included. Off: "transactions": null.
	LegacyInvestmentTransactions bool
	// CreatedLinkV2 writes the transactions/created webhook as newer
	// applications get it: createdTransactionsLink points at
	// /v2/transactions and createdTransactionsLinkV2 is added (pluggy-api.md
	// §6 and the webhook examples). Off: the legacy v1 link only.
	CreatedLinkV2 bool
	// WebhookStatusesAsSpecified answers GET /webhooks with 204 and no
	// body while no webhook is registered, and POST /webhooks with 201:
	// the statuses Pluggy's OpenAPI gives. Off: 200 to both, as the live
	// API answers (the SDK rejects any other status on a mutation and its
	// live tests pass; pluggy-api.md §6 and open question 8).
	WebhookStatusesAsSpecified bool
	// PostedWithoutStatus leaves "status" out of posted transactions, which
	// the SDK types as optional ("status?"; absent means POSTED,
	// pluggy-api.md §5); pending rows still say PENDING. Off: every row
	// says POSTED or PENDING.
	PostedWithoutStatus bool
	// WebhookTimesWithoutZone writes the times of transactions/created
	// (transactionsCreatedAtFrom, transactionsMinDate) without their zone,
	// 2025-02-13T17:21:53.719, the Z-less form Pluggy writes some of its
	// UTC times in (pluggy-api.md, value formats: "The Go parser must be
	// lenient"). Off: with milliseconds and Z, as the webhook examples.
	WebhookTimesWithoutZone bool
	// ConnectorStatusWithoutID sends connector/status_updated with data
	// {status} only, as the SDK's type and the reference's example have it
	// (pluggy-api.md §6: connectorId possibly besides, UNCERTAIN). Off: the
	// event carries connectorId too.
	ConnectorStatusWithoutID bool
	// TransactionTimesWithoutZone writes each transaction's createdAt and
	// updatedAt without their zone, 2026-05-29T20:59:20.000, the Z-less
	// form Pluggy writes some of its UTC times in (pluggy-api.md, value
	// formats: "The Go parser must be lenient"). Off: with milliseconds
	// and Z, as the reference's transaction payloads.
	TransactionTimesWithoutZone bool
	// NextDropsFilters writes v2 `next` links with accountId and after
	// only, as the spec's example does, dropping dateFrom, dateTo,
	// createdAtFrom and ids (whether the live API copies them is open,
	// pluggy-api.md §11.2). A client that follows such a link verbatim
	// reads past its filters; one that re-sends its own filters with the
	// new after (what the SDK does) reads exactly what it asked for.
	NextDropsFilters bool
	// ListPageSize makes GET /accounts, /bills, /loans and /connectors
	// honour page and pageSize, one answer pluggy-api.md §11.6 leaves open:
	// a list longer than ListPageSize rows is split into pages of that
	// size (pageSize, 1..500, overrides it, as on the investment
	// endpoints), page (1-based, default 1) picks one, and totalPages says
	// how many there are; a page past the end is empty. 0: each is the
	// single page the reference says they effectively are (§4, §7), all
	// rows with totalPages 1, whatever page and pageSize ask.
	ListPageSize int
	// PageTotals is how the page envelopes of GET /accounts, /bills,
	// /loans, /categories, /investments, /investments/{id}/transactions
	// and /consents write `total`. Default TotalNumber.
	PageTotals TotalStyle
	// Loans is the number of loans of the first item; the others have
	// none. Default 1. Loans after the first come from their own generator,
	// so the rest of the data is the same whatever the number.
	Loans int
	// TransactionOrder is the order of GET /v2/transactions (every filter:
	// dateFrom, createdAtFrom, ids) and of Transactions. Default
	// OrderNewestFirst.
	TransactionOrder RowOrder
	// OrderSeed draws the OrderShuffled order; two seeds give two orders.
	OrderSeed uint64
	// Gzip compresses every answer to a request that accepts it
	// (Accept-Encoding: gzip, which Go's client sends by itself), streamed
	// without a Content-Length, as front ends that compress on the fly
	// answer: the client then reads a body of unknown length, and a body
	// cut off is a broken gzip stream. Counted in Stats.Gzipped.
	Gzip bool
}

// withDefaults returns o with zero fields replaced by their defaults.
func (o Options) withDefaults() Options {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Items <= 0 {
		o.Items = 2
	}
	if o.AccountsPerItem <= 0 {
		o.AccountsPerItem = 3
	}
	switch {
	case o.TransactionsPerAccount == 0:
		o.TransactionsPerAccount = 120
	case o.TransactionsPerAccount < 0:
		o.TransactionsPerAccount = 0
	}
	if o.PageSize <= 0 {
		o.PageSize = 500
	}
	if o.Loans <= 0 {
		o.Loans = 1
	}
	if o.ClientID == "" {
		o.ClientID = "demo-client-id"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = "demo-client-secret"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.KeyTTL <= 0 {
		o.KeyTTL = 2 * time.Hour
	}
	return o
}

// Command fake-pluggy serves the deterministic fake Pluggy API
// (connector/pluggy/fake) for benchmarks and manual runs, and runs the
// demo: `fake-pluggy demo` reads the fake, in-process, with source-pluggy's
// own runtime (see demo.go), so the connector binary links no fake.
//
// On start it prints one JSON line to stdout,
//
//	{"base_url":"http://127.0.0.1:PORT","client_id":...,"client_secret":...,"item_ids":[...]}
//
// and serves until SIGINT or SIGTERM. Besides the Pluggy routes it exposes
// the unauthenticated /__fake/ admin endpoints (mutations, stats, webhook
// delivery faults), and delivers webhook events to URLs registered with
// POST /webhooks when a mutation changes the data, which is
// why it refuses to listen anywhere but loopback.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/fakeserver"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
)

func main() { fakeserver.Main("fake-pluggy", run, demoCommand()) }

// run parses args, starts the server, announces it on stdout and serves
// until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fake-pluggy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = fakeserver.Usage(fs, "serve the fake Pluggy API on loopback until SIGINT or SIGTERM", demoCommand())
	var (
		o          fake.Options
		f          fake.Faults
		addr       = fs.String("addr", "127.0.0.1:0", "listen address (loopback only)")
		prewarm    = fs.Bool("prewarm", false, "generate and pre-encode every transactions page before serving")
		nextStyle  = fs.String("next-style", "encoded", "the `style` of v2 next links: encoded, raw or absolute")
		now        = fs.String("now", "", "fixed clock (RFC 3339) for reproducible data; default the real clock")
		retryAfter = fs.Int("retry-after", 1, "Retry-After seconds of injected 429s (the real API says 60)")
		localHooks = fs.Bool("allow-local-webhooks", false, "let POST /webhooks register http and loopback URLs (the real API refuses them)")
		statuses   = fs.String("item-statuses", "", "comma-separated `statuses` of the items in turn, each STATUS or STATUS:EXECUTION_STATUS (UPDATED:PARTIAL_SUCCESS, LOGIN_ERROR, OUTDATED, ...); an empty entry leaves its item UPDATED:SUCCESS")
		df         fake.DeliveryFaults
	)
	fs.IntVar(&df.DropPercent, "webhook-drop-percent", 0, "lose this percentage of webhook deliveries")
	fs.IntVar(&df.DuplicateEvery, "webhook-duplicate-every", 0, "deliver every Nth webhook event twice")
	fs.DurationVar(&df.Delay, "webhook-delay", 0, "wait before each webhook delivery")
	fs.BoolVar(&df.Reorder, "webhook-reorder", false, "deliver queued webhook events in random order")
	fs.Uint64Var(&o.Seed, "seed", 1, "data seed")
	fs.IntVar(&o.Items, "items", 2, "number of items")
	fs.IntVar(&o.AccountsPerItem, "accounts", 3, "accounts per item (checking, savings, credit card, ...)")
	fs.IntVar(&o.TransactionsPerAccount, "transactions", 120, "transactions per account")
	fs.IntVar(&o.PageSize, "page-size", 500, "v2 transactions page size")
	fs.DurationVar(&o.Latency, "latency", 0, "delay added before every response")
	fs.DurationVar(&o.KeyTTL, "key-ttl", 2*time.Hour, "apiKey lifetime")
	fs.StringVar(&o.ClientID, "client-id", "demo-client-id", "accepted client id")
	fs.StringVar(&o.ClientSecret, "client-secret", "demo-client-secret", "accepted client secret")
	fs.BoolVar(&o.CategoriesAsArray, "categories-as-array", false, "serve /categories as a bare array")
	fs.BoolVar(&o.InvestmentIDNull, "investment-id-null", false, `send "investmentId": null on investment movements`)
	fs.BoolVar(&o.LegacyInvestmentTransactions, "legacy-investment-transactions", false, `embed each investment's movements in its "transactions" member, as Pluggy answers applications created before 2023-03-20`)
	fs.IntVar(&o.MaxURLBytes, "max-url-bytes", 0, "answer 414 to request lines longer than N bytes, as front ends do (0: no limit)")
	fs.BoolVar(&o.Gzip, "gzip", false, "gzip every answer to a request that accepts it, without a Content-Length, as compressing front ends do")
	fs.IntVar(&f.Every429, "every-429", 0, "answer every Nth request with 429")
	fs.IntVar(&f.Every500, "every-500", 0, "answer every Nth request with 500")
	fs.IntVar(&f.EveryGarbage, "every-garbage", 0, "answer every Nth request with a non-JSON 200")
	fs.IntVar(&f.RevokeKeyAfter, "revoke-key-after", 0, "revoke all keys issued so far after N requests")
	fs.IntVar(&f.DropMidBodyEvery, "drop-mid-body-every", 0, "cut every Nth response off mid-body")
	fs.IntVar(&f.RateLimitResetSeconds, "rate-limit-reset", 0, "RateLimit-Reset seconds of injected 429s, apart from Retry-After (0: the same)")
	fs.BoolVar(&o.StaleKey401, "stale-key-401", false, "answer a missing, expired or revoked apiKey with 401 instead of 403")
	fs.IntVar(&o.ClientDisabled, "client-disabled", 0, "answer POST /auth with 401 or 403 CLIENT_DISABLED (0: the client is enabled)")
	fs.BoolVar(&o.ClientIDMustBeUUID, "client-id-must-be-uuid", false, "answer POST /auth with 400 when the clientId is not a UUID")
	fs.BoolVar(&o.LegacyCheckingSubtype, "legacy-checking-subtype", false, "serve the first item's checking accounts with subtype CHECKINGS_ACCOUNT")
	fs.BoolVar(&o.StatusDetailSDKSpelling, "status-detail-sdk-spelling", false, "spell statusDetail's investmentsTransactions as the SDK does: investmentTransactions")
	fs.BoolVar(&o.PreciseInvestmentMoney, "precise-investment-money", false, "serve investment movements and the investments themselves with 6 to 13 decimal places, as computed doubles and the recorded Nubank CDB (amountOriginal 1266.803034) send them")
	fs.BoolVar(&o.CreatedLinkV2, "created-link-v2", false, "send transactions/created webhooks with a /v2/transactions link and createdTransactionsLinkV2")
	fs.BoolVar(&o.WebhookStatusesAsSpecified, "webhook-statuses-as-specified", false, "answer GET /webhooks with 204 while none is registered and POST /webhooks with 201, as Pluggy's OpenAPI says (the live API answers 200)")
	fs.BoolVar(&o.PostedWithoutStatus, "posted-without-status", false, `leave "status" out of posted transactions (absent means POSTED)`)
	fs.BoolVar(&o.WebhookTimesWithoutZone, "webhook-times-without-zone", false, "write the times of transactions/created webhooks without their zone (2025-02-13T17:21:53.719)")
	fs.BoolVar(&o.ConnectorStatusWithoutID, "connector-status-without-id", false, "send connector/status_updated webhooks with data {status} only, without connectorId")
	fs.BoolVar(&o.TransactionTimesWithoutZone, "transaction-times-without-zone", false, "write each transaction's createdAt and updatedAt without their zone (2026-05-29T20:59:20.000)")
	fs.BoolVar(&o.NextDropsFilters, "next-drops-filters", false, "write v2 next links with accountId and after only, dropping the other filters")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	// fake.Options reads 0 as "the default": a --items 0 served 2 items
	// and announced them as if asked for, where the other fakes refuse
	// sizes below 1.
	for _, c := range []struct {
		name string
		v    int
	}{{"--items", o.Items}, {"--accounts", o.AccountsPerItem}, {"--transactions", o.TransactionsPerAccount}, {"--page-size", o.PageSize}} {
		if c.v < 1 {
			return fmt.Errorf("%s must be at least 1, got %d", c.name, c.v)
		}
	}
	if *statuses != "" {
		list, err := parseItemStatuses(*statuses, o.Items)
		if err != nil {
			return err
		}
		o.ItemStatuses = list
	}
	style, ok := fake.ParseNextStyle(*nextStyle)
	if !ok {
		return fmt.Errorf("--next-style %q: want encoded, raw or absolute", *nextStyle)
	}
	o.NextStyle = style
	if *now != "" {
		t, err := time.Parse(time.RFC3339Nano, *now)
		if err != nil {
			return fmt.Errorf("--now: %w", err)
		}
		o.Now = func() time.Time { return t }
	}
	if d := o.ClientDisabled; d != 0 && d != http.StatusUnauthorized && d != http.StatusForbidden {
		return fmt.Errorf("--client-disabled %d: want 401 or 403", d)
	}
	f.RetryAfterSeconds = *retryAfter
	if *retryAfter == 0 {
		f.RetryAfterSeconds = -1 // Faults reads 0 as "default"; -1 sends 0
	}

	if err := fakeserver.CheckLoopback(*addr); err != nil {
		return err
	}
	s := fake.New(o)
	s.SetFaults(f)
	s.AllowLocalWebhooks(*localHooks)
	if df.DropPercent < 0 || df.DropPercent > 100 {
		return fmt.Errorf("--webhook-drop-percent %d: want 0-100", df.DropPercent)
	}
	s.SetDeliveryFaults(df)
	if *prewarm {
		start := time.Now()
		s.Prewarm()
		fmt.Fprintf(stderr, "fake-pluggy: prewarmed in %v\n", time.Since(start).Round(time.Millisecond))
	}
	return fakeserver.Run(ctx, *addr, s.HandlerWithAdmin(), stdout, func(origin string) any {
		return struct {
			BaseURL      string   `json:"base_url"`
			ClientID     string   `json:"client_id"`
			ClientSecret string   `json:"client_secret"`
			ItemIDs      []string `json:"item_ids"`
		}{origin, s.ClientID(), s.ClientSecret(), s.ItemIDs()}
	})
}

// itemStatuses and executionStatuses are the values of an item's status and
// executionStatus (pluggy-api.md §2, the SDK's types). --item-statuses
// takes only these, so that a misspelt PARTIAL_SUCCESS is refused rather
// than served as an item the connector has nothing to say about.
var (
	itemStatuses = []string{"UPDATED", "UPDATING", "WAITING_USER_INPUT", "WAITING_USER_ACTION", "MERGING", "LOGIN_ERROR", "OUTDATED"}

	executionStatuses = []string{
		"CREATING", "CREATE_ERROR", "CREATED",
		"LOGIN_IN_PROGRESS", "WAITING_USER_INPUT", "WAITING_USER_ACTION", "LOGIN_MFA_IN_PROGRESS",
		"ACCOUNTS_IN_PROGRESS", "TRANSACTIONS_IN_PROGRESS", "PAYMENT_DATA_IN_PROGRESS", "CREDITCARDS_IN_PROGRESS",
		"INVESTMENTS_IN_PROGRESS", "INVESTMENTS_TRANSACTIONS_IN_PROGRESS", "IDENTITY_IN_PROGRESS", "LOANS_IN_PROGRESS",
		"ACCOUNT_STATEMENTS_IN_PROGRESS",
		"INVALID_CREDENTIALS", "ALREADY_LOGGED_IN", "UNEXPECTED_ERROR", "INVALID_CREDENTIALS_MFA", "SITE_NOT_AVAILABLE",
		"ACCOUNT_LOCKED", "ACCOUNT_CREDENTIALS_RESET", "CONNECTION_ERROR", "ACCOUNT_NEEDS_ACTION",
		"USER_AUTHORIZATION_PENDING", "USER_AUTHORIZATION_NOT_GRANTED", "USER_NOT_SUPPORTED", "USER_INPUT_TIMEOUT",
		"MERGE_ERROR", "ERROR", "SUCCESS", "PARTIAL_SUCCESS",
	}
)

// parseItemStatuses reads --item-statuses into fake.Options.ItemStatuses:
// one entry an item, in the order the fake announces them, at most items
// entries. Without it no run of the fake served an item other than
// UPDATED/SUCCESS, so --status-detail-sdk-spelling, which spells a
// PARTIAL_SUCCESS item's statusDetail, changed nothing.
func parseItemStatuses(s string, items int) ([]string, error) {
	list := strings.Split(s, ",")
	if len(list) > items {
		return nil, fmt.Errorf("--item-statuses %q: %d entries for %d items (--items)", s, len(list), items)
	}
	for i, e := range list {
		e = strings.TrimSpace(e)
		list[i] = e
		if e == "" {
			continue
		}
		st, ex, hasEx := strings.Cut(e, ":")
		if !slices.Contains(itemStatuses, st) {
			return nil, fmt.Errorf("--item-statuses: entry %d, %q: the status %q is none of %s", i+1, e, st, strings.Join(itemStatuses, ", "))
		}
		if hasEx && !slices.Contains(executionStatuses, ex) {
			return nil, fmt.Errorf("--item-statuses: entry %d, %q: the execution status %q is none of Pluggy's (SUCCESS, PARTIAL_SUCCESS, SITE_NOT_AVAILABLE, INVALID_CREDENTIALS, ...)", i+1, e, ex)
		}
	}
	return list, nil
}

// Command fake-gocardless-bank-data serves the fake GoCardless Bank Account Data API
// (package connector/gocardless/fake) on a loopback address, for manual
// runs of the connector and end-to-end tests in other languages, and runs
// the demo: `fake-gocardless-bank-data demo` reads the fake, in-process,
// with source-gocardless-bank-data's own runtime (see demo.go).
//
// It prints one JSON line with what a connector config needs:
//
//	{"base_url":"http://127.0.0.1:PORT/api/v2","secret_id":"…","secret_key":"…","requisition_ids":["…"]}
//
// and serves until SIGINT or SIGTERM. Scenario switches are under /__fake/
// without authentication (see fake.Server.AdminHandler), which is why the
// server refuses to listen anywhere but loopback.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/fakeserver"
	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
)

func main() { fakeserver.Main("fake-gocardless-bank-data", run, demoCommand()) }

// ready is the line printed once the server listens.
type ready struct {
	BaseURL        string   `json:"base_url"`
	SecretID       string   `json:"secret_id"`
	SecretKey      string   `json:"secret_key"`
	RequisitionIDs []string `json:"requisition_ids"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fake-gocardless-bank-data", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = fakeserver.Usage(fs, "serve the fake GoCardless Bank Account Data API on loopback until SIGINT or SIGTERM", demoCommand())
	addr := fs.String("addr", "127.0.0.1:0", "loopback `host:port` to listen on (port 0 picks a free one)")
	seed := fs.Uint64("seed", 1, "seed of the generated data")
	requisitions := fs.Int("requisitions", 2, "linked requisitions, two accounts each")
	transactions := fs.Int("transactions", 80, "booked transactions per account")
	dailyLimit := fs.Int("daily-limit", 4, "bank-level calls per account and endpoint per rolling 24h")
	accountsPerMinute := fs.Int("accounts-per-minute", 100, "company-level /accounts/* calls per rolling minute, as on the real API; 0 lifts the limit (for benchmarks)")
	headerStyle := fs.String("header-style", "http", "rate-limit header spelling: http (HTTP_X_RATELIMIT_*) or x (x-ratelimit-*)")
	latency := fs.Duration("latency", 0, "delay added to every answer")
	secretID := fs.String("secret-id", "demo-secret-id", "secret_id that token/new accepts")
	secretKey := fs.String("secret-key", "demo-secret-key", "secret_key that token/new accepts")
	quotaAnswer := fs.String("quota-answer", "typed", "how a spent bank-level quota answers: typed (429 RateLimitError with seconds), gocardless (429 without a type, \"try again in N seconds\") or institution (429 RateLimitError, no seconds)")
	untypedExpiry := fs.Bool("untyped-expiry", false, "answer expired access with the 401 without a type (\"End User Agreement (EUA) … has expired\")")
	badRequestExpiry := fs.Bool("bad-request-expiry", false, "answer expired access with the 400 without a type (\"EUA was valid for 90 days and it expired at …\"); wins over --untyped-expiry")
	allowedIPs := fs.String("allowed-ips", "", "comma-separated IP allow-list; any other client address gets 403 \"IP address access denied\" on every endpoint (default: all allowed)")
	informationBalance := fs.Bool("information-balance", false, "the first account reports one balance of the non-standard type information, as American Express does")
	misfits := fs.Bool("misfits", false, "the accounts with balanceAfterTransaction serve it as text (\"1234,56 EUR\") and a field GoCardless documents nowhere (xBankField) in their booked rows")
	noInternalIDs := fs.Bool("no-internal-ids", false, "booked rows come without internalTransactionId, so that a client keys them by the bank's transactionId or their content")
	separateHistory := fs.Bool("separate-history-consent", false, "institutions report separate_continuous_history_consent and freeze the history of agreements over 90 days")
	historyAfterFirst := fs.Int("history-after-first-call", 0, "each account's first transactions call serves its full history, later ones only the last `N` days, an older date_from clipped silently (0: no such limit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	style, err := parseHeaderStyle(*headerStyle)
	if err != nil {
		return err
	}
	qa, err := parseQuotaAnswer(*quotaAnswer)
	if err != nil {
		return err
	}
	for name, v := range map[string]int{"--requisitions": *requisitions, "--transactions": *transactions, "--daily-limit": *dailyLimit} {
		if v < 1 {
			return fmt.Errorf("%s must be at least 1, got %d", name, v)
		}
	}
	if *historyAfterFirst < 0 {
		return fmt.Errorf("--history-after-first-call must be 0 (no limit) or more days, got %d", *historyAfterFirst)
	}
	if *accountsPerMinute < 0 {
		return fmt.Errorf("--accounts-per-minute must be 0 (no limit) or more, got %d", *accountsPerMinute)
	}
	perMinute := *accountsPerMinute
	if perMinute == 0 {
		perMinute = -1 // fake.Options: negative lifts it, zero means the default
	}
	if err := fakeserver.CheckLoopback(*addr); err != nil {
		return err
	}

	f := fake.New(fake.Options{
		Seed:                   *seed,
		Requisitions:           *requisitions,
		TransactionsPerAccount: *transactions,
		SecretID:               *secretID,
		SecretKey:              *secretKey,
		DailyLimit:             *dailyLimit,
		AccountsPerMinute:      perMinute,
		HeaderStyle:            style,
		Latency:                *latency,
		QuotaAnswer:            qa,
		UntypedExpiry:          *untypedExpiry,
		SeparateHistoryConsent: *separateHistory,
		BadRequestExpiry:       *badRequestExpiry,
		AllowedIPs:             splitList(*allowedIPs),
		InformationBalance:     *informationBalance,
		Misfits:                *misfits,
		NoInternalIDs:          *noInternalIDs,
		HistoryAfterFirstCall:  *historyAfterFirst,
	})
	mux := http.NewServeMux()
	mux.Handle("/__fake/", f.AdminHandler())
	mux.Handle("/", f.Handler())
	return fakeserver.Run(ctx, *addr, mux, stdout, func(origin string) any {
		return ready{BaseURL: origin + "/api/v2", SecretID: f.SecretID(), SecretKey: f.SecretKey(), RequisitionIDs: f.RequisitionIDs()}
	})
}

func parseHeaderStyle(s string) (fake.HeaderStyle, error) {
	switch s {
	case "http":
		return fake.HeadersHTTPPrefix, nil
	case "x":
		return fake.HeadersXPrefix, nil
	}
	return 0, fmt.Errorf("--header-style must be http or x, got %q", s)
}

func parseQuotaAnswer(s string) (fake.QuotaAnswer, error) {
	switch s {
	case "typed":
		return fake.QuotaTyped, nil
	case "gocardless":
		return fake.QuotaGoCardless, nil
	case "institution":
		return fake.QuotaInstitution, nil
	}
	return 0, fmt.Errorf("--quota-answer must be typed, gocardless or institution, got %q", s)
}

// splitList reads a comma-separated flag: nil when empty, items trimmed.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

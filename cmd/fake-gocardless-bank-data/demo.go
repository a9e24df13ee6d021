package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	sourcegocardless "github.com/source-pluggy/source-pluggy/cmd/source-gocardless-bank-data/app"
	"github.com/source-pluggy/source-pluggy/connector/demo"
	"github.com/source-pluggy/source-pluggy/connector/fakeserver"
	"github.com/source-pluggy/source-pluggy/connector/gocardless"
	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
)

// demoCommand is `fake-gocardless-bank-data demo`: a complete run of
// source-gocardless-bank-data's own runtime (app.Binary, in-process)
// against this fake, with no credentials. It reads every stream,
// books new rows and changes pending ones the way banks do, spends one
// account's daily transactions quota, reads again from the saved state (the
// spent account is skipped with a WARN, the others cost one call each), then
// lets a day pass and reads once more, when the skipped account catches up.
func demoCommand() fakeserver.Command {
	var requisitions, txns *int
	return demo.Command(sourcegocardless.Binary.Runner(), "run a complete demo: source-gocardless-bank-data's own runtime, in-process, reads this fake GoCardless API (no credentials)",
		func(fs *pflag.FlagSet) {
			requisitions = fs.Int("requisitions", 2, "linked requisitions the fake serves, two accounts each")
			txns = fs.Int("transactions", 80, "booked transactions per account")
		},
		func(ctx context.Context, d *demo.Demo) error { return runDemo(ctx, d, *requisitions, *txns) })
}

func runDemo(ctx context.Context, d *demo.Demo, requisitions, txns int) error {
	// fake.Options reads 0 as its default: --requisitions 0 served 2
	// requisitions under a banner saying 0.
	if requisitions < 1 || txns < 1 {
		return demo.UsageErrorf("--requisitions %d, --transactions %d: both must be at least 1", requisitions, txns)
	}
	// The quota answers as GoCardless's own per-account limit does (429
	// without a type), and a late card posting arrives: the real answers.
	f := fake.New(fake.Options{Requisitions: requisitions, TransactionsPerAccount: txns, QuotaAnswer: fake.QuotaGoCardless})
	base, stop, err := d.Serve(f.Handler())
	if err != nil {
		return err
	}
	defer stop()
	err = d.Setup(ctx, map[string]any{
		"secret_id": f.SecretID(), "secret_key": f.SecretKey(),
		"requisition_ids": strings.Join(f.RequisitionIDs(), ","), "base_url": base + "/api/v2",
		"lookback_days": 7,
	})
	if err != nil {
		return err
	}
	var accounts []string
	for _, req := range f.RequisitionIDs() {
		accounts = append(accounts, f.AccountIDs(req)...)
	}
	fmt.Fprintf(d.Stdout, "%s: a fake GoCardless API on %s serves %s, %s, each allowing %d calls a day per endpoint; files in %s\n\n",
		d.Name, base, demo.Count(requisitions, "requisition"), demo.Count(len(accounts), "account"), f.QuotaRemaining(accounts[0], fake.EndpointTransactions), d.Dir)

	return d.RunQuota(ctx, demo.QuotaScript{
		Accounts: accounts,
		Row: func(data json.RawMessage) (string, string, string, bool) {
			var row struct {
				AccountID  string `json:"account_id"`
				InternalID string `json:"internalTransactionId"`
				Amount     struct {
					Amount string `json:"amount"`
				} `json:"transactionAmount"`
			}
			err := json.Unmarshal(data, &row)
			return row.AccountID, row.Amount.Amount, row.InternalID, err == nil
		},
		SumLabel:   "sum of booked amounts read",
		ResetStats: f.ResetStats,
		Calls: func() string {
			st := f.Stats()
			return fmt.Sprintf("calls spent: token/new %d, details %d, balances %d, transactions %d (for %d accounts)",
				st.TokenNew, st.Requests[fake.RouteDetails][200], st.Requests[fake.RouteBalances][200], st.Requests[fake.RouteTransactions][200], len(accounts))
		},
		Change: func(spent string) (map[string][]string, string) {
			added := map[string][]string{}
			for _, a := range accounts {
				added[a] = f.AddBooked(a, 3)
			}
			added[accounts[0]] = append(added[accounts[0]], f.AddLateBooked(accounts[0], 1, 21)...)
			f.ChangePending(accounts[0])
			f.ExhaustQuota(spent, fake.EndpointTransactions)
			return added, fmt.Sprintf("the banks book 3 new rows on every account, %s also a card payment booked 21 days ago with today's value date, a pending row of %s books and another changes, and someone else spends the daily transactions quota of %s.",
				demo.Short(accounts[0]), demo.Short(accounts[0]), demo.Short(spent))
		},
		NextDay: func() { f.AdvanceClock(25 * time.Hour) },
		Limit:   "quota",
		Next: fmt.Sprintf("Next: `go build ./cmd/source-gocardless-bank-data`; serve this fake with `go run ./cmd/fake-gocardless-bank-data` (it prints a config)\n"+
			"and read it by hand, or point a config at %s with your own secret id and key and link your bank in the browser:\n"+
			"`source-gocardless-bank-data connect --config CONFIG --country CC --search BANK --write` (see docs/connect.md).", gocardless.DefaultBaseURL),
	})
}

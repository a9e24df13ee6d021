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
	fmt.Fprintf(d.Stdout, "source-gocardless-bank-data demo: a fake GoCardless API on %s serves %d requisitions, %d accounts, each allowing %d calls a day per endpoint; files in %s\n\n",
		base, requisitions, len(accounts), f.QuotaRemaining(accounts[0], fake.EndpointTransactions), d.Dir)

	got := map[string]bool{}       // internalTransactionIds of the last read
	perAccount := map[string]int{} // booked rows of the last read per account
	read := func(n int) error {
		var sum demo.DecimalSum
		clear(got)
		clear(perAccount)
		f.ResetStats()
		s, err := d.Read(ctx, n, func(stream string, data json.RawMessage) {
			var row struct {
				AccountID  string `json:"account_id"`
				InternalID string `json:"internalTransactionId"`
				Amount     struct {
					Amount string `json:"amount"`
				} `json:"transactionAmount"`
			}
			if stream != "transactions" || json.Unmarshal(data, &row) != nil {
				return
			}
			got[row.InternalID] = true
			perAccount[row.AccountID]++
			sum.Add(row.Amount.Amount)
		})
		if err := d.TolerateSkippedSnapshot(s, err); err != nil {
			return err
		}
		st := f.Stats()
		if s.Records["transactions"] > 0 {
			fmt.Fprintf(d.Stdout, "   sum of booked amounts read: %s (exact decimal, mixed currencies)\n", sum.String())
		}
		fmt.Fprintf(d.Stdout, "   calls spent: token/new %d, details %d, balances %d, transactions %d (for %d accounts)\n",
			st.TokenNew, st.Requests[fake.RouteDetails][200], st.Requests[fake.RouteBalances][200], st.Requests[fake.RouteTransactions][200], len(accounts))
		return nil
	}

	fmt.Fprintf(d.Stdout, "1. First sync (incremental, 90 days back):\n   %s\n", d.ReadCommand(1))
	if err := read(1); err != nil {
		return err
	}
	added := map[string][]string{}
	for _, a := range accounts {
		added[a] = f.AddBooked(a, 3)
	}
	added[accounts[0]] = append(added[accounts[0]], f.AddLateBooked(accounts[0], 1, 21)...)
	f.ChangePending(accounts[0])
	spent := accounts[len(accounts)-1]
	f.ExhaustQuota(spent, fake.EndpointTransactions)
	fmt.Fprintf(d.Stdout, "\n   Meanwhile the banks book 3 new rows on every account, %s also a card payment booked 21 days ago with today's value date, a pending row of %s books and another changes, and someone else spends the daily transactions quota of %s.\n\n", short(accounts[0]), short(accounts[0]), short(spent))

	fmt.Fprintf(d.Stdout, "2. Next sync from the saved state (details are reused for a day; %s is skipped):\n   %s\n", short(spent), d.ReadCommand(2))
	if err := read(2); err != nil {
		return err
	}
	fmt.Fprintln(d.Stdout, "\n   What the second sync caught:")
	var others []string
	for _, a := range accounts[:len(accounts)-1] {
		others = append(others, added[a]...)
	}
	d.Expect("new rows of the accounts with quota", others, got)
	fmt.Fprintf(d.Stdout, "   %-40s %d (its call was skipped until the reset)\n", "rows read of "+short(spent), perAccount[spent])

	f.AdvanceClock(25 * time.Hour)
	fmt.Fprintf(d.Stdout, "\n3. A day later, from the saved state:\n   %s\n", d.ReadCommand(3))
	if err := read(3); err != nil {
		return err
	}
	fmt.Fprintln(d.Stdout, "\n   What the third sync caught:")
	d.Expect("new rows of "+short(spent)+" after the reset", added[spent], got)
	fmt.Fprintf(d.Stdout, "\nNext: `go build ./cmd/source-gocardless-bank-data`; serve this fake with `go run ./cmd/fake-gocardless-bank-data` (it prints a config)\n"+
		"and read it by hand, or point a config at %s with your own secret id and key and link your bank in the browser:\n"+
		"`source-gocardless-bank-data connect --config CONFIG --country CC --search BANK --write` (see docs/connect.md).\n", gocardless.DefaultBaseURL)
	return nil
}

func short(id string) string { return id[:min(8, len(id))] + "…" }

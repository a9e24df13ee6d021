package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	sourceenablebanking "github.com/source-pluggy/source-pluggy/cmd/source-enablebanking/app"
	"github.com/source-pluggy/source-pluggy/connector/demo"
	"github.com/source-pluggy/source-pluggy/connector/enablebanking"
	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/fakeserver"
)

// demoCommand is `fake-enablebanking demo`: a complete run of
// source-enablebanking's own runtime (app.Binary, in-process) against this
// fake, with no credentials. It lives with the fake, so no connector binary
// links the fake. It reads every stream,
// then the banks book new rows, book a pending row under a new reference,
// change the references of recent rows, and someone spends one account's
// daily transactions limit; a second read from the saved state loses
// nothing and skips the spent account with a WARN; a day later a third
// read catches it up.
func demoCommand() fakeserver.Command {
	var sessions, txns *int
	return demo.Command(sourceenablebanking.Binary.Runner(), "run a complete demo: source-enablebanking's own runtime, in-process, reads this fake Enable Banking API (no credentials)",
		func(fs *pflag.FlagSet) {
			sessions = fs.Int("sessions", 2, "authorised sessions the fake serves, two accounts each")
			txns = fs.Int("transactions", 60, "booked transactions per account")
		},
		func(ctx context.Context, d *demo.Demo) error { return runDemo(ctx, d, *sessions, *txns) })
}

func runDemo(ctx context.Context, d *demo.Demo, sessions, txns int) error {
	if sessions < 1 || txns < 1 {
		return demo.UsageErrorf("--sessions %d, --transactions %d: both must be at least 1", sessions, txns)
	}
	f := fake.New(fake.Options{Sessions: sessions, TransactionsPerAccount: txns})
	base, stop, err := d.Serve(f.Handler())
	if err != nil {
		return err
	}
	defer stop()
	keyPath := d.Path("private_key.pem")
	if err := os.WriteFile(keyPath, []byte(f.PrivateKeyPEM()), 0o600); err != nil {
		return err
	}
	err = d.Setup(ctx, map[string]any{
		"application_id": f.ApplicationID(), "private_key_path": keyPath,
		"session_ids": strings.Join(f.SessionIDs(), ","), "base_url": base,
		"include_pending": true, "lookback_days": 7,
	})
	if err != nil {
		return err
	}
	var accounts []string
	for _, id := range f.SessionIDs() {
		accounts = append(accounts, f.AccountUIDs(id)...)
	}
	fmt.Fprintf(d.Stdout, "%s: a fake Enable Banking API on %s serves %s, %s, each allowing %d unattended calls a day per endpoint; files in %s\n\n",
		d.Name, base, demo.Count(sessions, "session"), demo.Count(len(accounts), "account"), f.QuotaRemaining(accounts[0], fake.EndpointTransactions), d.Dir)

	// Enable Banking's rows carry no stable id: a row is known by its
	// bank fields, without the ones the connector adds.
	canonical := func(raw []byte, drop ...string) string {
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		for _, k := range drop {
			delete(m, k)
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	return d.RunQuota(ctx, demo.QuotaScript{
		Accounts: accounts,
		Row: func(data json.RawMessage) (string, string, string, bool) {
			var row struct {
				UID    string `json:"account_uid"`
				Signed string `json:"signed_amount"`
			}
			if json.Unmarshal(data, &row) != nil {
				return "", "", "", false
			}
			return row.UID, row.Signed, canonical(data, "account_key", "account_uid", "session_id", "transaction_key", "signed_amount"), true
		},
		SumLabel:   "sum of signed booked amounts read",
		ResetStats: f.ResetStats,
		Calls: func() string {
			st := f.Stats()
			return fmt.Sprintf("bank calls spent: details %d, balances %d, transactions %d (for %d accounts)",
				st.Requests[fake.RouteDetails][200], st.Requests[fake.RouteBalances][200], st.Chains, len(accounts))
		},
		Change: func(spent string) (map[string][]string, string) {
			f.BookPending(accounts[0])
			f.ChangeReferences(accounts[0], 3)
			added := map[string][]string{}
			for _, a := range accounts {
				for _, raw := range f.AddBooked(a, 3) {
					added[a] = append(added[a], canonical([]byte(raw)))
				}
			}
			f.ExhaustQuota(spent, fake.EndpointTransactions)
			return added, fmt.Sprintf("the banks book 3 new rows on every account, book a pending row of %s under a new reference and change the references of its last 3 days, and someone else spends the daily transactions limit of %s.",
				demo.Short(accounts[0]), demo.Short(spent))
		},
		NextDay: func() { f.AdvanceClock(25 * time.Hour) },
		Limit:   "calls left",
		Next: fmt.Sprintf("Next: `go build ./cmd/source-enablebanking`; serve this fake with `go run ./cmd/fake-enablebanking` (it prints a config)\n"+
			"and read it by hand, or point a config at %s with your own application id and key and authorise your bank in the browser:\n"+
			"`source-enablebanking connect --config CONFIG --country CC --search BANK --write` (see docs/connect.md).", enablebanking.DefaultBaseURL),
	})
}

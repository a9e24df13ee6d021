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
		return fmt.Errorf("--sessions and --transactions must be at least 1")
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
	fmt.Fprintf(d.Stdout, "source-enablebanking demo: a fake Enable Banking API on %s serves %d sessions, %d accounts, each allowing %d unattended calls a day per endpoint; files in %s\n\n",
		base, sessions, len(accounts), f.QuotaRemaining(accounts[0], fake.EndpointTransactions), d.Dir)

	got := map[string]bool{}       // canonical booked rows of the last read, without the connector's fields
	perAccount := map[string]int{} // booked rows of the last read per account uid
	read := func(n int) error {
		var sum demo.DecimalSum
		clear(got)
		clear(perAccount)
		f.ResetStats()
		s, err := d.Read(ctx, n, func(stream string, data json.RawMessage) {
			if stream != "transactions" {
				return
			}
			var row map[string]any
			if json.Unmarshal(data, &row) != nil {
				return
			}
			uid, _ := row["account_uid"].(string)
			signed, _ := row["signed_amount"].(string)
			perAccount[uid]++
			sum.Add(signed)
			for _, k := range []string{"account_key", "account_uid", "session_id", "transaction_key", "signed_amount"} {
				delete(row, k)
			}
			b, _ := json.Marshal(row)
			got[string(b)] = true
		})
		if err := d.TolerateSkippedSnapshot(s, err); err != nil {
			return err
		}
		st := f.Stats()
		if s.Records["transactions"] > 0 {
			fmt.Fprintf(d.Stdout, "   sum of signed booked amounts read: %s (exact decimal, mixed currencies)\n", sum.String())
		}
		fmt.Fprintf(d.Stdout, "   bank calls spent: details %d, balances %d, transactions %d (for %d accounts)\n",
			st.Requests[fake.RouteDetails][200], st.Requests[fake.RouteBalances][200], st.Chains, len(accounts))
		return nil
	}
	canonical := func(raws []string) []string {
		out := make([]string, len(raws))
		for i, raw := range raws {
			var m map[string]any
			_ = json.Unmarshal([]byte(raw), &m)
			b, _ := json.Marshal(m)
			out[i] = string(b)
		}
		return out
	}

	fmt.Fprintf(d.Stdout, "1. First sync (incremental, 90 days back):\n   %s\n", d.ReadCommand(1))
	if err := read(1); err != nil {
		return err
	}
	f.BookPending(accounts[0])
	f.ChangeReferences(accounts[0], 3)
	added := map[string][]string{}
	for _, a := range accounts {
		added[a] = canonical(f.AddBooked(a, 3))
	}
	spent := accounts[len(accounts)-1]
	f.ExhaustQuota(spent, fake.EndpointTransactions)
	fmt.Fprintf(d.Stdout, "\n   Meanwhile the banks book 3 new rows on every account, book a pending row of %s under a new reference and change the references of its last 3 days, and someone else spends the daily transactions limit of %s.\n\n", short(accounts[0]), short(spent))

	fmt.Fprintf(d.Stdout, "2. Next sync from the saved state (details are reused for a day; %s is skipped):\n   %s\n", short(spent), d.ReadCommand(2))
	if err := read(2); err != nil {
		return err
	}
	fmt.Fprintln(d.Stdout, "\n   What the second sync caught:")
	var others []string
	for _, a := range accounts[:len(accounts)-1] {
		others = append(others, added[a]...)
	}
	d.Expect("new rows of the accounts with calls left", others, got)
	fmt.Fprintf(d.Stdout, "   %-40s %d (its call was skipped until the reset)\n", "rows read of "+short(spent), perAccount[spent])

	f.AdvanceClock(25 * time.Hour)
	fmt.Fprintf(d.Stdout, "\n3. A day later, from the saved state:\n   %s\n", d.ReadCommand(3))
	if err := read(3); err != nil {
		return err
	}
	fmt.Fprintln(d.Stdout, "\n   What the third sync caught:")
	d.Expect("new rows of "+short(spent)+" after the reset", added[spent], got)
	fmt.Fprintf(d.Stdout, "\nNext: `go build ./cmd/source-enablebanking`; serve this fake with `go run ./cmd/fake-enablebanking` (it prints a config)\n"+
		"and read it by hand, or point a config at %s with your own application id, key and sessions.\n", enablebanking.DefaultBaseURL)
	return nil
}

func short(id string) string { return id[:min(8, len(id))] + "…" }

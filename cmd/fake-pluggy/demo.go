package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	sourcepluggy "github.com/source-pluggy/source-pluggy/cmd/source-pluggy/app"
	"github.com/source-pluggy/source-pluggy/connector/demo"
	"github.com/source-pluggy/source-pluggy/connector/fakeserver"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
)

// demoCommand is `fake-pluggy demo`: a complete run of source-pluggy's own
// runtime (app.Binary, in-process) against this fake, with no credentials. It does a first incremental read of
// every stream, makes the fake change the way Pluggy does (new rows,
// back-dated rows, pending rows re-posted under new ids, in-place updates),
// reads again from the saved state, and prints what each read found. The
// files it writes are the ones a user would pass by hand.
func demoCommand() fakeserver.Command {
	var items, txns *int
	return demo.Command(sourcepluggy.Binary.Runner(), "run a complete demo: source-pluggy's own runtime, in-process, reads this fake Pluggy API (no credentials)",
		func(fs *pflag.FlagSet) {
			items = fs.Int("items", 2, "items the fake serves")
			txns = fs.Int("transactions", 120, "transactions per account")
		},
		func(ctx context.Context, d *demo.Demo) error { return runDemo(ctx, d, *items, *txns) })
}

func runDemo(ctx context.Context, d *demo.Demo, items, txns int) error {
	// fake.Options reads 0 as its default: --items 0 served 2 items under
	// a banner saying 0.
	if items < 1 || txns < 1 {
		return demo.UsageErrorf("--items %d, --transactions %d: both must be at least 1", items, txns)
	}
	f := fake.New(fake.Options{Items: items, TransactionsPerAccount: txns, ItemStatuses: []string{"UPDATED", "OUTDATED"}})
	base, stop, err := d.Serve(f.Handler())
	if err != nil {
		return err
	}
	defer stop()
	err = d.Setup(ctx, map[string]any{
		"client_id": f.ClientID(), "client_secret": f.ClientSecret(),
		"item_ids": strings.Join(f.ItemIDs(), ","), "base_url": base,
		"lookback_days": 7, "requests_per_minute": 0,
	})
	if err != nil {
		return err
	}
	outdated := " (one OUTDATED)" // ItemStatuses: the second item's
	if items < 2 {
		outdated = ""
	}
	fmt.Fprintf(d.Stdout, "%s: a fake Pluggy API on %s serves %s%s; files in %s\n\n", d.Name, base, demo.Count(items, "item"), outdated, d.Dir)

	got := map[string]bool{}  // transaction ids of the last read
	dead := map[string]bool{} // tombstoned ids of the last read
	read := func(n int) error {
		var sum demo.DecimalSum
		clear(got)
		clear(dead)
		s, err := d.Read(ctx, n, func(stream string, data json.RawMessage) {
			var row struct {
				ID        string      `json:"id"`
				Amount    json.Number `json:"amount"`
				DeletedAt *string     `json:"_ab_cdc_deleted_at"`
			}
			if stream != "transactions" || json.Unmarshal(data, &row) != nil {
				return
			}
			if row.DeletedAt != nil {
				dead[row.ID] = true
				return
			}
			got[row.ID] = true
			if row.Amount != "" {
				sum.Add(string(row.Amount))
			}
		})
		if err == nil && s.Records["transactions"] > 0 {
			fmt.Fprintf(d.Stdout, "   sum of transaction amounts: %s (exact decimal)\n", sum.String())
		}
		return err
	}

	fmt.Fprintf(d.Stdout, "1. First sync (incremental, from start_date):\n   %s\n", d.ReadCommand(1))
	if err := read(1); err != nil {
		return err
	}
	// A card bill closes first: Pluggy re-creates its rows of the last 30
	// days under new ids (the real-world variant the card window is for).
	billOld, billNew := f.CloseBill()
	added := f.AddNew(3)
	backdated := f.AddBackdated(2, 40*24*time.Hour)
	oldIDs, newIDs := f.PostPending(2)
	updated := f.UpdateInPlace(2)
	fmt.Fprintf(d.Stdout, "\n   Meanwhile Pluggy changes: a card bill closes (%d card rows re-created under new ids), %d new rows, %d rows back-dated 40 days, %d pending rows re-posted under new ids (old: %s), %d rows updated in place.\n\n",
		len(billNew), len(added), len(backdated), len(newIDs), strings.Join(short(oldIDs), ", "), len(updated))

	fmt.Fprintf(d.Stdout, "2. Next sync from the saved state:\n   %s\n", d.ReadCommand(2))
	if err := read(2); err != nil {
		return err
	}
	fmt.Fprintln(d.Stdout, "\n   What the second sync caught:")
	d.Expect("new rows", added, got)
	d.Expect("back-dated rows", backdated, got)
	d.Expect("re-posted pending rows (new ids)", newIDs, got)
	d.Expect("rows updated in place", updated, got)
	d.Expect("card rows of the closed bill (new ids)", billNew, got)
	d.Expect("tombstones of their old ids", billOld, dead)
	d.Expect("tombstones of re-posted pending", oldIDs, dead)
	fmt.Fprint(d.Stdout, "\nNext: `go build ./cmd/source-pluggy`; serve this fake with `go run ./cmd/fake-pluggy` (it prints a config) and read it by hand,\n"+
		"or point a config at https://api.pluggy.ai with your own keys and connect your bank in the browser:\n"+
		"`source-pluggy connect --config CONFIG --write` (see docs/connect.md).\n")
	return nil
}

func short(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id[:min(8, len(id))] + "…"
	}
	return out
}

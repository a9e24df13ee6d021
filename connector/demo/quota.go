package demo

import (
	"context"
	"encoding/json"
	"fmt"
)

// QuotaScript is the demo the providers with a bank's daily limit share
// (GoCardless bank data, Enable Banking): a first sync; then the banks book
// rows and someone spends one account's daily transactions limit; a second
// sync from the saved state catches the other accounts' new rows and skips
// the spent one with a WARN; a day later a third sync catches it up. The
// provider's demo supplies the fake's moves and how to read its rows.
type QuotaScript struct {
	// Accounts are the accounts the fake serves, as records name them; the
	// last is the one whose limit is spent.
	Accounts []string
	// Row reads one transactions record: its account, its amount (an exact
	// decimal string) and the key the fake's added rows are listed by.
	Row func(data json.RawMessage) (account, amount, key string, ok bool)
	// SumLabel names the sum of amounts printed after each read.
	SumLabel string
	// Calls describes the calls the last read spent, after it.
	Calls func() string
	// ResetStats clears the fake's counts before a read.
	ResetStats func()
	// Change makes the banks' moves after the first sync and spends spent's
	// limit: it returns the keys of the rows it booked per account (as Row
	// keys them) and what happened, to print.
	Change func(spent string) (added map[string][]string, said string)
	// NextDay moves the fake's clock past the limit's reset.
	NextDay func()
	// Limit names the limit in the texts ("quota", "calls left").
	Limit string
	// Next is printed last: how to go on from the demo.
	Next string
}

// RunQuota runs q.
func (d *Demo) RunQuota(ctx context.Context, q QuotaScript) error {
	got := map[string]bool{}       // keys of the last read's rows
	perAccount := map[string]int{} // rows of the last read per account
	read := func(n int) error {
		var sum DecimalSum
		clear(got)
		clear(perAccount)
		q.ResetStats()
		s, err := d.Read(ctx, n, func(stream string, data json.RawMessage) {
			if stream != "transactions" {
				return
			}
			account, amount, key, ok := q.Row(data)
			if !ok {
				return
			}
			got[key] = true
			perAccount[account]++
			sum.Add(amount)
		})
		if err := d.TolerateSkippedSnapshot(s, err); err != nil {
			return err
		}
		if s.Records["transactions"] > 0 {
			fmt.Fprintf(d.Stdout, "   %s: %s (exact decimal, mixed currencies)\n", q.SumLabel, sum.String())
		}
		fmt.Fprintf(d.Stdout, "   %s\n", q.Calls())
		return nil
	}

	fmt.Fprintf(d.Stdout, "1. First sync (incremental, 90 days back):\n   %s\n", d.ReadCommand(1))
	if err := read(1); err != nil {
		return err
	}
	spent := q.Accounts[len(q.Accounts)-1]
	added, said := q.Change(spent)
	fmt.Fprintf(d.Stdout, "\n   Meanwhile %s\n\n", said)

	fmt.Fprintf(d.Stdout, "2. Next sync from the saved state (details are reused for a day; %s is skipped):\n   %s\n", Short(spent), d.ReadCommand(2))
	if err := read(2); err != nil {
		return err
	}
	fmt.Fprintln(d.Stdout, "\n   What the second sync caught:")
	var others []string
	for _, a := range q.Accounts[:len(q.Accounts)-1] {
		others = append(others, added[a]...)
	}
	d.Expect("new rows of the accounts with "+q.Limit, others, got)
	fmt.Fprintf(d.Stdout, "   %-40s %d (its call was skipped until the reset)\n", "rows read of "+Short(spent), perAccount[spent])

	q.NextDay()
	fmt.Fprintf(d.Stdout, "\n3. A day later, from the saved state:\n   %s\n", d.ReadCommand(3))
	if err := read(3); err != nil {
		return err
	}
	fmt.Fprintln(d.Stdout, "\n   What the third sync caught:")
	d.Expect("new rows of "+Short(spent)+" after the reset", added[spent], got)
	fmt.Fprintf(d.Stdout, "\n%s\n", q.Next)
	return nil
}

// Short is an id cut to its first 8 characters, for the demo's texts.
func Short(id string) string { return id[:min(8, len(id))] + "…" }

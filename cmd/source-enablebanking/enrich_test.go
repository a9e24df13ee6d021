package main

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestEnrichedTextAndDottedPositionsKeepTheirKeys: DNB enriches a row's
// remittance_information after booking (the reference, §4.2), and some
// banks number entry_reference by place within the booking day as
// YYYY-MM-DD.N (§4.4.3), renumbered when another row books that day. A
// second, incremental read after both gives every row read again the key
// it had (matched by what the bank did not change), and merged by
// primary key, the destination holds the bank's rows, enriched, with none
// lost and none twice.
func TestEnrichedTextAndDottedPositionsKeepTheirKeys(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 2, TransactionsPerAccount: 50})
	accounts := e.accounts()
	dotted := accounts[3]
	e.fake.PositionalDots(dotted)
	cat := e.catalog(true, "transactions")
	r1 := e.read(cat)
	dots := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}\.\d+$`)
	served := 0
	for _, raw := range byUID(t, r1.Records()["transactions"])[dotted] {
		var row struct {
			Ref any `json:"entry_reference"`
		}
		_ = json.Unmarshal(raw, &row)
		if s, ok := row.Ref.(string); ok && dots.MatchString(s) {
			served++
		}
	}
	if served == 0 {
		t.Fatal("the bank served no YYYY-MM-DD.N reference; the test proves nothing")
	}
	for _, a := range accounts {
		e.fake.EnrichRemittance(a, 5)
	}
	e.fake.AddBooked(dotted, 2) // ahead of today's others: the day renumbers
	r2 := e.read(cat, "--state", r1.StateFile(t))
	if !strings.Contains(string(r2.Stdout), "Merchant: Example Store") {
		t.Fatal("no enriched text was read; the test proves nothing")
	}

	// Every row read twice keeps its key: rows are matched by what the
	// bank did not change (ids, positions and text aside), look-alikes
	// as a multiset.
	keysOf := func(recs []json.RawMessage) map[string][]string {
		out := map[string][]string{}
		for _, raw := range recs {
			c := without(t, raw, append([]string{"entry_reference", "transaction_id", "remittance_information"}, txAdded...)...)
			out[c] = append(out[c], decodeTx(t, raw).Key)
		}
		for _, ks := range out {
			slices.Sort(ks)
		}
		return out
	}
	first, second := keysOf(r1.Records()["transactions"]), keysOf(r2.Records()["transactions"])
	again := 0
	for c, ks := range second {
		if before, ok := first[c]; ok {
			again += len(ks)
			if !slices.Equal(before, ks) {
				t.Errorf("a row read again changed its key from %v to %v:\n%s", before, ks, c)
			}
		}
	}
	if again == 0 {
		t.Fatal("no row was read twice; the test proves nothing")
	}

	checkMergedEqualsBank(t, e, []*st.Result{r1, r2})
}

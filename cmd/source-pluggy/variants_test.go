package main

// Real-world variants of Pluggy's answers (pluggy-api.md), served by the
// fake and read through the binary: PARTIAL_SUCCESS items in both
// spellings of statusDetail, investment money with more decimals than
// money has, PATCH refusals only the user can lift, error bodies whose
// cause is not in "message", `next` links without the filters, and the
// item/error and v2-link webhooks.

import (
	"context"
	"encoding/json"
	"math/big"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/source-pluggy/source-pluggy/connector/eventlog"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestPartialSuccessItemWarnsAndKeepsStatusDetail: an item whose last sync
// ended PARTIAL_SUCCESS (pluggy-api.md, item fields) is read, its record
// keeps statusDetail as served, and a WARN names the products Pluggy did
// not update (ACCOUNTS, INVESTMENTS_TRANSACTIONS with its warning) and
// none it did, whichever spelling the investment transactions member has:
// investmentsTransactions (OAS, live payloads) or investmentTransactions
// (the SDK's type).
func TestPartialSuccessItemWarnsAndKeepsStatusDetail(t *testing.T) {
	for _, c := range []struct {
		name        string
		sdk         bool
		key, absent string
	}{
		{"OAS spelling", false, "investmentsTransactions", "investmentTransactions"},
		{"SDK spelling", true, "investmentTransactions", "investmentsTransactions"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 5, ItemStatuses: []string{"UPDATED:PARTIAL_SUCCESS"}, StatusDetailSDKSpelling: c.sdk})
			partial, whole := e.fake.ItemIDs()[0], e.fake.ItemIDs()[1]
			var served struct{ StatusDetail map[string]json.RawMessage }
			e.apiGet("/items/"+partial, &served)
			r := e.read(e.catalog(false, "items", "accounts", "investment_transactions"))
			var got map[string]json.RawMessage
			for _, raw := range r.Records()["items"] {
				var x struct {
					ID           string
					StatusDetail map[string]json.RawMessage
				}
				st.Must(t, json.Unmarshal(raw, &x), "item")
				if x.ID == partial {
					got = x.StatusDetail
				}
			}
			if got[c.key] == nil || got[c.absent] != nil || compact(t, got[c.key]) != compact(t, served.StatusDetail[c.key]) {
				t.Fatalf("statusDetail %s read as %s, served %s", c.key, got[c.key], served.StatusDetail[c.key])
			}
			warns := logs(r, protocol.LevelWarn, partial, "partly succeeded")
			if len(warns) != 1 {
				t.Fatalf("%d WARNs about the partial sync of %s, want 1: %v", len(warns), partial, logs(r, protocol.LevelWarn))
			}
			// The products named: exactly those with isUpdated false.
			_, list, _ := strings.Cut(warns[0], `not_updated="`)
			list, _, _ = strings.Cut(list, `"`)
			var named []string
			for _, p := range strings.Split(list, "; ") {
				name, _, _ := strings.Cut(p, " (")
				named = append(named, name)
			}
			if strings.Join(named, ",") != "ACCOUNTS,INVESTMENTS_TRANSACTIONS" || !strings.Contains(list, "UNEXPECTED_ERROR") {
				t.Errorf("the WARN %q names %v, want ACCOUNTS and INVESTMENTS_TRANSACTIONS (with its warning UNEXPECTED_ERROR)", warns[0], named)
			}
			if w := logs(r, protocol.LevelWarn, whole, "partly"); len(w) != 0 {
				t.Errorf("WARN about item %s, whose sync succeeded: %v", whole, w)
			}
			if len(r.Records()["investment_transactions"]) == 0 || len(r.Records()["accounts"]) == 0 {
				t.Error("the partly synced item's data was not read")
			}
		})
	}
}

// TestPreciseInvestmentMoneyIsKept: investment movements whose amount and
// netAmount carry 6, 8 and 13 decimal places (computed doubles, which
// Pluggy's OpenAPI allows: pluggy-api.md §12) reach the JSON records with
// their exact text, and with --parquet-dir the DECIMAL(38,12) columns hold
// those that fit exactly while a value with a thirteenth place is null in
// its column and kept verbatim in _leftovers (docs/parquet.md, Types):
// never rounded.
func TestPreciseInvestmentMoneyIsKept(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5, PreciseInvestmentMoney: true})
	type money struct{ Amount, NetAmount json.RawMessage }
	served := map[string]money{}
	var invs struct{ Results []struct{ ID string } }
	e.apiGet("/investments?itemId="+e.fake.ItemIDs()[0], &invs)
	for _, in := range invs.Results {
		var page struct {
			Results []struct {
				ID string
				money
			}
		}
		e.apiGet("/investments/"+in.ID+"/transactions?pageSize=500", &page)
		for _, m := range page.Results {
			served[m.ID] = m.money
		}
	}
	scales := map[int]int{}
	for _, m := range served {
		scales[scaleOf(string(m.Amount))]++
	}
	if scales[6] == 0 || scales[8] == 0 || scales[13] == 0 {
		t.Fatalf("the fake served amounts with these decimal places: %v", scales)
	}

	dir := t.TempDir()
	r := e.read(e.catalog(false, "investment_transactions"), "--parquet-dir", dir)
	recs := r.Records()["investment_transactions"]
	if len(recs) != len(served) {
		t.Fatalf("%d movements emitted, %d served", len(recs), len(served))
	}
	for _, raw := range recs {
		var x struct {
			ID string
			money
		}
		st.Must(t, json.Unmarshal(raw, &x), "movement")
		want := served[x.ID]
		if string(x.Amount) != string(want.Amount) || string(x.NetAmount) != string(want.NetAmount) {
			t.Errorf("movement %s: amount %s netAmount %s emitted, %s and %s served", x.ID, x.Amount, x.NetAmount, want.Amount, want.NetAmount)
		}
	}

	files, err := filepath.Glob(filepath.Join(dir, "investment_transactions", "*.parquet"))
	st.Must(t, err, "glob")
	rowsRead := 0
	for _, f := range files {
		for _, row := range parquetRows(t, f) {
			rowsRead++
			id, _ := row["id"].(string)
			var left map[string]json.RawMessage
			text, _ := row["_leftovers"].(string)
			if text != "" {
				st.Must(t, json.Unmarshal([]byte(text), &left), "_leftovers")
			}
			for col, want := range map[string]json.RawMessage{"amount": served[id].Amount, "netAmount": served[id].NetAmount} {
				exact, _ := new(big.Rat).SetString(string(want))
				typed, _ := row[col].(*big.Rat)
				switch {
				case scaleOf(string(want)) <= 12:
					if typed == nil || typed.Cmp(exact) != 0 || left[col] != nil {
						t.Errorf("movement %s %s: column %v, leftover %s; served %s, which fits DECIMAL(38,12)", id, col, typed, left[col], want)
					}
				case typed != nil || string(left[col]) != string(want):
					t.Errorf("movement %s %s: column %v, leftover %s; served %s, which must be kept verbatim in _leftovers", id, col, typed, left[col], want)
				}
			}
		}
	}
	if rowsRead != len(served) {
		t.Fatalf("%d Parquet rows, %d movements served", rowsRead, len(served))
	}
}

// scaleOf is the number of decimal places of a JSON number's text.
func scaleOf(num string) int {
	_, frac, ok := strings.Cut(num, ".")
	if !ok {
		return 0
	}
	return len(frac)
}

// parquetRows reads a Parquet file's top-level columns: strings as
// strings, decimals as exact rationals, anything else as nil.
func parquetRows(t *testing.T, path string) []map[string]any {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	st.Must(t, err, path)
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	st.Must(t, err, path)
	tbl, err := fr.ReadTable(context.Background())
	st.Must(t, err, path)
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 1<<16)
	defer tr.Release()
	var out []map[string]any
	for tr.Next() {
		rec := tr.RecordBatch()
		for i := range int(rec.NumRows()) {
			row := map[string]any{}
			for j, f := range rec.Schema().Fields() {
				col := rec.Column(j)
				if col.IsNull(i) {
					continue
				}
				switch a := col.(type) {
				case *array.String:
					row[f.Name] = a.Value(i)
				case *array.Decimal128:
					scale := a.DataType().(*arrow.Decimal128Type).Scale
					den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
					row[f.Name] = new(big.Rat).SetFrac(a.Value(i).BigInt(), den)
				}
			}
			out = append(out, row)
		}
	}
	return out
}

// TestItemUpdateRefusedUntilTheUserActs: with trigger_item_update, PATCH
// /items/{id} answering 400 TOO_MANY_CONSECUTIVE_ERRORS (more than 5 failed
// syncs) or TOO_MANY_CONSECUTIVE_LOGIN_FAILURES (with a back-off) is sent
// once, and the item is read as it is, with a WARN naming the code and what
// its user must do (log in again: connect --update), and the back-off when
// Pluggy gives one. The other item is updated as usual.
func TestItemUpdateRefusedUntilTheUserActs(t *testing.T) {
	for _, c := range []struct {
		code    string
		mention []string
	}{
		{fake.TooManyConsecutiveErrors, []string{"more than 5 times"}},
		{fake.TooManyConsecutiveLoginFailures, []string{"check their bank credentials", "retry after", "in 1 hour"}},
	} {
		t.Run(c.code, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 5})
			refused, fine := e.fake.ItemIDs()[0], e.fake.ItemIDs()[1]
			e.fake.SetPatchRefusal(refused, c.code)
			e.fake.ResetStats()
			r := e.readOver(map[string]any{"trigger_item_update": true, "item_update_poll_seconds": 0.05}, e.catalog(false, "items", "accounts"))
			if n := e.fake.Stats().ByRoute["PATCH /items/{id}"]; n != 2 {
				t.Errorf("%d PATCH calls for 2 items: the refusal was retried", n)
			}
			warns := logs(r, protocol.LevelWarn, refused, c.code, "connect --config ", " --update "+refused)
			if len(warns) != 1 {
				t.Fatalf("want one WARN naming %s, %s and the command to run; WARNs: %v", refused, c.code, logs(r, protocol.LevelWarn))
			}
			for _, m := range c.mention {
				if !strings.Contains(warns[0], m) {
					t.Errorf("the WARN %q does not say %q", warns[0], m)
				}
			}
			items := itemRows(t, r.Records()["items"])
			if it := items[refused]; it.Status != "UPDATED" || it.ExecutionStatus != "SUCCESS" {
				t.Errorf("refused item read as %+v, want its last sync (UPDATED/SUCCESS)", it)
			}
			if it := items[fine]; it.Status != "UPDATED" || len(logs(r, protocol.LevelInfo, fine, "updated")) == 0 {
				t.Errorf("the other item was not updated: %+v", it)
			}
			perItem := map[string]int{}
			for _, raw := range r.Records()["accounts"] {
				var a struct{ ItemID string }
				st.Must(t, json.Unmarshal(raw, &a), "account")
				perItem[a.ItemID]++
			}
			if perItem[refused] != len(e.fake.AccountIDs(refused)) || perItem[fine] != len(e.fake.AccountIDs(fine)) {
				t.Errorf("accounts read per item %v", perItem)
			}
		})
	}
}

// TestErrorBodiesNameTheCause: error bodies without "code", or whose cause
// is only in a "details" or "errors" array of {code, parameter, message}
// (pluggy-api.md, error body shape), still give a stream error that names
// the cause, not only a generic "Validation failed".
func TestErrorBodiesNameTheCause(t *testing.T) {
	for _, c := range []struct {
		shape   fake.ErrorShape
		status  int
		ft      protocol.FailureType
		mention []string
	}{
		{fake.ErrorShapeNoCode, http.StatusServiceUnavailable, protocol.TransientError, []string{"HTTP 503 SERVICE_UNAVAILABLE: Service temporarily unavailable"}},
		{fake.ErrorShapeDetails, http.StatusBadRequest, protocol.SystemError, []string{"HTTP 400", "accountId must be a UUID"}},
		{fake.ErrorShapeErrors, http.StatusBadRequest, protocol.SystemError, []string{"HTTP 400: accountId must be a UUID"}},
		{fake.ErrorShapeDetails, http.StatusServiceUnavailable, protocol.TransientError, []string{"HTTP 503", "Service temporarily unavailable"}},
	} {
		t.Run(string(c.shape)+" "+http.StatusText(c.status), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
			e.fake.SetFaults(fake.Faults{Status: map[string]int{"GET /v2/transactions": c.status}, ErrorShape: c.shape})
			r := e.readWith(fastRetries, e.catalog(false, core...))
			expectFailure(t, r, map[string]failure{"transactions": {c.ft, append([]string{"GET /v2/transactions"}, c.mention...)}}, "items", "accounts", "categories")
		})
	}
}

// TestNextWithoutFiltersLosesNoRow: v2 `next` links that carry accountId
// and after only, as the spec's example does (whether the live API copies
// the other filters is open: pluggy-api.md §11.2), lose no row and add
// none: every page after the first is asked with the walk's own filters
// (dateFrom, createdAtFrom or ids) and the new after, and the first read
// and an incremental read after changes leave the destination equal to
// the fake.
func TestNextWithoutFiltersLosesNoRow(t *testing.T) {
	var (
		mu       sync.Mutex
		unfilter []string // page requests without the walk's filters
		paged    int      // page requests with an after
	)
	record := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if q := r.URL.Query(); r.URL.Path == "/v2/transactions" && q.Has("after") {
				mu.Lock()
				paged++
				if !q.Has("dateFrom") && !q.Has("createdAtFrom") && !q.Has("ids") {
					unfilter = append(unfilter, r.URL.RawQuery)
				}
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	}
	e := newWrappedEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 80, PageSize: 10, NextDropsFilters: true}, record)
	var page struct{ Next *string }
	e.apiGet("/v2/transactions?accountId="+e.fake.AccountIDs(e.fake.ItemIDs()[0])[0]+"&dateFrom=2000-01-01", &page)
	if page.Next == nil || strings.Contains(*page.Next, "dateFrom") || !strings.Contains(*page.Next, "after=") {
		t.Fatalf("the fake's next %v still carries the filters", page.Next)
	}
	cat := e.catalog(true, "transactions")
	dest := destination{}
	r1 := e.read(cat)
	dest.apply(t, r1)
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("first read: %s", d)
	}
	e.fake.AddNew(12)
	e.fake.UpdateInPlace(4)
	e.fake.Delete(3)
	r2 := e.read(cat, "--state", r1.StateFile(t))
	dest.apply(t, r2)
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("incremental read: %s", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if paged == 0 {
		t.Fatal("no page was asked with an after: the test pages nothing")
	}
	if len(unfilter) > 0 {
		t.Errorf("%d of %d pages asked without the walk's filters (the next link followed verbatim), e.g. ?%s", len(unfilter), paged, unfilter[0])
	}
}

// TestWebhookItemErrorAndV2LinkAreKept: the receiver keeps item/error
// events with their error {code, message, parameter} and transactions/created
// events carrying a /v2/transactions link and createdTransactionsLinkV2
// (pluggy-api.md §6); a read with webhook_log then emits every new row
// (the link is not needed: transactionsCreatedAtFrom is), completes, and
// WARNs that the item's sync failed, naming the code and the parameter.
func TestWebhookItemErrorAndV2LinkAreKept(t *testing.T) {
	e, rcv := hookEnv(t, fake.Options{Items: 1, CreatedLinkV2: true})
	item := e.fake.ItemIDs()[0]
	cat := e.catalog(true, "items", "transactions")
	dest := destination{}
	r1 := e.read(cat)
	dest.apply(t, r1)

	added := e.fake.AddNew(4)
	if !e.fake.ItemError(item, "INVALID_CREDENTIALS", "password") {
		t.Fatal("the fake knows no such item")
	}
	e.deliver()
	if s := e.fake.DeliveryStats(); s.Failed != 0 || s.Acknowledged != s.Queued {
		t.Fatalf("delivery stats %+v: the receiver refused events", s)
	}
	var itemErrors, v2Links int
	_, err := eventlog.Read(rcv.dir, eventlog.Position{}, func(_ eventlog.Position, line []byte) error {
		var l struct {
			Payload struct {
				Event                     string
				ItemID                    string
				Error                     struct{ Code, Message, Parameter string }
				CreatedTransactionsLink   string
				CreatedTransactionsLinkV2 string
			}
		}
		st.Must(t, json.Unmarshal(line, &l), "log line")
		p := l.Payload
		switch p.Event {
		case "item/error":
			if p.ItemID == item && p.Error.Code == "INVALID_CREDENTIALS" && p.Error.Parameter == "password" && p.Error.Message != "" {
				itemErrors++
			}
		case "transactions/created":
			if strings.Contains(p.CreatedTransactionsLink, "/v2/transactions?") && strings.Contains(p.CreatedTransactionsLinkV2, "/v2/transactions?") {
				v2Links++
			}
		}
		return nil
	})
	st.Must(t, err, "reading the log")
	if itemErrors != 1 || v2Links == 0 {
		t.Fatalf("the log holds %d item/error events with their error, %d transactions/created with v2 links", itemErrors, v2Links)
	}

	r2 := e.read(cat, "--state", r1.StateFile(t))
	dest.apply(t, r2)
	emitsEach(t, r2, added, "announced by a transactions/created with a v2 link")
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("after the events: %s", d)
	}
	if w := logs(r2, protocol.LevelWarn, item, "item/error", "INVALID_CREDENTIALS", "password"); len(w) != 1 {
		t.Errorf("want one WARN about the item/error of %s; WARNs: %v", item, logs(r2, protocol.LevelWarn))
	}
	if it := itemRows(t, r2.Records()["items"])[item]; it.Status != "LOGIN_ERROR" {
		t.Errorf("items record %+v, want the LOGIN_ERROR the failed sync left", it)
	}
}

// TestWebhookCreatedTimeWithoutZoneIsKept: a transactions/created whose
// transactionsCreatedAtFrom comes without its zone (2025-02-13T17:21:53.719,
// a form Pluggy writes some of its UTC times in: pluggy-api.md, value
// formats) is appended, not refused: a refusal would have Pluggy drop the
// event after its retries, and the read would not see the account's new
// rows until its next reconciliation. The next read emits them.
func TestWebhookCreatedTimeWithoutZoneIsKept(t *testing.T) {
	e, rcv := hookEnv(t, fake.Options{Items: 1, WebhookTimesWithoutZone: true})
	cat := e.catalog(true, "transactions")
	dest := destination{}
	r1 := e.read(cat)
	dest.apply(t, r1)

	added := e.fake.AddNew(3)
	e.deliver()
	if s := e.fake.DeliveryStats(); s.Failed != 0 || s.Acknowledged != s.Queued {
		t.Fatalf("delivery stats %+v: the receiver refused events\n%s", s, rcv.log())
	}
	zoneless := 0
	_, err := eventlog.Read(rcv.dir, eventlog.Position{}, func(_ eventlog.Position, line []byte) error {
		var l struct {
			Payload struct{ Event, TransactionsCreatedAtFrom string }
		}
		st.Must(t, json.Unmarshal(line, &l), "log line")
		if l.Payload.Event == "transactions/created" && !strings.HasSuffix(l.Payload.TransactionsCreatedAtFrom, "Z") {
			zoneless++
		}
		return nil
	})
	st.Must(t, err, "reading the log")
	if zoneless == 0 {
		t.Fatal("the log holds no transactions/created with a time without its zone")
	}

	r2 := e.read(cat, "--state", r1.StateFile(t))
	dest.apply(t, r2)
	emitsEach(t, r2, added, "announced by a transactions/created without a zone")
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("after the events: %s", d)
	}
}

// TestPostedRowsWithoutStatusAreRead: the SDK types a transaction's status
// as optional, absent meaning POSTED (pluggy-api.md §5). Rows without it
// are emitted as served (no status made up), pending rows keep theirs, and
// an incremental read after new rows and deletions leaves the destination
// equal to what Pluggy serves.
func TestPostedRowsWithoutStatusAreRead(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 60, PostedWithoutStatus: true})
	cat := e.catalog(true, "transactions")
	dest := destination{}
	r1 := e.read(cat)
	dest.apply(t, r1)
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("first read: %s", d)
	}
	without, pending := 0, 0
	for _, raw := range r1.Records()["transactions"] {
		var x map[string]json.RawMessage
		st.Must(t, json.Unmarshal(raw, &x), "transaction")
		switch status, ok := x["status"]; {
		case !ok:
			without++
		case string(status) == `"PENDING"`:
			pending++
		default:
			t.Errorf("record with status %s; the fake served posted rows without one", status)
		}
	}
	if without == 0 || pending == 0 {
		t.Fatalf("%d records without status, %d pending; want some of each", without, pending)
	}
	e.fake.AddNew(3)
	e.fake.PostPending(2)
	e.fake.Delete(2)
	r2 := e.read(cat, "--state", r1.StateFile(t))
	dest.apply(t, r2)
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("after the changes: %s", d)
	}
}

// TestWebhookItemErrorAfterARecoveryIsNoWarning: an item/error followed by
// a sync that succeeded (the institution was back at Pluggy's next
// auto-sync: the item is UPDATED again) leaves nothing stale, so a read
// with webhook_log says so in an INFO and warns only about the item still
// in error, naming its code.
func TestWebhookItemErrorAfterARecoveryIsNoWarning(t *testing.T) {
	e, _ := hookEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 10})
	recovered, failed := e.fake.ItemIDs()[0], e.fake.ItemIDs()[1]
	cat := e.catalog(true, "transactions")
	r1 := e.read(cat)

	if !e.fake.ItemError(recovered, "SITE_NOT_AVAILABLE", "") || !e.fake.ItemError(failed, "INVALID_CREDENTIALS", "password") || !e.fake.ItemSynced(recovered) {
		t.Fatal("the fake knows no such item")
	}
	e.deliver()
	r2 := e.read(cat, "--state", r1.StateFile(t))
	if w := logs(r2, protocol.LevelWarn, "item/error"); len(w) != 1 || !strings.Contains(w[0], failed) || !strings.Contains(w[0], "INVALID_CREDENTIALS") {
		t.Errorf("WARNs about item/error: %v; want one, about %s (INVALID_CREDENTIALS)", w, failed)
	}
	if i := logs(r2, protocol.LevelInfo, "item/error", recovered, "SITE_NOT_AVAILABLE", "later sync succeeded"); len(i) != 1 {
		t.Errorf("want one INFO that %s recovered from its item/error; INFOs: %v", recovered, logs(r2, protocol.LevelInfo, "item/error"))
	}
}

// TestTransactionTimesWithoutZoneMoveTheCursor: Pluggy writes some of its
// UTC times without their zone (pluggy-api.md, value formats: "The Go
// parser must be lenient"). A transaction's createdAt so written still
// moves its account's cursor, where it was skipped and the cursor stayed
// where the first sync left it: every later read asked again for every row
// created since. The rows are emitted as served, and the destination
// matches Pluggy after new rows and deletions.
func TestTransactionTimesWithoutZoneMoveTheCursor(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 40, TransactionTimesWithoutZone: true})
	cat := e.catalog(true, "transactions")
	dest := destination{}
	// Not e.read: the records hold the times as served, which the
	// schema's date-time format does not take.
	read := func(extra ...string) *st.Result {
		t.Helper()
		r := e.readFast(cat, extra...)
		st.ValidateProtocol(t, r)
		return r
	}
	r1 := read()
	dest.apply(t, r1)
	for _, raw := range r1.Records()["transactions"] {
		var x struct{ CreatedAt string }
		st.Must(t, json.Unmarshal(raw, &x), "transaction")
		if strings.HasSuffix(x.CreatedAt, "Z") {
			t.Fatalf("record createdAt %q; the fake served it without its zone", x.CreatedAt)
		}
	}
	before := txCursors(t, r1)
	added := e.fake.AddNew(4)
	e.fake.Delete(2)
	r2 := read("--state", r1.StateFile(t))
	dest.apply(t, r2)
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("after the changes: %s", d)
	}
	after := txCursors(t, r2)
	moved := map[string]bool{}
	for _, raw := range r2.Records()["transactions"] {
		var x struct{ ID, AccountID string }
		st.Must(t, json.Unmarshal(raw, &x), "transaction")
		if slices.Contains(added, x.ID) {
			moved[x.AccountID] = true
		}
	}
	if len(moved) == 0 {
		t.Fatalf("the second read emitted none of the new rows %v", added)
	}
	for acct := range moved {
		if !after[acct].After(before[acct]) {
			t.Errorf("account %s: cursor %v after new rows, %v before; a createdAt without its zone must move it", acct, after[acct], before[acct])
		}
	}
}

// emitsEach fails unless r emitted each of the transactions ids, new rows
// (how) the read had to find.
func emitsEach(t *testing.T, r *st.Result, ids []string, how string) {
	t.Helper()
	emitted := rows(t, r.Records()["transactions"])
	for _, id := range ids {
		if _, ok := emitted[id]; !ok {
			t.Errorf("new row %s, %s, was not emitted", id, how)
		}
	}
}

package pluggy

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/source-pluggy/source-pluggy/connector/source"
)

// A stream read from page-number lists (accounts, credit_card_bills, loans,
// investments, categories) tells the platform how many rows it will emit,
// an ESTIMATE trace per part (item, account) as its first page arrives:
// the page's `total` counts the whole list. investment_transactions counts
// the movements it is about to emit instead (readInvestment). transactions
// pages by cursor, {results, next}, with no total, so it sends none, and
// neither do items and identity, one object per item.

// pageList is a list endpoint's rows for one part, with the `total` its
// first page announced (nil when absent), for the caches that several
// streams share: the stream that emits the rows estimates them from it,
// whichever stream fetched the list first.
type pageList struct {
	rows  []json.RawMessage
	total json.RawMessage
}

// fetchList reads a whole list (eachPageTotal) into a pageList.
func (c *Client) fetchList(ctx context.Context, route, path string, q url.Values, pageSize int) (pageList, error) {
	var l pageList
	err := c.eachPageTotal(ctx, route, path, q, pageSize, func(total json.RawMessage) {
		l.total = bytes.Clone(total)
	}, func(r json.RawMessage) error {
		l.rows = append(l.rows, r)
		return nil
	})
	return l, err
}

// maxExactTotal is the largest total read from a JSON number written as a
// float (1e3, 12.0): every whole number up to it is exact in a float64.
const maxExactTotal = 1 << 53

// pageTotal reads a page's `total` as a row count: a whole JSON number
// from 0 up. Anything else (absent, null, a string, a negative number, a
// fraction) is no count, and reports false: a total only feeds an
// estimate, so no value of it may fail or stop a read.
func pageTotal(raw json.RawMessage) (int64, bool) {
	s := string(bytes.TrimSpace(raw))
	if s == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return max(n, 0), n >= 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > maxExactTotal || f != math.Trunc(f) {
		return 0, false
	}
	return int64(f), true
}

// estimator adds the parts' totals to their streams' estimates.
type estimator struct {
	// unusable remembers the routes whose total was no count this run, so
	// the DEBUG saying so comes once per route, not once per account.
	unusable sync.Map
}

// add adds the rows total announces to the estimate of the stream read
// with ctx (source.EstimateRows). A total that is no count adds nothing:
// that part is left out of the estimate, which then under-counts, and log
// says so at DEBUG once per route.
func (e *estimator) add(ctx context.Context, log *slog.Logger, route string, total json.RawMessage) {
	n, ok := pageTotal(total)
	if ok {
		source.EstimateRows(ctx, n)
		return
	}
	if _, seen := e.unusable.LoadOrStore(route, true); seen {
		return
	}
	shown := "absent"
	if len(total) > 0 {
		shown = string(total)
		if len(shown) > 40 {
			shown = shown[:40]
			for !utf8.ValidString(shown) {
				shown = shown[:len(shown)-1]
			}
			shown += "…"
		}
	}
	log.Debug("Pluggy's page gave no row count in total, so the stream's ESTIMATE leaves out the parts such pages list (said once per route)",
		"route", route, "total", shown)
}

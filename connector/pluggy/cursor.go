package pluggy

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// maxEmptyPages is how many empty pages with a non-null next the client
// accepts in a row before it calls the server broken.
const maxEmptyPages = 3

// eachTransaction walks GET /v2/transactions with filters q (accountId and
// one of dateFrom/createdAtFrom), following `next` until it is null. The
// deprecated v1 /transactions is never used: it answers 410 for newer keys.
//
// `next` arrives relative ("?accountId=…&after=…") or absolute, with the
// cursor percent-encoded or raw. Rather than follow it verbatim (an absolute
// next could point at another host and take the apiKey with it), the client
// takes only its `after` value and re-sends its own filters with it, as the
// official SDK does. A cursor seen twice, endless empty pages, or too many
// pages end the loop with an error instead of spinning.
func (c *Client) eachTransaction(ctx context.Context, q url.Values, fn func(raw []byte, k txKeys) error) error {
	return c.eachTransactionPage(ctx, q, func(rows []txRow) error {
		for i := range rows {
			if err := fn(rows[i].Raw, rows[i].txKeys); err != nil {
				return err
			}
		}
		return nil
	})
}

// eachTransactionPage is eachTransaction a page at a time, for a reader
// that must see a page's ids before emitting any of its rows (announce.go).
// fn gets each page's rows up to the first without a usable id (which then
// ends the walk with an error). The rows, and the bytes their Raw slice,
// are valid only until fn returns: the page's memory then goes to a page
// after it (pageMemory). A reader that keeps rows longer copies them
// (detachRows).
//
// The next page is fetched while fn handles this one: its cursor is known
// once this page is decoded, and fn (converting rows into a sink, waiting
// for the stream's output) would otherwise leave the connection idle. On a
// million transactions to Parquet one core sat idle 27% of the read, the
// readers waiting on responses they could have asked for earlier. A fetch
// is started only when the walk will surely want it (a valid next cursor,
// not seen before, within maxPages), and when fn fails it is cancelled, so
// the requests made are the same as one page at a time, but for that one.
func (c *Client) eachTransactionPage(ctx context.Context, q url.Values, fn func(rows []txRow) error) error {
	var seen recentCursors
	empty := 0
	pending := c.fetchTransactionPage(ctx, q)
	for page := 1; page <= maxPages; page++ {
		res := <-pending.done
		pending.cancel()
		if res.err != nil {
			return res.err
		}
		rows := res.page.rows
		for i := range rows {
			if r := &rows[i]; r.Problem != "" || r.ID == "" {
				if err := fn(rows[:i]); err != nil {
					return err
				}
				why := r.Problem
				if why == "" {
					why = "no id"
				}
				return source.SystemErrorf("Pluggy GET /v2/transactions page %d row %d has no usable id (%s); the account is not read past it", page, i, why)
			}
		}
		// Whether there is a next page, and what stops the walk, is
		// decided before fn, so that the next page is on its way
		// meanwhile; fn still gets this page's rows first.
		var stop error
		last := res.next == nil || strings.TrimSpace(*res.next) == ""
		if !last {
			after, err := afterParam(*res.next)
			switch {
			case err != nil:
				stop = source.SystemErrorf("Pluggy GET /v2/transactions page %d: %v", page, err)
			case !seen.add(after):
				stop = source.SystemErrorf("Pluggy GET /v2/transactions returned the same cursor twice (page %d); stopping instead of looping", page)
			case len(rows) == 0 && empty+1 >= maxEmptyPages:
				stop = source.SystemErrorf("Pluggy GET /v2/transactions returned %d empty pages in a row that still had a next cursor; stopping", empty+1)
			case page == maxPages:
				stop = source.SystemErrorf("Pluggy GET /v2/transactions kept paging past %d pages; stopping", maxPages)
			default:
				if len(rows) == 0 {
					empty++
				} else {
					empty = 0
				}
				q.Set("after", after)
				pending = c.fetchTransactionPage(ctx, q)
			}
		}
		if err := fn(rows); err != nil {
			if !last && stop == nil {
				pending.cancel()
				<-pending.done // q is the fetch's until it is done
			}
			return err
		}
		c.pages.put(res.page)
		if last || stop != nil {
			return stop
		}
	}
	panic("unreachable: the last page returns")
}

// pageFetch is a GET /v2/transactions on its way.
type pageFetch struct {
	done   <-chan pageResult
	cancel context.CancelFunc
}

type pageResult struct {
	page txPage
	next *string
	err  error
}

// txPage is a decoded GET /v2/transactions page and the memory it is in.
type txPage struct {
	body []byte // the response body, which the rows' Raw slice
	rows []txRow
}

// pageMemory recycles the memory of transactions pages, their bodies and
// row slices. A million transactions arrive in some 2,000 pages of ~0.5 MB;
// read into new memory each, the bodies were 42% of all the read's
// allocations (760 of 1,810 MB to Parquet) and, under the sinks' soft
// memory limit (memlimit), the cause of as large a share of its
// collections. A page goes back once fn has handed its rows on
// (eachTransactionPage); a worker has one page in hand and one on its way,
// so a few free pages serve all the workers. What a page's memory cannot
// hold (a larger page, a row slice too short) is allocated as before.
type pageMemory struct{ free chan txPage }

// freePages is how many idle pages pageMemory keeps: two per worker at
// the default max_concurrency of 4. A page body over maxKeptPage (rows of
// long texts, once) is left to the collector, so the idle pages never hold
// more than 8 × 4 MiB.
const (
	freePages   = 8
	maxKeptPage = 4 << 20
)

func newPageMemory() pageMemory { return pageMemory{free: make(chan txPage, freePages)} }

// poisonPages makes put overwrite a page's bytes and rows, so a reader
// that used a row after handing it on would read garbage: the package's
// tests set it.
var poisonPages = false

// detachRows copies rows, and the bytes their Raw slice into one new
// buffer, for a reader that keeps them after its page is handed back.
func detachRows(rows []txRow) []txRow {
	return jsonrow.Detach(rows, func(r *txRow) *[]byte { return &r.Raw })
}

// get returns an idle page's memory, or none.
func (m pageMemory) get() txPage {
	select {
	case p := <-m.free:
		return p
	default:
		return txPage{}
	}
}

// put takes back a page whose rows nobody holds any more.
func (m pageMemory) put(p txPage) {
	if poisonPages {
		b := p.body[:cap(p.body)]
		for i := range b {
			b[i] = '!'
		}
		rows := p.rows[:cap(p.rows)]
		for i := range rows {
			rows[i] = txRow{Raw: b[:0], Problem: "handed on"}
		}
	}
	if cap(p.body) > maxKeptPage {
		return
	}
	select {
	case m.free <- p:
	default:
	}
}

// fetchTransactionPage starts fetching one page of GET /v2/transactions;
// q must not change until the result is received.
func (c *Client) fetchTransactionPage(ctx context.Context, q url.Values) pageFetch {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan pageResult, 1)
	go func() {
		var res pageResult
		mem := c.pages.get()
		res.err = c.getInto(ctx, "GET /v2/transactions", "/v2/transactions", q, mem.body, func(b []byte) (err error) {
			// A malformed page fails here, inside the retry loop.
			res.page.body = b
			res.page.rows, res.next, err = decodeTransactionsPage(b, mem.rows)
			return err
		})
		done <- res
	}()
	return pageFetch{done: done, cancel: cancel}
}

// recentCursorsKept bounds the cursors remembered to catch a loop: one that
// comes back after more pages than this is still stopped by maxPages.
const recentCursorsKept = 4096

// recentCursors remembers the last recentCursorsKept cursors of a walk by a
// 128-bit hash, so memory stays under 100 KB whatever the server sends:
// keeping every cursor verbatim, a server answering a new 50 KB cursor on
// every page grew the process by that much a page up to maxPages.
type recentCursors struct {
	set  map[[16]byte]struct{}
	ring [][16]byte
	next int // the ring slot to overwrite once full
}

// add records cursor and reports whether it is new among the recent ones.
func (r *recentCursors) add(cursor string) bool {
	sum := sha256.Sum256([]byte(cursor))
	var h [16]byte
	copy(h[:], sum[:])
	if _, dup := r.set[h]; dup {
		return false
	}
	if r.set == nil {
		r.set = map[[16]byte]struct{}{}
	}
	if len(r.ring) < recentCursorsKept {
		r.ring = append(r.ring, h)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = h
		r.next = (r.next + 1) % recentCursorsKept
	}
	r.set[h] = struct{}{}
	return true
}

// afterParam extracts the decoded `after` cursor from a next link. It reads
// the raw query by hand: url.ParseQuery would turn a raw '+' of a base64
// cursor into a space.
func afterParam(next string) (string, error) {
	i := strings.IndexByte(next, '?')
	if i < 0 {
		return "", fmt.Errorf("next %s has no query string", quoteLink(next))
	}
	for _, kv := range strings.Split(next[i+1:], "&") {
		k, v, _ := strings.Cut(kv, "=")
		if k != "after" {
			continue
		}
		if strings.Contains(v, "%") {
			dec, err := url.PathUnescape(v)
			if err != nil {
				return "", fmt.Errorf("next has a malformed after value: %w", err)
			}
			v = dec
		}
		if v == "" {
			break
		}
		return v, nil
	}
	return "", fmt.Errorf("next %s has no after cursor", quoteLink(next))
}

// quoteLink quotes a next link for an error, whole or not at all: the run's
// redactor masks a secret it finds whole in the message (a key the server
// put in the link), and a link cut short could leave a secret's first part
// where it would not recognise it. A link too long to quote is told by its
// length.
func quoteLink(next string) string {
	if len(next) > maxQuotedLink {
		return fmt.Sprintf("(a link of %d bytes)", len(next))
	}
	return strconv.Quote(next)
}

// maxQuotedLink is the longest next link an error quotes.
const maxQuotedLink = 300

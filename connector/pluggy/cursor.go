package pluggy

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/url"
	"strings"

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
// ends the walk with an error); the rows stay valid after the call.
func (c *Client) eachTransactionPage(ctx context.Context, q url.Values, fn func(rows []txRow) error) error {
	var seen recentCursors
	empty := 0
	for page := 1; page <= maxPages; page++ {
		var rows []txRow
		var next *string
		err := c.get(ctx, "GET /v2/transactions", "/v2/transactions", q, func(b []byte) (err error) {
			// A malformed page fails here, inside the retry loop.
			rows, next, err = decodeTransactionsPage(b)
			return err
		})
		if err != nil {
			return err
		}
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
		if err := fn(rows); err != nil {
			return err
		}
		if next == nil || strings.TrimSpace(*next) == "" {
			return nil
		}
		after, err := afterParam(*next)
		if err != nil {
			return source.SystemErrorf("Pluggy GET /v2/transactions page %d: %v", page, err)
		}
		if !seen.add(after) {
			return source.SystemErrorf("Pluggy GET /v2/transactions returned the same cursor twice (page %d); stopping instead of looping", page)
		}
		if len(rows) == 0 {
			if empty++; empty >= maxEmptyPages {
				return source.SystemErrorf("Pluggy GET /v2/transactions returned %d empty pages in a row that still had a next cursor; stopping", empty)
			}
		} else {
			empty = 0
		}
		q.Set("after", after)
	}
	return source.SystemErrorf("Pluggy GET /v2/transactions kept paging past %d pages; stopping", maxPages)
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
		return "", fmt.Errorf("next %q has no query string", truncate(next, 80))
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
	return "", fmt.Errorf("next %q has no after cursor", truncate(next, 80))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

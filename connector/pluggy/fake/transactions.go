package fake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxIDs is the documented limit of the ids filter.
const maxIDs = 500

// maxCacheBytes bounds the page cache; past it the cache starts over. A
// million prewarmed rows take well under this.
const maxCacheBytes = 3 << 30

// farFuture is 9999-12-31T23:59:59.999Z, the cursor position before every row.
const farFuture = int64(253402300799999)

// txFilter is a parsed /v2/transactions filter set. Bounds are Unix ms.
type txFilter struct {
	hasFrom, hasTo, hasCreated bool
	from, to, createdFrom      int64 // date >= from, date < to, createdAt >= createdFrom
	ids                        map[uuid]struct{}
}

func (f *txFilter) match(t *txn) bool {
	if f.hasCreated && t.createdAt < f.createdFrom {
		return false
	}
	if f.ids != nil {
		if _, ok := f.ids[t.id]; !ok {
			return false
		}
	}
	return true
}

// cursor is a keyset position: the (date, id) of the last row served.
type cursor struct {
	date int64
	id   uuid
}

// String encodes the cursor as Pluggy does: base64 (standard alphabet,
// padded) of "<date ISO>|<id>". Such cursors always end in "==" and, being
// the encoding of ASCII text, never contain '+' or '/'.
func (c cursor) String() string {
	b := appendISO(make([]byte, 0, 61), c.date)
	b = append(b, '|')
	b = appendUUID(b, c.id)
	return base64.StdEncoding.EncodeToString(b)
}

// parseCursor decodes an `after` value however it travelled: percent-encoded
// once or twice, '+' turned into a space by form decoding, URL-safe
// alphabet, padding present or stripped.
func parseCursor(s string) (cursor, bool) {
	if strings.Contains(s, "%") {
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
	}
	s = strings.NewReplacer(" ", "+", "-", "+", "_", "/").Replace(s)
	s = strings.TrimRight(s, "=")
	raw, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, false
	}
	dateStr, idStr, ok := strings.Cut(string(raw), "|")
	if !ok {
		return cursor{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, dateStr)
	if err != nil {
		return cursor{}, false
	}
	id, ok := parseUUID(idStr)
	if !ok {
		return cursor{}, false
	}
	return cursor{date: t.UnixMilli(), id: id}, true
}

// isAfter reports whether row t comes after c in keyset order (date desc,
// id desc).
func (c *cursor) isAfter(t *txn) bool {
	if t.date != c.date {
		return t.date < c.date
	}
	return bytes.Compare(t.id[:], c.id[:]) < 0
}

// orderKey places row t in the Options.TransactionOrder of a
// non-default order: rows are served by ascending (key, id).
func (s *Server) orderKey(t *txn) uint64 {
	if s.opts.TransactionOrder == OrderShuffled {
		return shuffleKey(s.opts.OrderSeed, t.id)
	}
	return uint64(t.date) ^ 1<<63 // dates may be negative: keep their order
}

// shuffleKey is a hash of seed and id (FNV-1a, then a 64-bit finaliser).
func shuffleKey(seed uint64, id uuid) uint64 {
	h := uint64(0xcbf29ce484222325) ^ seed*0x9e3779b97f4a7c15
	for _, b := range id {
		h ^= uint64(b)
		h *= 0x100000001b3
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// orderedAfter reports whether row t comes after cursor c in a
// non-default order.
func (s *Server) orderedAfter(c *cursor, t *txn) bool {
	ck, tk := s.orderKey(&txn{date: c.date, id: c.id}), s.orderKey(t)
	if tk != ck {
		return tk > ck
	}
	return bytes.Compare(t.id[:], c.id[:]) > 0
}

// servedOrder returns the indexes of a's rows in the order they are
// served: nil for the default order, in which a.rows already are.
func (s *Server) servedOrder(a *account) []int {
	if s.opts.TransactionOrder == OrderNewestFirst {
		return nil
	}
	idx := make([]int, len(a.rows))
	keys := make([]uint64, len(a.rows))
	for i := range a.rows {
		idx[i], keys[i] = i, s.orderKey(&a.rows[i])
	}
	sort.Slice(idx, func(x, y int) bool {
		i, j := idx[x], idx[y]
		if keys[i] != keys[j] {
			return keys[i] < keys[j]
		}
		return bytes.Compare(a.rows[i].id[:], a.rows[j].id[:]) < 0
	})
	return idx
}

// parseDay parses a yyyy-mm-dd filter (a full timestamp is accepted and its
// date part used) into the Unix ms of that UTC midnight.
func parseDay(s string) (int64, bool) {
	if len(s) > 10 && s[10] == 'T' {
		s = s[:10]
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

// parseTimestamp parses an ISO timestamp leniently: with or without
// fraction, Z or offset (a '+' that arrived as a space is restored), or a
// bare date.
func parseTimestamp(s string) (int64, bool) {
	s = strings.ReplaceAll(s, " ", "+")
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}

// pageResult is one computed page. results is the JSON array; it is shared
// by every response that serves this page, so it must never be modified.
type pageResult struct {
	results []byte
	last    cursor
	count   int
	hasMore bool
}

// pageCache holds encoded pages keyed by the effective query. Mutations
// take the server lock exclusively and clear it, so an entry can never
// outlive the data it was built from.
type pageCache struct {
	mu    sync.Mutex
	m     map[string]*pageResult
	bytes int
}

func (c *pageCache) get(key string) *pageResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

func (c *pageCache) put(key string, p *pageResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || c.bytes+len(p.results) > maxCacheBytes {
		c.m, c.bytes = map[string]*pageResult{}, 0
	}
	if _, ok := c.m[key]; !ok {
		c.bytes += len(p.results)
	}
	c.m[key] = p
}

func (c *pageCache) clear() {
	c.mu.Lock()
	c.m, c.bytes = nil, 0
	c.mu.Unlock()
}

// cacheKey normalises a query to what actually selects rows: filters that
// exclude nothing on this account (a dateFrom before its oldest row, say)
// are dropped, so every first sync shares the prewarmed pages whatever
// start date it uses. Queries with ids are not cached.
func cacheKey(a *account, f *txFilter, cur *cursor) string {
	if f.ids != nil {
		return ""
	}
	b := strconv.AppendInt(nil, int64(a.idx), 10)
	b = append(b, '|')
	if f.hasFrom && f.from > a.minDate {
		b = strconv.AppendInt(b, f.from, 10)
	}
	b = append(b, '|')
	if f.hasTo && f.to <= a.maxDate {
		b = strconv.AppendInt(b, f.to, 10)
	}
	b = append(b, '|')
	if f.hasCreated && f.createdFrom > a.minCreat {
		b = strconv.AppendInt(b, f.createdFrom, 10)
	}
	b = append(b, '|')
	if cur != nil {
		b = strconv.AppendInt(b, cur.date, 10)
		b = appendUUID(append(b, '/'), cur.id)
	}
	return string(b)
}

// page returns the page of a's rows after cur that match f, from the cache
// when possible. The caller holds s.mu (shared at least) and has called
// a.ensure.
func (s *Server) page(a *account, f *txFilter, cur *cursor) *pageResult {
	key := cacheKey(a, f, cur)
	if key != "" {
		if p := s.cache.get(key); p != nil {
			return p
		}
	}
	p := s.computePage(a, f, cur)
	if key != "" {
		s.cache.put(key, p)
	}
	return p
}

func (s *Server) computePage(a *account, f *txFilter, cur *cursor) *pageResult {
	if order := s.servedOrder(a); order != nil {
		return s.computeOrderedPage(a, order, f, cur)
	}
	rows := a.rows
	start := 0
	if cur != nil {
		start = sort.Search(len(rows), func(i int) bool { return cur.isAfter(&rows[i]) })
	}
	if f.hasTo {
		start = max(start, sort.Search(len(rows), func(i int) bool { return rows[i].date < f.to }))
	}
	size := s.opts.PageSize
	buf := make([]byte, 0, min(size, len(rows)-start+1)*720+2)
	buf = append(buf, '[')
	p := &pageResult{}
	for i := start; i < len(rows); i++ {
		t := &rows[i]
		if f.hasFrom && t.date < f.from {
			break // rows are in date order; nothing older can match
		}
		if !f.match(t) {
			continue
		}
		var full bool
		if buf, full = p.add(buf, t, a, size); full {
			break
		}
	}
	p.results = append(buf, ']')
	return p
}

// add appends t to the page being filled in buf, or, the page holding size
// rows already, marks that more follow and reports it full.
func (p *pageResult) add(buf []byte, t *txn, a *account, size int) ([]byte, bool) {
	if p.count == size {
		p.hasMore = true
		return buf, true
	}
	if p.count > 0 {
		buf = append(buf, ',')
	}
	buf = appendTxn(buf, t, a)
	p.count++
	p.last = cursor{date: t.date, id: t.id}
	return buf, false
}

// computeOrderedPage is computePage for a non-default order: every row is
// checked against every filter, as the order says nothing about dates.
func (s *Server) computeOrderedPage(a *account, order []int, f *txFilter, cur *cursor) *pageResult {
	size := s.opts.PageSize
	buf := make([]byte, 0, min(size, len(order))*720+2)
	buf = append(buf, '[')
	p := &pageResult{}
	for _, i := range order {
		t := &a.rows[i]
		if cur != nil && !s.orderedAfter(cur, t) ||
			f.hasFrom && t.date < f.from || f.hasTo && t.date >= f.to || !f.match(t) {
			continue
		}
		var full bool
		if buf, full = p.add(buf, t, a, size); full {
			break
		}
	}
	p.results = append(buf, ']')
	return p
}

// handleTransactionsV2 serves GET /v2/transactions: the cursor envelope
// {results, next}, date desc then id desc (or Options.TransactionOrder). An unknown (well-formed)
// accountId answers 404 ACCOUNT_NOT_FOUND. A pageSize parameter is ignored,
// as the real endpoint has none.
func (s *Server) handleTransactionsV2(r *http.Request) *reply {
	q, _ := url.ParseQuery(r.URL.RawQuery)
	accountID := q.Get("accountId")
	acctID, ok := parseUUID(accountID)
	if !ok {
		return validationError("accountId should not be null or undefined, accountId must be a UUID")
	}
	var f txFilter
	dateFrom, dateTo, createdAtFrom, ids := q.Get("dateFrom"), q.Get("dateTo"), q.Get("createdAtFrom"), q.Get("ids")
	if dateFrom != "" && createdAtFrom != "" {
		return validationError("dateFrom and createdAtFrom cannot be used together")
	}
	if dateFrom != "" {
		if f.from, f.hasFrom = parseDay(dateFrom); !f.hasFrom {
			return validationError("dateFrom must be a valid ISO 8601 date string")
		}
	}
	if dateTo != "" {
		day, ok := parseDay(dateTo)
		if !ok {
			return validationError("dateTo must be a valid ISO 8601 date string")
		}
		f.to, f.hasTo = day+msPerDay, true
	}
	if createdAtFrom != "" {
		if f.createdFrom, f.hasCreated = parseTimestamp(createdAtFrom); !f.hasCreated {
			return validationError("createdAtFrom must be a valid ISO 8601 date string")
		}
	}
	if ids != "" {
		list := strings.Split(ids, ",")
		if len(list) > maxIDs {
			return errorReply(http.StatusBadRequest, "IDS_PARAMETER_EXCEEDS_MAX_LENGTH", "The ids parameter cannot have more than 500 transaction ids")
		}
		f.ids = make(map[uuid]struct{}, len(list))
		for _, v := range list {
			id, ok := parseUUID(strings.TrimSpace(v))
			if !ok {
				return validationError("each value in ids must be a UUID")
			}
			f.ids[id] = struct{}{}
		}
	}
	var cur *cursor
	if after := q.Get("after"); after != "" {
		c, ok := parseCursor(after)
		if !ok {
			return validationError("Invalid cursor")
		}
		cur = &c
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	a := s.accountsByID[acctID]
	if a == nil {
		return errorReply(http.StatusNotFound, "ACCOUNT_NOT_FOUND", "account not found")
	}
	a.ensure(s)
	faults := s.faults.Load()
	if faults.EmptyPageWithNext {
		same := cursor{date: farFuture, id: uuid{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x4f, 0xff, 0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
		if cur != nil {
			same = *cur
		}
		return s.cursorEnvelope(r, q, []byte("[]"), same.String())
	}
	p := s.page(a, &f, cur)
	next := ""
	switch {
	case faults.RepeatNextCursor && cur != nil:
		next = cur.String()
	case p.hasMore:
		next = p.last.String()
	}
	return s.cursorEnvelope(r, q, p.results, next)
}

// nextParams are the filters copied into `next`, in this order.
var nextParams = []string{"accountId", "dateFrom", "dateTo", "createdAtFrom", "ids"}

// cursorEnvelope assembles {"results":[...],"next":...} around the shared
// results bytes; after == "" means the last page (next null).
func (s *Server) cursorEnvelope(r *http.Request, q url.Values, results []byte, after string) *reply {
	var next []byte
	if after == "" {
		next = []byte("null")
	} else {
		next = appendString(nil, s.nextLink(r, q, after))
	}
	return &reply{status: http.StatusOK, parts: [][]byte{[]byte(`{"results":`), results, []byte(`,"next":`), next, []byte("}")}}
}

// nextLink writes the original filters plus after in the configured style
// (only accountId and after with Options.NextDropsFilters).
func (s *Server) nextLink(r *http.Request, q url.Values, after string) string {
	raw := s.opts.NextStyle == NextRelativeRaw
	var b strings.Builder
	b.WriteByte('?')
	add := func(k, v string) {
		if b.Len() > 1 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		if raw {
			b.WriteString(v)
		} else {
			b.WriteString(url.QueryEscape(v))
		}
	}
	for _, k := range nextParams {
		if s.opts.NextDropsFilters && k != "accountId" {
			continue
		}
		if v := q.Get(k); v != "" {
			add(k, v)
		}
	}
	add("after", after)
	if s.opts.NextStyle == NextAbsolute {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		return scheme + "://" + r.Host + "/v2/transactions" + b.String()
	}
	return b.String()
}

// handleTransactionsV1 serves the deprecated page-numbered endpoint, which
// answers 410 ENDPOINT_DEPRECATED for every key the fake issues.
func (s *Server) handleTransactionsV1(*http.Request) *reply { return s.deprecated() }

// handleTransaction serves GET /transactions/{id}.
func (s *Server) handleTransaction(r *http.Request) *reply {
	id, ok := parseUUID(r.PathValue("id"))
	s.mu.RLock()
	defer s.mu.RUnlock()
	if ok {
		for _, a := range s.accounts {
			a.ensure(s)
			for i := range a.rows {
				if a.rows[i].id == id {
					return &reply{status: http.StatusOK, parts: [][]byte{appendTxn(nil, &a.rows[i], a)}}
				}
			}
		}
	}
	return errorReply(http.StatusNotFound, "TRANSACTION_NOT_FOUND", "transaction not found")
}

// Transactions returns an account's current rows, in served order and
// encoded byte-for-byte as /v2/transactions serves them with no filter. It
// returns nil for an unknown account.
func (s *Server) Transactions(accountID string) []json.RawMessage {
	id, ok := parseUUID(accountID)
	if !ok {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	a := s.accountsByID[id]
	if a == nil {
		return nil
	}
	a.ensure(s)
	out := make([]json.RawMessage, len(a.rows))
	for i := range a.rows {
		out[i] = appendTxn(nil, &a.rows[i], a)
	}
	if order := s.servedOrder(a); order != nil {
		served := make([]json.RawMessage, len(order))
		for k, i := range order {
			served[k] = out[i]
		}
		out = served
	}
	return out
}

// TransactionSummary returns the row count, the set of ids and the sum of
// `amount` in cents over every account, as a full sync should see them.
func (s *Server) TransactionSummary() (count int, ids map[string]struct{}, sumCents int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids = map[string]struct{}{}
	for _, a := range s.accounts {
		a.ensure(s)
		for i := range a.rows {
			ids[a.rows[i].id.String()] = struct{}{}
			sumCents += a.rows[i].amount
		}
		count += len(a.rows)
	}
	return count, ids, sumCents
}

// Prewarm generates every account's rows and encodes the pages a first
// sync with any dateFrom older than all data (or no filter) will request,
// so a benchmark measures the client, not the fake. It uses all CPUs.
func (s *Server) Prewarm() {
	s.mu.RLock()
	defer s.mu.RUnlock()
	work := make(chan *account)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for a := range work {
				a.ensure(s)
				var f txFilter
				var cur *cursor
				for {
					p := s.page(a, &f, cur)
					if !p.hasMore {
						break
					}
					cur = &p.last
				}
			}
		})
	}
	for _, a := range s.accounts {
		work <- a
	}
	close(work)
	wg.Wait()
}

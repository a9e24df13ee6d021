package fake

import (
	"strings"
	"time"
)

// Mutations model what a Pluggy re-sync does to data a consumer has already
// read. Each takes the server lock exclusively, stamps createdAt/updatedAt
// with Now(), re-sorts the touched accounts, clears the page cache and is
// visible to the next request. They draw from one seeded generator, so the
// same sequence of calls on same-seed servers yields the same ids. When
// fewer rows qualify than asked for, they act on all that do and return
// fewer ids.

// mutation runs fn with the lock held and every account generated, then
// re-sorts and re-bounds the accounts fn marked dirty. Once the lock is
// released, the changes fn recorded go to the registered webhooks.
func (s *Server) mutation(fn func(now int64, dirty map[*account]bool, ch *changes)) {
	ch := newChanges()
	now := s.opts.Now().UnixMilli()
	func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, a := range s.accounts {
			a.ensure(s)
		}
		dirty := map[*account]bool{}
		fn(now, dirty, ch)
		for a := range dirty {
			sortRows(a.rows)
			a.refreshBounds()
		}
		s.cache.clear()
	}()
	s.announce(ch, now)
}

// newRow draws one row for a dated on dayStart, ingested now.
func (s *Server) newRow(a *account, dayStart, now int64) txn {
	g := newRowGen(s.mutRNG, a, now)
	t := pickTemplate(s.mutRNG, templatesFor(a.kind))
	rows := g.appendRows(nil, t, dayStart, 1)
	row := rows[0]
	row.createdAt, row.updatedAt = now, now
	return row
}

// AddNew adds n rows dated today or yesterday to randomly chosen accounts
// and returns their ids. Checking rows get a running balance and move the
// account balance; new card rows are PENDING.
func (s *Server) AddNew(n int) []string {
	var ids []string
	s.mutation(func(now int64, dirty map[*account]bool, ch *changes) {
		today := now - now%msPerDay
		for range n {
			a := s.accounts[s.mutRNG.IntN(len(s.accounts))]
			row := s.newRow(a, today-int64(s.mutRNG.IntN(2))*msPerDay, now)
			if a.kind == kindChecking {
				a.balance += row.amount
				row.balance = a.balance
				row.flags |= flagBalance
			}
			a.rows = append(a.rows, row)
			dirty[a] = true
			ch.touch(a)
			ch.created[a] = append(ch.created[a], row)
			ids = append(ids, row.id.String())
		}
	})
	return ids
}

// AddBackdated adds n rows whose date is age ago but whose createdAt is now:
// Pluggy ingesting late rows, which a date high-water mark misses forever.
// Their balance is null.
func (s *Server) AddBackdated(n int, age time.Duration) []string {
	var ids []string
	s.mutation(func(now int64, dirty map[*account]bool, ch *changes) {
		when := now - age.Milliseconds()
		for range n {
			a := s.accounts[s.mutRNG.IntN(len(s.accounts))]
			row := s.newRow(a, when-when%msPerDay, now)
			row.flags &^= flagBalance
			a.rows = append(a.rows, row)
			dirty[a] = true
			ch.touch(a)
			ch.created[a] = append(ch.created[a], row)
			ids = append(ids, row.id.String())
		}
	})
	return ids
}

// rowRef locates a row during a mutation.
type rowRef struct {
	a *account
	i int
}

// candidates lists rows matching pred in a stable order (accounts in order,
// rows in served order).
func (s *Server) candidates(pred func(a *account, t *txn) bool) []rowRef {
	var out []rowRef
	for _, a := range s.accounts {
		for i := range a.rows {
			if pred(a, &a.rows[i]) {
				out = append(out, rowRef{a, i})
			}
		}
	}
	return out
}

// choose picks up to n distinct candidates with the mutation generator.
func (s *Server) choose(c []rowRef, n int) []rowRef {
	n = min(n, len(c))
	for i := range n {
		j := i + s.mutRNG.IntN(len(c)-i)
		c[i], c[j] = c[j], c[i]
	}
	return c[:n]
}

// removeRows deletes the rows whose ids are in del from each dirty account.
func removeRows(dirty map[*account]bool, del map[uuid]bool) {
	for a := range dirty {
		kept := a.rows[:0]
		for _, t := range a.rows {
			if !del[t.id] {
				kept = append(kept, t)
			}
		}
		clear(a.rows[len(kept):])
		a.rows = kept
	}
}

// PostPending settles up to n PENDING card rows dated no later than now the
// way Pluggy does when their key changes: the pending row is deleted and a
// POSTED row with a new id is created. The amount is kept; the description
// sometimes changes slightly. Nothing links old and new ids except the
// returned slices, which are index-aligned.
func (s *Server) PostPending(n int) (oldIDs, newIDs []string) {
	s.mutation(func(now int64, dirty map[*account]bool, ch *changes) {
		picked := s.choose(s.candidates(func(a *account, t *txn) bool {
			return t.flags&flagPending != 0 && t.date <= now
		}), n)
		oldIDs, newIDs = s.recreate(picked, now, dirty, ch, func(row *txn) {
			row.flags &^= flagPending
			if s.mutRNG.IntN(2) == 0 {
				if up := strings.ToUpper(stripAccents(row.desc)); up != row.desc {
					row.desc = up
				} else {
					row.desc += " BR"
				}
			}
		})
	})
	return oldIDs, newIDs
}

// recreate deletes the picked rows and creates each again under a new id,
// createdAt now, after edit: what Pluggy does when a row's key changes. It
// returns the old and new ids, index-aligned.
func (s *Server) recreate(picked []rowRef, now int64, dirty map[*account]bool, ch *changes, edit func(*txn)) (oldIDs, newIDs []string) {
	del := map[uuid]bool{}
	var added []txn
	var owners []*account
	for _, ref := range picked {
		old := ref.a.rows[ref.i]
		row := old
		row.id = newUUID(s.mutRNG)
		row.createdAt, row.updatedAt = now, now
		edit(&row)
		if old.card != nil {
			c := *old.card
			row.card = &c
		}
		del[old.id] = true
		dirty[ref.a] = true
		ch.touch(ref.a)
		ch.deleted[ref.a] = append(ch.deleted[ref.a], old.id.String())
		ch.created[ref.a] = append(ch.created[ref.a], row)
		added = append(added, row)
		owners = append(owners, ref.a)
		oldIDs = append(oldIDs, old.id.String())
		newIDs = append(newIDs, row.id.String())
	}
	removeRows(dirty, del)
	for i, row := range added {
		owners[i].rows = append(owners[i].rows, row)
	}
	return oldIDs, newIDs
}

// updateSuffixes are appended to descriptions by UpdateInPlace, the way
// enrichment refines a merchant's name.
var updateSuffixes = []string{" - São Paulo BR", " - Rio de Janeiro BR", " - Belo Horizonte BR", " (compra aprovada)"}

// UpdateInPlace changes the description and category of up to n rows dated
// within the last 5 days, keeping their ids and bumping updatedAt: Pluggy's
// in-place update, which createdAtFrom does not reveal.
func (s *Server) UpdateInPlace(n int) []string {
	var ids []string
	s.mutation(func(now int64, dirty map[*account]bool, ch *changes) {
		picked := s.choose(s.candidates(func(a *account, t *txn) bool {
			return t.date >= now-5*msPerDay && t.date <= now
		}), n)
		for _, ref := range picked {
			ids = append(ids, s.updateRow(ref, now, ch))
		}
	})
	return ids
}

// UpdateAccount changes, as UpdateInPlace does, up to n rows of one
// account whatever their date, and returns their ids (nil for an unknown
// account): a bank re-categorising a whole history at once. Pluggy
// announces such a change in transactions/updated events of at most 400
// ids each (changelog 2026.08, pluggy-api.md §12), so more than 400 rows
// make several events for one account.
func (s *Server) UpdateAccount(accountID string, n int) []string {
	id, ok := parseUUID(accountID)
	if !ok {
		return nil
	}
	var ids []string
	s.mutation(func(now int64, _ map[*account]bool, ch *changes) {
		a := s.accountsByID[id]
		if a == nil {
			return
		}
		var refs []rowRef
		for i := range a.rows {
			refs = append(refs, rowRef{a, i})
		}
		for _, ref := range s.choose(refs, n) {
			ids = append(ids, s.updateRow(ref, now, ch))
		}
	})
	return ids
}

// updateRow gives a row a new description suffix and category and bumps
// its updatedAt, keeping its id, and returns the id.
func (s *Server) updateRow(ref rowRef, now int64, ch *changes) string {
	t := &ref.a.rows[ref.i]
	t.desc += updateSuffixes[s.mutRNG.IntN(len(updateSuffixes))]
	c := int16(s.mutRNG.IntN(len(categories) - 1))
	if c >= t.category && t.category >= 0 {
		c++
	}
	t.category = c
	t.updatedAt = now
	ch.touch(ref.a)
	ch.updated[ref.a] = append(ch.updated[ref.a], t.id.String())
	return t.id.String()
}

// Delete removes up to n rows dated within the last 7 days (not future
// installments) and returns their ids: plain deletions, visible to a
// consumer only by re-reading a window and diffing ids, or by webhook.
func (s *Server) Delete(n int) []string {
	return s.deleteWhere(n, func(now int64, t *txn) bool { return t.date >= now-7*msPerDay && t.date <= now })
}

// DeleteIDs removes the rows with these ids and returns those it found: a
// test deletes exactly the rows it knows a run emitted.
func (s *Server) DeleteIDs(ids []string) []string {
	want := idSet(ids)
	return s.deleteWhere(len(ids), func(_ int64, t *txn) bool { return want[t.id.String()] })
}

// DeleteRecentAmong removes up to n of the rows with these ids that are
// dated within age before now (not future installments), and returns
// their ids: a test deletes rows it knows an output holds, inside the
// window a run re-reads.
func (s *Server) DeleteRecentAmong(ids []string, n int, age time.Duration) []string {
	want := idSet(ids)
	return s.deleteWhere(n, func(now int64, t *txn) bool {
		return want[t.id.String()] && t.date >= now-age.Milliseconds() && t.date <= now
	})
}

// AnnounceDeletion publishes transactions/deleted for up to n rows of any
// date and keeps serving them, and returns their ids: Pluggy's protection
// against improper deletions during bank instability (changelog 2026.08,
// pluggy-api.md §12) means a deletion it announced may not be final, so a
// consumer must confirm one before reporting it.
func (s *Server) AnnounceDeletion(n int) []string {
	var ids []string
	s.mutation(func(_ int64, _ map[*account]bool, ch *changes) {
		for _, ref := range s.choose(s.candidates(func(*account, *txn) bool { return true }), n) {
			id := ref.a.rows[ref.i].id.String()
			ch.touch(ref.a)
			ch.deleted[ref.a] = append(ch.deleted[ref.a], id)
			ids = append(ids, id)
		}
	})
	return ids
}

func idSet(ids []string) map[string]bool {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	return want
}

// DeleteOlder removes up to n rows dated more than age ago: deletions no
// re-read window reaches (Pluggy fixing an improper deletion, a bank
// dropping an old duplicate), which only the webhook reveals.
func (s *Server) DeleteOlder(n int, age time.Duration) []string {
	return s.deleteWhere(n, func(now int64, t *txn) bool { return t.date < now-age.Milliseconds() })
}

func (s *Server) deleteWhere(n int, pred func(now int64, t *txn) bool) []string {
	var ids []string
	s.mutation(func(now int64, dirty map[*account]bool, ch *changes) {
		picked := s.choose(s.candidates(func(a *account, t *txn) bool { return pred(now, t) }), n)
		del := map[uuid]bool{}
		for _, ref := range picked {
			id := ref.a.rows[ref.i].id
			del[id] = true
			dirty[ref.a] = true
			ch.touch(ref.a)
			ch.deleted[ref.a] = append(ch.deleted[ref.a], id.String())
			ids = append(ids, id.String())
		}
		if s.removed == nil {
			s.removed = map[uuid]removedRow{}
		}
		for _, ref := range picked {
			t := ref.a.rows[ref.i]
			s.removed[t.id] = removedRow{a: ref.a, t: t}
		}
		removeRows(dirty, del)
	})
	return ids
}

// removedRow is a row a deletion took out, and its account.
type removedRow struct {
	a *account
	t txn
}

// Restore serves again, under their ids, the rows with these ids that a
// deletion (Delete, DeleteIDs, DeleteOlder, ...) took out, with updatedAt
// now and everything else as before, announced as transactions/updated;
// it returns the ids it restored. It is Pluggy undoing a deletion made
// during bank instability (changelog 2026.08, pluggy-api.md §12): a
// consumer that already reported the row deleted must take it back.
func (s *Server) Restore(ids []string) []string { return s.restore(ids, true) }

// RestoreUnchanged is Restore with each row's updatedAt as it was before
// its deletion: whether Pluggy moves updatedAt on when it undoes a deletion
// is not documented (pluggy-api.md §12 says only that a deletion seen
// during bank instability may not be final), and a consumer must take the
// row back either way.
func (s *Server) RestoreUnchanged(ids []string) []string { return s.restore(ids, false) }

// restore is Restore, with updatedAt now if bump, else as it was.
func (s *Server) restore(ids []string, bump bool) []string {
	var restored []string
	s.mutation(func(now int64, dirty map[*account]bool, ch *changes) {
		for _, id := range ids {
			u, ok := parseUUID(id)
			if !ok {
				continue
			}
			r, ok := s.removed[u]
			if !ok {
				continue
			}
			delete(s.removed, u)
			if bump {
				r.t.updatedAt = now
			}
			r.a.rows = append(r.a.rows, r.t)
			dirty[r.a] = true
			ch.touch(r.a)
			ch.updated[r.a] = append(ch.updated[r.a], id)
			restored = append(restored, id)
		}
	})
	return restored
}

// CloseBill closes the current bill of every credit card account the way
// Pluggy restates card rows then (reference pluggy-api.md §12): each
// posted row dated within the last 30 days (the cycle; not future
// instalments) is deleted and created again under a new id, same content,
// createdAt now. Nothing links the two ids except the returned slices,
// which are index-aligned. A consumer whose re-read window is shorter than
// the cycle never sees the older deletions and counts that spending twice.
func (s *Server) CloseBill() (oldIDs, newIDs []string) {
	s.mutation(func(now int64, dirty map[*account]bool, ch *changes) {
		picked := s.candidates(func(a *account, t *txn) bool {
			return a.kind == kindCard && t.flags&flagPending == 0 && t.date >= now-30*msPerDay && t.date <= now
		})
		oldIDs, newIDs = s.recreate(picked, now, dirty, ch, func(*txn) {})
	})
	return oldIDs, newIDs
}

package source

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"time"
)

// partOutput is a stream's Output as one partition's reader sees it: its
// logger names the partition.
type partOutput struct {
	Output
	log *slog.Logger
}

func (o partOutput) Logger() *slog.Logger { return o.log }

// Partitions is the state of a stream read partition by partition (an
// account, an investment, a requisition), each with its own cursor: the
// runtime reads the partitions with bounded concurrency, records each
// one's new cursor as it finishes and checkpoints the whole state, so a
// provider only says how to read one partition from its cursor.
//
// A checkpoint is made after every partition that returns a cursor (unless
// Throttle says not yet) and once more at the end, after every partition
// has finished: partitions that failed keep their previous cursor, so that
// last state is right for a partial run too. Identical consecutive states
// are dropped by the Output.
type Partitions[C any] struct {
	// Keys names the partitions, in the order they are started.
	Keys []string
	// Attr is the log attribute a partition's key is given ("account",
	// "investment"); "partition" when empty.
	Attr string
	// Cursors is the state's cursor of each partition, by key. The runtime
	// updates it as partitions finish; a nil map is made.
	Cursors map[string]*C
	// Limit is how many partitions are read at once (at least one).
	Limit int
	// State returns the whole state to checkpoint, which holds Cursors. It
	// is called with no partition updating the cursors.
	State func() any
	// Throttle, when not nil, is called after a partition's cursor changed
	// from prev to next (prev nil for a first one) and reports whether to
	// skip this checkpoint: a state weighing megabytes is not written after
	// every one of thousands of accounts.
	Throttle func(key string, prev, next *C) bool
	// AnnounceEvery, when not nil, is how far apart announcements must be
	// (0: no spacing); it is called with the cursors not changing, as
	// Throttle is. An announcement must go out before its partition's
	// next records, so it cannot be skipped like a checkpoint: one that
	// comes sooner waits, and the first of those waiting to wake emits the
	// state, which holds all of theirs. Without it, each partition with
	// new ids announced at least once, each time the whole state: a first
	// sync of thousands of accounts wrote a number of bytes quadratic in
	// their count.
	AnnounceEvery func() time.Duration

	mu        sync.Mutex        // guards Cursors while Read runs
	outErr    error             // the first failed checkpoint
	changes   uint64            // announcements made to Cursors
	announced uint64            // changes the last announcement emitted holds
	marks     map[string]uint64 // each partition's change at its last TryAnnounce
	lastAnn   time.Time         // when it was emitted
}

// Read runs read for every partition, Limit at a time, with the
// partition's output (out, whose Logger adds the partition's key as
// attribute Attr), its index and its cursor (nil when it has none). read returns the
// partition's next cursor, or nil to keep the one it has; a cursor is
// recorded even when read also returns an error (a partition that
// committed part of its work). The error joins the partitions' errors
// (every partition runs; see Each); a failed checkpoint (stdout gone) is
// returned alone.
func (p *Partitions[C]) Read(ctx context.Context, out Output, read func(ctx context.Context, out Output, i int, prev *C) (*C, error)) error {
	if p.Cursors == nil {
		p.Cursors = map[string]*C{}
	}
	readErr := Each(ctx, p.Limit, len(p.Keys), func(ctx context.Context, i int) error {
		key := p.Keys[i]
		p.mu.Lock()
		prev := p.Cursors[key]
		p.mu.Unlock()
		part := partOutput{out, out.Logger().With(cmp.Or(p.Attr, "partition"), key)}
		next, err := read(withLog(ctx, part.log), part, i, prev)
		if next == nil {
			return err
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		old := p.Cursors[key]
		p.Cursors[key] = next
		if p.Throttle != nil && p.Throttle(key, old, next) {
			return err
		}
		if cerr := p.checkpoint(out); cerr != nil {
			return cerr
		}
		return err
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.checkpoint(out); err != nil {
		return err
	}
	if p.outErr != nil {
		return p.outErr
	}
	return readErr
}

// checkpoint emits the state; p.mu is held.
func (p *Partitions[C]) checkpoint(out Output) error {
	return p.failed(out.Checkpoint(p.State()))
}

func (p *Partitions[C]) failed(err error) error {
	if err != nil && p.outErr == nil {
		p.outErr = err
	}
	return err
}

// TryAnnounce is Announce for a read that has something else to do than
// wait: it records announce(cursor) as Announce does, and emits the state
// only when AnnounceEvery lets it now. It reports whether it emitted; when
// it did not, the rows the announcement is for must wait, and the read
// calls it again later (with what it has to announce by then) or calls
// Announce. A checkpoint that goes out meanwhile holds the recorded
// announcement too, but a checkpoint may be held back by a sink, so only
// an emitted announcement lets the rows go.
func (p *Partitions[C]) TryAnnounce(out Output, key string, announce func(cur *C) *C) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Cursors[key] = announce(p.Cursors[key])
	p.changes++
	if p.marks == nil {
		p.marks = map[string]uint64{}
	}
	p.marks[key] = p.changes
	if p.AnnounceEvery != nil && p.AnnounceEvery() > time.Since(p.lastAnn) {
		return false, nil
	}
	p.announced, p.lastAnn = p.changes, time.Now()
	return true, p.failed(out.Announce(p.State()))
}

// Announced reports whether an announcement emitted since partition key's
// last TryAnnounce holds what that call recorded: another partition's
// announcement carries the whole state, so a partition whose own try was
// refused may find its rows announced all the same.
func (p *Partitions[C]) Announced(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	mark, ok := p.marks[key]
	return ok && p.announced >= mark
}

// Announce replaces partition key's cursor with announce(cursor) while the
// partition is being read, and emits the state at once as an announcement
// (see Output.Announce): announce returns a cursor with the same progress
// as the one it is given (nil for a partition without one yet), plus what
// the rows about to be emitted need the state to hold before they go out
// (their ids, so a later run can tell which of them vanished). A read that
// then fails keeps that cursor; one that succeeds replaces it with the
// cursor it returns. Call it from read only, for the partition being read.
// With AnnounceEvery, it may wait (until ctx ends) for the state to go out.
func (p *Partitions[C]) Announce(ctx context.Context, out Output, key string, announce func(cur *C) *C) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Cursors[key] = announce(p.Cursors[key])
	p.changes++
	mine := p.changes
	for p.AnnounceEvery != nil {
		wait := p.AnnounceEvery() - time.Since(p.lastAnn)
		if wait <= 0 {
			break
		}
		p.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			p.mu.Lock()
			return ctx.Err()
		case <-t.C:
		}
		p.mu.Lock()
		if p.announced >= mine {
			return p.outErr // another partition's announcement held this one
		}
	}
	p.announced, p.lastAnn = p.changes, time.Now()
	return p.failed(out.Announce(p.State()))
}

package eventlog

import (
	"fmt"
	"runtime/debug"
	"sync"
)

// Group commits concurrent calls together: a call that comes while a
// commit is under way waits, with every other call that comes meanwhile,
// and the next commit takes them all at once, so that N concurrent
// appends cost about as many fsyncs (or transaction commits) as there
// were commits under way while they came, not N.
//
// Serialised appends, one fsync each, answer the last of a burst after
// the sum of every fsync before it: a few hundred concurrent deliveries
// on a disk whose fsync takes 5 to 20 ms (a network volume) would keep
// the last ones past the 5 s in which Pluggy wants its 2xx, and Pluggy
// would deliver them again. Grouped, each waits for at most the commit
// under way and its own.
//
// A call returns only once the commit that holds it has returned: what it
// returns for the call is the call's answer. Commits never overlap. No
// call waits for a commit begun after its own: the caller that commits a
// batch returns once it is done, and hands the next batch to one of the
// callers waiting in it.
//
// A Commit that panics fails the group for good: every call of its batch,
// every call waiting for the next one and every later call is answered
// with a *PanicError, at once, and Commit is never called again (Err
// returns the error). Before, the panic went up the committing caller
// alone (net/http recovers a handler's panic) and left the group leading
// a batch that never ended: every waiting call, and every later one, hung
// for as long as the process ran. The group is not left usable, with the
// next batch handed to Commit as if nothing had happened, because a panic
// is a bug whose half-done work the group cannot see (a line partly
// written to a segment, which the next line would be glued to and every
// reader would skip; a transaction half sent): what a production operator
// wants is every delivery answered at once with an error the sender
// retries (503), and the receiver stopped and started again by its
// supervisor, which begins a new segment or session, as after a crash.
type Group[In, Out any] struct {
	// Commit does the work of a batch of calls, in the order they came,
	// and returns each one's answer (outs and errs as long as ins).
	Commit func(ins []In) (outs []Out, errs []error)

	mu      sync.Mutex
	queue   []*call[In, Out]
	leading bool
	failed  *PanicError
}

// PanicError answers the calls of a Group whose Commit panicked.
type PanicError struct {
	// Value is what Commit panicked with, Stack where.
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("a commit of appends panicked (%v): the log takes no more appends until the process is started again", e.Value)
}

// Err returns the group's *PanicError once a Commit panicked, else nil.
func (g *Group[In, Out]) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failed == nil {
		return nil
	}
	return g.failed
}

type call[In, Out any] struct {
	in   In
	out  Out
	err  error
	done chan struct{} // closed once out and err are set
	lead chan struct{} // this call commits the next batch
}

// Do adds in to the next batch and returns its answer once the batch is
// committed.
func (g *Group[In, Out]) Do(in In) (Out, error) {
	c := &call[In, Out]{in: in, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	g.mu.Lock()
	if g.failed != nil {
		g.mu.Unlock()
		var zero Out
		return zero, g.failed
	}
	g.queue = append(g.queue, c)
	if g.leading {
		g.mu.Unlock()
		select {
		case <-c.done:
			return c.out, c.err
		case <-c.lead:
		}
		g.mu.Lock()
	}
	g.leading = true
	batch := g.queue
	g.queue = nil
	g.mu.Unlock()

	failed := g.commit(batch)

	g.mu.Lock()
	var waiting []*call[In, Out]
	switch {
	case failed != nil:
		g.failed = failed
		waiting, g.queue = g.queue, nil
		for _, b := range append(batch, waiting...) {
			var zero Out
			b.out, b.err = zero, failed
		}
		g.leading = false
	case len(g.queue) > 0:
		g.queue[0].lead <- struct{}{}
	default:
		g.leading = false
	}
	g.mu.Unlock()
	for _, b := range append(batch, waiting...) {
		close(b.done)
	}
	return c.out, c.err
}

// commit runs Commit on batch and sets each call's answer, or returns the
// *PanicError of a Commit that panicked (or answered a batch with fewer
// answers than calls).
func (g *Group[In, Out]) commit(batch []*call[In, Out]) (failed *PanicError) {
	defer func() {
		if v := recover(); v != nil {
			failed = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	ins := make([]In, len(batch))
	for i, b := range batch {
		ins[i] = b.in
	}
	outs, errs := g.Commit(ins)
	for i, b := range batch {
		b.out, b.err = outs[i], errs[i]
	}
	return nil
}

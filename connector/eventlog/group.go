package eventlog

import "sync"

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
type Group[In, Out any] struct {
	// Commit does the work of a batch of calls, in the order they came,
	// and returns each one's answer (outs and errs as long as ins).
	Commit func(ins []In) (outs []Out, errs []error)

	mu      sync.Mutex
	queue   []*call[In, Out]
	leading bool
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

	ins := make([]In, len(batch))
	for i, b := range batch {
		ins[i] = b.in
	}
	outs, errs := g.Commit(ins)
	for i, b := range batch {
		b.out, b.err = outs[i], errs[i]
	}

	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].lead <- struct{}{}
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	for _, b := range batch {
		close(b.done)
	}
	return c.out, c.err
}

package source

import (
	"errors"
	"sync"
)

// Part is one stream's share of an answer that several streams read (an
// account's transactions call gives its booked rows to one stream and its
// pending rows to another): it is held until that stream takes it, and
// forgotten then. A Memo keeps its answers for the whole run, so without
// Part the rows of every account stayed in memory to the end of it: a first
// sync of 189,407 GoCardless rows from 20 requisitions peaked at 278 MB,
// where the rows of the accounts being read suffice.
type Part[T any] struct {
	mu    sync.Mutex
	v     T
	state partState
}

type partState uint8

const (
	partHeld partState = iota
	partTaken
	partDropped
)

// NewPart holds v for the stream that will take it, or, when no stream of
// the run will (keep is false; see Plan), drops it at once.
func NewPart[T any](v T, keep bool) *Part[T] {
	if !keep {
		return &Part[T]{state: partDropped}
	}
	return &Part[T]{v: v}
}

// ErrPartGone is Take's error for a part already taken, or dropped because
// the run's plan did not read its stream: a stream that reads a part twice,
// or one outside the plan, has a bug the run must not hide as "no rows".
var ErrPartGone = errors.New("this part of a shared answer was already read in this run, or dropped as no stream of the run reads it")

// Take returns the part and forgets it.
func (p *Part[T]) Take() (T, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var zero T
	if p.state != partHeld {
		return zero, ErrPartGone
	}
	v := p.v
	p.v, p.state = zero, partTaken
	return v, nil
}

// ReadPlanner is implemented by a Conn whose streams share answers (see
// Part). Before the first stream is read, the runtime tells it the streams
// the catalog selects, so it keeps no part for a stream the run does not
// read.
type ReadPlanner interface {
	PlanRead(streams []string)
}

// RequestPlanner is implemented by a Conn whose shared answer is sized by
// a stream other than the first to ask for it: a pending stream read
// before the booked stream it shares a transactions call with cannot know,
// from its own request, how far back the booked stream will need that call
// to reach. Before the first stream is read, after the checks of the input
// states, the runtime gives it the request each selected stream will be
// read with (its mode, and its state when incremental), so the first
// stream to ask sizes the call for both, and no second call is made.
type RequestPlanner interface {
	PlanRequests(reqs map[string]ReadRequest)
}

// Plan is a Conn's record of the streams its run reads, the ReadPlanner
// half a Conn embeds. The zero Plan, never told (a stream read outside the
// runtime, in tests), reads every stream.
type Plan struct {
	streams map[string]bool
}

// PlanRead implements ReadPlanner. It is called once, before any stream is
// read.
func (p *Plan) PlanRead(streams []string) {
	p.streams = make(map[string]bool, len(streams))
	for _, s := range streams {
		p.streams[s] = true
	}
}

// Reads reports whether the run reads stream.
func (p *Plan) Reads(stream string) bool { return p.streams == nil || p.streams[stream] }

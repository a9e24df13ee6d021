// Package logattr makes a log line say each attribute once. A logger
// handed down with an id (a partition's "account", say) meets call sites
// that name the same id again, because they are also called outside that
// logger's scope; slog's handlers write both, so a line read
// "account=X account=X requisition=Y". Unique merges them in the handlers
// every LOG message (source.NewLogHandler) and every connect line on
// stderr is written with, instead of at each call site, which could not
// know what its logger already says.
package logattr

import (
	"context"
	"log/slog"
	"slices"
)

// Unique returns a handler that passes next every record with the
// attributes of its logger (With, WithGroup) and its own flattened into
// one list, a group's members keyed "group.key", in which a key appears
// once: where it first appeared (so the ids a logger is made with stay
// first), with the value it was last given (the call site's, the more
// specific). next receives no WithAttrs or WithGroup calls, only records
// whose attributes are all top-level and all distinct.
func Unique(next slog.Handler) slog.Handler {
	if u, ok := next.(*unique); ok {
		return u
	}
	return &unique{next: next}
}

type unique struct {
	next   slog.Handler
	attrs  []slog.Attr // flattened, one per key, in order
	prefix string      // the open groups, "g.h."
}

func (u *unique) Enabled(ctx context.Context, l slog.Level) bool { return u.next.Enabled(ctx, l) }

func (u *unique) Handle(ctx context.Context, r slog.Record) error {
	attrs := u.attrs // shared: read only
	if r.NumAttrs() > 0 {
		attrs = slices.Clone(u.attrs)
		r.Attrs(func(a slog.Attr) bool {
			attrs = merge(attrs, u.prefix, a)
			return true
		})
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(attrs...)
	return u.next.Handle(ctx, out)
}

func (u *unique) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return u
	}
	c := *u
	c.attrs = slices.Clone(u.attrs)
	for _, a := range as {
		c.attrs = merge(c.attrs, c.prefix, a)
	}
	return &c
}

func (u *unique) WithGroup(name string) slog.Handler {
	if name == "" {
		return u
	}
	c := *u
	c.prefix += name + "."
	return &c
}

// merge adds a to attrs, which it owns, as slog's rules read it: an empty
// attribute is dropped, a group's members are added under its name (a
// group without one is inlined), and a key attrs already has takes a's
// value in its place.
func merge(attrs []slog.Attr, prefix string, a slog.Attr) []slog.Attr {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return attrs
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, m := range a.Value.Group() {
			attrs = merge(attrs, p, m)
		}
		return attrs
	}
	a.Key = prefix + a.Key
	if i := slices.IndexFunc(attrs, func(b slog.Attr) bool { return b.Key == a.Key }); i >= 0 {
		attrs[i].Value = a.Value
		return attrs
	}
	return append(attrs, a)
}

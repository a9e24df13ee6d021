package logattr

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestUniqueSaysEachKeyOnce: a key the logger was made with and the call
// site names again is written once, where it first came, with the call
// site's value; groups are flattened to "group.key", which is another key.
func TestUniqueSaysEachKeyOnce(t *testing.T) {
	var buf bytes.Buffer
	text := slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
			return slog.Attr{}
		}
		return a
	}})
	log := slog.New(Unique(text)).With("stream", "transactions").With("account", "a-1")
	cases := []struct {
		log  func()
		want string
	}{
		{func() { log.Warn("spent", "account", "a-1", "requisition", "r-1", "endpoint", "transactions") },
			`msg=spent stream=transactions account=a-1 requisition=r-1 endpoint=transactions`},
		{func() { log.Info("moved", "account", "a-2", "n", 1, "n", 2) },
			`msg=moved stream=transactions account=a-2 n=2`},
		{func() { log.With("n", 1).WithGroup("http").Info("retry", "account", "x", slog.Group("", "n", 3)) },
			`msg=retry stream=transactions account=a-1 n=1 http.account=x http.n=3`},
		{func() { log.Info("inline", slog.Group("", "account", "a-3"), slog.Group("empty"), slog.Attr{}) },
			`msg=inline stream=transactions account=a-3`},
		{func() { slog.New(Unique(Unique(text))).With("k", 1).Info("twice", "k", 2) },
			`msg=twice k=2`},
	}
	for _, c := range cases {
		buf.Reset()
		c.log()
		if got := strings.TrimSpace(buf.String()); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

// TestUniqueLeavesItsLoggerAlone: a record's attributes are not kept in
// the logger that wrote it, nor in a sibling made from the same parent.
func TestUniqueLeavesItsLoggerAlone(t *testing.T) {
	var got []string
	h := recordHandler(func(r slog.Record) {
		var b strings.Builder
		r.Attrs(func(a slog.Attr) bool {
			b.WriteString(" " + a.Key + "=" + a.Value.String())
			return true
		})
		got = append(got, r.Message+b.String())
	})
	parent := slog.New(Unique(h)).With("a", 1, "b", 2)
	one, two := parent.With("c", 3), parent.With("b", 4)
	one.Info("one", "a", 5)
	two.Info("two")
	parent.Info("parent")
	want := []string{"one a=5 b=2 c=3", "two a=1 b=4", "parent a=1 b=2"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

type recordHandler func(slog.Record)

func (f recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (f recordHandler) Handle(_ context.Context, r slog.Record) error {
	f(r)
	return nil
}

func (f recordHandler) WithAttrs([]slog.Attr) slog.Handler {
	panic("WithAttrs reached the wrapped handler")
}

func (f recordHandler) WithGroup(string) slog.Handler { panic("WithGroup reached the wrapped handler") }

package source

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// NewLogHandler returns the slog.Handler of a run: every record becomes one
// LOG message of the run's encoder (an Airbyte LOG, or a Singer stderr
// line), which masks every secret it knows, so logs and data share one
// ordered stream. The message is followed by its attributes as key=value;
// a "stream" attribute leads it instead ("transactions: message"), as the
// runtime's stream logs have always read.
func NewLogHandler(enc Encoder) slog.Handler { return &logHandler{enc: enc} }

// StreamKey is the attribute naming the stream a log is about; loggers
// handed to a stream's reader carry it.
const StreamKey = "stream"

type logHandler struct {
	enc    Encoder
	stream string
	attrs  string // rendered " key=value" pairs, in order
	group  string // the open group's prefix, "g."
}

func (h *logHandler) Enabled(context.Context, slog.Level) bool { return h.enc != nil }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	stream := h.stream
	attrs := h.attrs
	r.Attrs(func(a slog.Attr) bool {
		if h.group == "" && a.Key == StreamKey {
			stream = a.Value.String()
		} else {
			attrs += renderAttr(h.group, a)
		}
		return true
	})
	if stream != "" {
		b.WriteString(stream)
		b.WriteString(": ")
	}
	b.WriteString(r.Message)
	b.WriteString(attrs)
	return h.enc.Log(levelOf(r.Level), b.String())
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	for _, a := range as {
		if c.group == "" && a.Key == StreamKey {
			c.stream = a.Value.String()
			continue
		}
		c.attrs += renderAttr(c.group, a)
	}
	return &c
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.group += name + "."
	return &c
}

// renderAttr renders one attribute as " key=value", quoting a value that
// would not read as one word.
func renderAttr(group string, a slog.Attr) string {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return ""
	}
	if a.Value.Kind() == slog.KindGroup {
		var s string
		for _, g := range a.Value.Group() {
			s += renderAttr(group+a.Key+".", g)
		}
		return s
	}
	v := a.Value.String()
	if v == "" || strings.ContainsAny(v, " =\"\n\t") {
		v = strconv.Quote(v)
	}
	return " " + group + a.Key + "=" + v
}

func levelOf(l slog.Level) protocol.Level {
	switch {
	case l >= slog.LevelError:
		return protocol.LevelError
	case l >= slog.LevelWarn:
		return protocol.LevelWarn
	case l >= slog.LevelInfo:
		return protocol.LevelInfo
	}
	return protocol.LevelDebug
}

func slogLevel(l protocol.Level) slog.Level {
	switch l {
	case protocol.LevelFatal, protocol.LevelError:
		return slog.LevelError
	case protocol.LevelWarn:
		return slog.LevelWarn
	case protocol.LevelDebug:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// Logger is the run's logger as providers get it in Env: printf-style
// helpers over a *slog.Logger whose handler is NewLogHandler's.
type Logger struct {
	l *slog.Logger
}

// NewLogger returns a Logger writing through enc.
func NewLogger(enc Encoder) *Logger { return &Logger{l: slog.New(NewLogHandler(enc))} }

type loggerKey struct{}

// Slog returns the underlying structured logger (a discarding one for a nil
// Logger), for attributes: log.Slog().Warn("msg", "account", id).
func (l *Logger) Slog() *slog.Logger {
	if l == nil || l.l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.l
}

func (l *Logger) log(level protocol.Level, msg string) {
	l.Slog().Log(context.Background(), slogLevel(level), msg)
}

// Infof logs at INFO.
func (l *Logger) Infof(format string, args ...any) {
	l.log(protocol.LevelInfo, fmt.Sprintf(format, args...))
}

// Warnf logs at WARN: something the user should look at that does not stop the read.
func (l *Logger) Warnf(format string, args ...any) {
	l.log(protocol.LevelWarn, fmt.Sprintf(format, args...))
}

// Errorf logs at ERROR.
func (l *Logger) Errorf(format string, args ...any) {
	l.log(protocol.LevelError, fmt.Sprintf(format, args...))
}

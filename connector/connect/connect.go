// Package connect is the provider-agnostic half of the `connect` commands,
// which turn a bank login in the user's browser into the ids a config needs
// (Pluggy item ids, GoCardless requisition ids): the shared flags, a
// loopback web server bound to one run, opening the browser, waiting with a
// timeout, the one JSON line of the result, and the atomic config edit of
// --write. A provider supplies only its own API calls and page.
package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/source-pluggy/source-pluggy/connector/internal/logattr"
	"github.com/source-pluggy/source-pluggy/connector/secret"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// DefaultTimeout bounds a whole connect run: a bank login with two-factor
// steps takes minutes, and GoCardless consents can sit in UA for a while.
const DefaultTimeout = 15 * time.Minute

// Session is one connect run as a provider sees it.
type Session struct {
	Runner *source.Runner
	// ConfigPath is --config; Config its content, validated against the spec.
	ConfigPath string
	Config     json.RawMessage
	// ListField is the config's list of connections (item_ids, ...).
	ListField string
	// Secrets holds the config's secrets and every credential the run
	// obtains; all text printed goes through it.
	Secrets *secret.Redactor
	// Write is --write: add what was connected to the config.
	Write  bool
	NoOpen bool
	Listen string
	// Timeout is --timeout; the run's context ends then.
	Timeout time.Duration

	Stdout, Stderr io.Writer
	server         *Server
	// fixedRedirect is the path of a redirect URL the provider checks
	// against the ones registered in advance (FixedRedirect); "" when the
	// port is free to choose.
	fixedRedirect string
	// ended is closed once the run's outcome (err) is known, for the pages
	// that wait for it (see Outcome).
	endOnce sync.Once
	ended   chan struct{}
	err     error
}

// OutcomeWait bounds how long a page waits for the run's outcome before it
// answers that the outcome is not known yet: a GoCardless requisition can
// sit in UA for a while, and a browser gives up on a silent page.
var OutcomeWait = 2 * time.Minute

// UsageError is a bad combination of flags: exit code 2 with the message.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error { return &UsageError{fmt.Sprintf(format, args...)} }

// Option changes how Command runs for one provider.
type Option func(*Session)

// FixedRedirect says the provider's redirect URL is
// http://127.0.0.1:PORT + path and must be one registered with the
// application in advance (Enable Banking): a --listen port in use is then
// not to be swapped for any free one, which no registration names.
func FixedRedirect(path string) Option { return func(s *Session) { s.fixedRedirect = path } }

// Command makes the `connect` command of r. define adds the provider's
// flags; run does the provider's part under a context that ends at
// --timeout. An error from run is printed on stderr (redacted) with exit 1.
//
// listField is the config's id list (item_ids, requisition_ids): the config
// may lack it or have it empty, since connect is how it gets its first id.
func Command(r *source.Runner, summary, listField string, define func(fs *pflag.FlagSet), run func(ctx context.Context, s *Session) error, opts ...Option) source.Command {
	return source.Command{
		Name:    "connect",
		Summary: summary,
		Run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			s := &Session{Runner: r, ListField: listField, Secrets: &secret.Redactor{}, Stdout: stdout, Stderr: stderr, ended: make(chan struct{})}
			for _, o := range opts {
				o(s)
			}
			code, ok := r.ParseFlags("connect", summary, args, stdout, stderr, func(fs *pflag.FlagSet) {
				fs.StringVar(&s.ConfigPath, "config", "", "config JSON file (its credentials are used; the page never sees them)")
				fs.BoolVar(&s.Write, "write", false, "add the connection to the config file once it succeeded (atomic; other fields and the file mode are kept)")
				fs.BoolVar(&s.NoOpen, "no-open", false, "do not open the system browser; open the printed URL yourself")
				fs.StringVar(&s.Listen, "listen", "127.0.0.1:0", "loopback address of the local page (port 0: a free one)")
				fs.DurationVar(&s.Timeout, "timeout", DefaultTimeout, "give up after this long (e.g. 90s, 20m)")
				if define != nil {
					define(fs)
				}
			}, "config")
			if !ok {
				return code
			}
			name := r.Source.Name()
			err := s.run(ctx, run)
			var ue *UsageError
			switch {
			case err == nil:
				return source.ExitOK
			case errors.As(err, &ue):
				fmt.Fprintf(stderr, "%s connect: %s\n", name, s.Secrets.String(ue.Msg))
				return source.ExitUsage
			default:
				fmt.Fprintf(stderr, "%s connect: %s\n", name, s.Secrets.String(err.Error()))
				return source.ExitFail
			}
		},
	}
}

func (s *Session) run(ctx context.Context, run func(ctx context.Context, s *Session) error) error {
	if s.Timeout <= 0 {
		return Usagef("--timeout must be positive, e.g. 10m")
	}
	// --listen is checked, and its port bound and kept for the run, before
	// the provider's part makes its first API call: a bad or busy --listen
	// is a usage error (exit 2) and must cost nothing at the provider (a
	// GoCardless end-user agreement, a Pluggy connect token).
	srv, err := Listen(s.Listen)
	if errors.Is(err, ErrPortInUse) && s.fixedRedirect != "" {
		return Usagef("--listen %s: %v (by another program, or a connect run still waiting); stop that and run again, or register http://127.0.0.1:OTHER%s (OTHER a free port) with the application and pass --listen 127.0.0.1:OTHER: the redirect must be a registered URL, so any free port will not do", s.Listen, ErrPortInUse, s.fixedRedirect)
	}
	if err != nil {
		return Usagef("%v", err)
	}
	s.server = srv
	cfg, err := s.Runner.LoadConfig(s.ConfigPath, s.Secrets, s.ListField)
	if err == nil && s.Write {
		// Found after the bank was linked, a config that cannot be
		// rewritten would leave the user a link to add by hand.
		err = CheckWritable(s.ConfigPath)
	}
	if err != nil {
		srv.Close()
		return err
	}
	s.Config = cfg
	signalled := ctx // the binary's context: Ctrl-C or SIGTERM cancels it
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	defer srv.Close()
	err = run(ctx, s)
	switch {
	case err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		err = fmt.Errorf("gave up after --timeout %s: %w", s.Timeout, err)
	case err != nil && errors.Is(err, context.Canceled) && signalled.Err() != nil:
		// "context canceled" alone does not say the user stopped it.
		err = fmt.Errorf("stopped by a signal (Ctrl-C or SIGTERM): %w", err)
	}
	s.end(err) // before the server closes: the pages waiting for it answer
	return err
}

// end records the run's outcome for Outcome, once.
func (s *Session) end(err error) {
	s.endOnce.Do(func() {
		s.err = err
		close(s.ended)
	})
}

// Outcome waits, for a page answering the provider's redirect, until the
// run has ended (or OutcomeWait, or the browser gives up), and says how it
// ended: the redirect only says the user consented at the bank; exchanging
// its code or seeing the requisition linked can still fail, and a page that
// said "done" first would contradict the terminal. done is false when the
// run is still going; err is the run's error, redacted for the page.
func (s *Session) Outcome(ctx context.Context) (done bool, err error) {
	t := time.NewTimer(OutcomeWait)
	defer t.Stop()
	select {
	case <-s.ended:
		if s.err != nil {
			return true, errors.New(s.Secrets.String(s.err.Error()))
		}
		return true, nil
	case <-ctx.Done():
		return false, nil
	case <-t.C:
		return false, nil
	}
}

// Env is the source.Env a provider opens its source with: its logger writes
// the clients' own recoveries (a token signed again) on stderr, redacted,
// as text; connect has no protocol stream for LOG messages, and a nil
// logger would crash the first such line.
func (s *Session) Env() source.Env {
	return source.Env{Log: slog.New(logattr.Unique(&lineHandler{w: redacted{s}})), Secrets: s.Secrets, Version: source.Version, ConfigPath: s.ConfigPath}
}

// lineHandler writes each log record on stderr the way Logf writes the
// command's own lines, read by a person at the terminal, now: the message,
// then its attributes as key=value (quoted when they hold a space), a
// warning or an error marked as one, no time and no level=INFO. Env wraps
// it in logattr.Unique, which hands it every record's attributes flat and
// each key once.
type lineHandler struct {
	w io.Writer
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	}
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		v := a.Value.Resolve().String()
		if v == "" || strings.ContainsAny(v, " \t\n\"=") {
			v = strconv.Quote(v)
		}
		fmt.Fprintf(&b, " %s=%s", a.Key, v)
		return true
	})
	b.WriteByte('\n')
	_, err := io.WriteString(h.w, b.String()) // one call: see redacted
	return err
}

// WithAttrs and WithGroup are not called through Env's logattr.Unique,
// which keeps the logger's attributes; they wrap h the same way for the
// interface's sake.
func (h *lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logattr.Unique(h).WithAttrs(attrs)
}

func (h *lineHandler) WithGroup(name string) slog.Handler { return logattr.Unique(h).WithGroup(name) }

// redacted writes on the session's stderr through its redactor; slog
// writes each record in one call, so no secret is split across two.
type redacted struct{ s *Session }

func (w redacted) Write(b []byte) (int, error) {
	if _, err := io.WriteString(w.s.Stderr, w.s.Secrets.String(string(b))); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Serve returns the run's local server on --listen. Command binds it
// before the provider's part runs (so a bad or busy --listen fails before
// any API call); a Session made without Command binds it here.
func (s *Session) Serve() (*Server, error) {
	if s.server != nil {
		return s.server, nil
	}
	srv, err := Listen(s.Listen)
	if err != nil {
		return nil, Usagef("%v", err)
	}
	s.server = srv
	return srv, nil
}

// Show tells the user to open url (on stderr) and opens it in the system
// browser unless --no-open.
func (s *Session) Show(url, what string) {
	fmt.Fprintf(s.Stderr, "Open %s %s\n", url, what)
	if !s.NoOpen {
		err := OpenBrowser(url)
		if err == nil {
			return
		}
		fmt.Fprintf(s.Stderr, "(could not open a browser: %v; open the URL yourself, or pass --no-open)\n", err)
	}
	if hint := s.sshHint(); hint != "" {
		fmt.Fprintln(s.Stderr, hint)
	}
}

// sshHint is, in an SSH session, how to forward the local server's port
// to the computer whose browser the user opens the URL in: the page and
// the bank's redirect go to 127.0.0.1 of this machine, and without the
// forward a user who consented at the bank (which is reachable from
// anywhere) meets a failed redirect only afterwards, while connect waits
// until --timeout and Enable Banking's single-use code expires. "" outside
// SSH, or before the server is bound.
func (s *Session) sshHint() string {
	conn := os.Getenv("SSH_CONNECTION") // "client_ip client_port server_ip server_port"
	if s.server == nil || (conn == "" && os.Getenv("SSH_TTY") == "") {
		return ""
	}
	_, port, err := net.SplitHostPort(s.server.ln.Addr().String())
	if err != nil {
		return ""
	}
	host, user := "THIS_HOST", os.Getenv("USER")
	if f := strings.Fields(conn); len(f) == 4 {
		host = f[2] // the address the user's ssh reached this machine at
	}
	if user == "" {
		user = "YOUR_USER"
	}
	return fmt.Sprintf("This is an SSH session: the page and the bank's redirect go to port %[1]s of this machine's loopback, not your computer's. Before you open the URL, forward the port from the computer whose browser you use (in a terminal there, left open while connect runs): ssh -N -L %[1]s:127.0.0.1:%[1]s %[3]s@%[2]s (with a fixed --listen 127.0.0.1:%[1]s the port stays the same in later runs)", port, host, user)
}

// Logf prints a progress line on stderr, redacted.
func (s *Session) Logf(format string, args ...any) {
	fmt.Fprintln(s.Stderr, s.Secrets.String(fmt.Sprintf(format, args...)))
}

// Result prints v as the run's one JSON line on stdout.
func (s *Session) Result(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(s.Stdout, "%s\n", b)
	return err
}

// MaskAccountID returns an account identifier (an IBAN, a BBAN, a card's
// PAN, another account number) fit for the result line, which ends up in
// terminals, logs and CI output: its spaces dropped (a formatted IBAN
// would otherwise keep fewer digits hidden) and every character but the
// last 4 replaced by '*'. An identifier of 4 characters or fewer is
// returned without its spaces; "" stays "".
func MaskAccountID(s string) string {
	r := []rune(strings.Join(strings.Fields(s), ""))
	if len(r) <= 4 {
		return string(r)
	}
	return strings.Repeat("*", len(r)-4) + string(r[len(r)-4:])
}

// Wait waits for the first value on ch, or for ctx to end.
func Wait[T any](ctx context.Context, ch <-chan T, what string) (T, error) {
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("still waiting for %s: %w", what, ctx.Err())
	}
}

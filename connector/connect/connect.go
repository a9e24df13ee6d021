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
	"time"

	"github.com/spf13/pflag"

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
}

// UsageError is a bad combination of flags: exit code 2 with the message.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error { return &UsageError{fmt.Sprintf(format, args...)} }

// Command makes the `connect` command of r. define adds the provider's
// flags; run does the provider's part under a context that ends at
// --timeout. An error from run is printed on stderr (redacted) with exit 1.
//
// listField is the config's id list (item_ids, requisition_ids): the config
// may lack it or have it empty, since connect is how it gets its first id.
func Command(r *source.Runner, summary, listField string, define func(fs *pflag.FlagSet), run func(ctx context.Context, s *Session) error) source.Command {
	return source.Command{
		Name:    "connect",
		Summary: summary,
		Run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			s := &Session{Runner: r, ListField: listField, Secrets: &secret.Redactor{}, Stdout: stdout, Stderr: stderr}
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
	cfg, err := s.Runner.LoadConfig(s.ConfigPath, s.Secrets, s.ListField)
	if err != nil {
		return err
	}
	s.Config = cfg
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	defer func() {
		if s.server != nil {
			s.server.Close()
		}
	}()
	err = run(ctx, s)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return fmt.Errorf("gave up after --timeout %s: %w", s.Timeout, err)
	}
	return err
}

// Serve starts the run's local server on --listen.
func (s *Session) Serve() (*Server, error) {
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
	if s.NoOpen {
		return
	}
	if err := OpenBrowser(url); err != nil {
		fmt.Fprintf(s.Stderr, "(could not open a browser: %v; open the URL yourself)\n", err)
	}
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

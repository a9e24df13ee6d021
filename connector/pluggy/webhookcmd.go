package pluggy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/webhook"
	"github.com/source-pluggy/source-pluggy/connector/secret"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// WebhookCommand is `source-pluggy webhook`: serve runs the receiver that
// appends Pluggy's webhook events to a log (a read with webhook_log then
// acts on them); register, list and delete manage the application's
// webhooks at Pluggy.
func WebhookCommand(r *source.Runner) source.Command {
	return source.Command{
		Name:    "webhook",
		Summary: "receive Pluggy webhooks into a log (serve) and manage them (register, list, delete)",
		Run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			if len(args) == 0 {
				webhookUsage(stderr)
				return source.ExitUsage
			}
			switch args[0] {
			case "serve":
				return webhookServe(ctx, args[1:], stdout, stderr)
			case "register":
				return webhookRegister(ctx, r, args[1:], stdout, stderr)
			case "list":
				return webhookList(ctx, r, args[1:], stdout, stderr)
			case "delete":
				return webhookDelete(ctx, r, args[1:], stdout, stderr)
			case "help", "-h", "--help":
				webhookUsage(stdout)
				return source.ExitOK
			}
			fmt.Fprintf(stderr, "source-pluggy webhook: unknown subcommand %q\n\n", args[0])
			webhookUsage(stderr)
			return source.ExitUsage
		},
	}
}

// webhookSynopses are the webhook subcommands' command lines, in the
// order webhook --help lists them; each subcommand's --help starts with
// its own, so that both say the same, ID... of delete included.
var webhookSynopses = []struct{ name, synopsis string }{
	{"serve", "--listen ADDR --log DIR|URL --header NAME=VALUE|--header-env NAME=ENVVAR... [--max-body-bytes N] [--retain DURATION]"},
	{"register", "--config FILE --url URL --header NAME=VALUE|--header-env NAME=ENVVAR... [--update-headers]"},
	{"list", "--config FILE"},
	{"delete", "--config FILE ID..."},
}

func webhookSynopsis(name string) string {
	for _, s := range webhookSynopses {
		if s.name == name {
			return s.synopsis
		}
	}
	return ""
}

func webhookUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage:")
	for _, s := range webhookSynopses {
		fmt.Fprintf(w, "  source-pluggy webhook %-8s %s\n", s.name, s.synopsis)
	}
	fmt.Fprint(w, `
serve appends each authenticated event to the log directory; a read with
webhook_log set to that directory acts on it. Header values are secrets and
are never printed. See docs/webhooks.md.
`)
}

// subFlags parses a webhook subcommand's flags; ok=false ends the command
// with code.
func subFlags(name string, args []string, stdout, stderr io.Writer, define func(*pflag.FlagSet), required ...string) (fs *pflag.FlagSet, code int, ok bool) {
	fs = pflag.NewFlagSet("webhook "+name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	define(fs)
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: source-pluggy webhook %s %s\n\nFlags:\n%s", name, webhookSynopsis(name), fs.FlagUsages())
	}
	if err := source.ParseOnce(fs, args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			usage(stdout)
			return fs, source.ExitOK, false
		}
		fmt.Fprintf(stderr, "source-pluggy webhook %s: %v\n", name, err)
		usage(stderr)
		return fs, source.ExitUsage, false
	}
	if fs.NArg() > 0 && name != "delete" {
		if fs.Lookup("header") != nil {
			// `--header X-Token s3cret` (a space where the = goes) leaves
			// the secret here: it is never repeated.
			fmt.Fprintf(stderr, "source-pluggy webhook %s: %d unexpected argument(s), not shown (after --header NAME it would be the secret); write --header NAME=VALUE as one word (or --header-env NAME=ENVVAR)\n", name, fs.NArg())
		} else {
			fmt.Fprintf(stderr, "source-pluggy webhook %s: unexpected argument %q\n", name, fs.Arg(0))
		}
		usage(stderr)
		return fs, source.ExitUsage, false
	}
	for _, f := range required {
		if !fs.Changed(f) {
			fmt.Fprintf(stderr, "source-pluggy webhook %s: --%s is required\n", name, f)
			usage(stderr)
			return fs, source.ExitUsage, false
		}
	}
	return fs, 0, true
}

// parseHeaders reads --header NAME=VALUE and --header-env NAME=VAR (the
// value from an environment variable, so it stays off the command line,
// which other users of the machine can see).
func parseHeaders(flags, envFlags []string) ([]webhook.Header, error) {
	var hs []webhook.Header
	for i, f := range append(slices.Clone(flags), envFlags...) {
		h, err := webhook.ParseHeader(f)
		if err != nil {
			if i >= len(flags) {
				return nil, errors.New("--header-env wants NAME=ENVVAR, e.g. --header-env X-Webhook-Token=WEBHOOK_TOKEN")
			}
			return nil, err
		}
		if i >= len(flags) {
			v := os.Getenv(h.Value)
			if strings.TrimSpace(v) == "" {
				return nil, fmt.Errorf("--header-env %s=%s: the environment variable %s is empty or unset", h.Name, h.Value, h.Value)
			}
			if h.Value, err = webhook.HeaderValue("--header-env "+h.Name+"="+h.Value, v); err != nil {
				return nil, err
			}
		}
		if slices.ContainsFunc(hs, func(o webhook.Header) bool { return o.Name == h.Name }) {
			return nil, fmt.Errorf("--header %s is given twice", h.Name)
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// minRetain is the retention under which the receiver warns: Pluggy
// redelivers an event for about three hours (nine attempts: three at once,
// three an hour on, three two hours after those), and an event whose
// first delivery was pruned is appended, and read, again; and a read that
// does not run within the retention finds its log_position pruned, and
// reconciles every account.
const minRetain = 24 * time.Hour

// parseRetain reads --retain: a Go duration (72h, 90m) or whole days
// (30d), positive.
func parseRetain(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(strings.TrimSpace(s), "d"); ok {
		var n uint64
		n, err = strconv.ParseUint(days, 10, 64)
		if n > uint64(math.MaxInt64/int64(24*time.Hour)) {
			err = strconv.ErrRange
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(strings.TrimSpace(s))
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--retain %q: give a positive duration, in whole days (30d) or as Go writes one (72h, 90m: m is minutes); leave --retain out to keep every event", s)
	}
	return d, nil
}

func webhookServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var listen, dir, retainFlag string
	var headerFlags, headerEnv []string
	var maxBody int64
	fs, code, ok := subFlags("serve", args, stdout, stderr, func(fs *pflag.FlagSet) {
		fs.StringVar(&listen, "listen", "", "address to listen on, e.g. :8080 (put it behind your HTTPS ingress: Pluggy only calls https URLs)")
		fs.StringVar(&dir, "log", "", "the event log: a directory (created if missing), or a PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DB: events in table pluggy.webhook_events); a read's webhook_log")
		fs.StringArrayVar(&headerFlags, "header", nil, "NAME=VALUE a request must carry, as registered on the webhook (repeatable; at least one --header or --header-env)")
		fs.StringArrayVar(&headerEnv, "header-env", nil, "NAME=ENVVAR: like --header, the value read from environment variable ENVVAR (keeps the secret off the command line)")
		fs.Int64Var(&maxBody, "max-body-bytes", webhook.DefaultMaxBody, "larger bodies are refused with 413")
		fs.StringVar(&retainFlag, "retain", "", "remove the events received longer ago than `DURATION` (30d, 72h), at start and hourly while running; a read that does not run within it reconciles every account (default: keep every event)")
	}, "listen", "log")
	if !ok {
		return code
	}
	// Checked here, not left to net.Listen, os.MkdirAll and the receiver:
	// an empty --listen listens on every interface at a random port, an
	// empty --log fails as "mkdir : no such file", and a --max-body-bytes
	// of 0 or less would be logged as the limit while 1 MiB applied.
	switch {
	case strings.TrimSpace(listen) == "":
		fmt.Fprintln(stderr, "source-pluggy webhook serve: --listen is empty: give an address, e.g. --listen :8080 or --listen 127.0.0.1:9000")
		return source.ExitUsage
	case strings.TrimSpace(dir) == "":
		fmt.Fprintln(stderr, "source-pluggy webhook serve: --log is empty: give the log's directory (e.g. --log /var/lib/source-pluggy/webhooks) or a PostgreSQL URL")
		return source.ExitUsage
	case !webhook.IsURL(dir) && webhook.CheckLocation(dir) != nil: // a key=value connection string
		fmt.Fprintf(stderr, "source-pluggy webhook serve: --log %v\n", webhook.CheckLocation(dir))
		return source.ExitUsage
	case maxBody <= 0:
		fmt.Fprintf(stderr, "source-pluggy webhook serve: --max-body-bytes %d: give a positive number of bytes (default %d)\n", maxBody, webhook.DefaultMaxBody)
		return source.ExitUsage
	}
	var retain time.Duration
	if fs.Changed("retain") {
		var err error
		if retain, err = parseRetain(retainFlag); err != nil {
			fmt.Fprintf(stderr, "source-pluggy webhook serve: %v\n", err)
			return source.ExitUsage
		}
	}
	if len(headerFlags)+len(headerEnv) == 0 {
		fmt.Fprintln(stderr, "source-pluggy webhook serve: --header is required (or --header-env): Pluggy does not sign webhooks, the headers registered with them are the only authentication")
		return source.ExitUsage
	}
	headers, err := parseHeaders(headerFlags, headerEnv)
	if err != nil {
		fmt.Fprintf(stderr, "source-pluggy webhook serve: %v\n", err)
		return source.ExitUsage
	}
	secrets := serveRedactor(headers, dir)
	logger := slog.New(slog.NewJSONHandler(secrets.Writer(stderr), nil)).With("component", "webhook-receiver")
	if retain > 0 && retain < minRetain {
		logger.Warn("--retain is shorter than a day: Pluggy redelivers an event for about three hours, and one whose first delivery was pruned is appended again; a read that does not run within --retain finds its log_position pruned and reconciles every account, which misses a deletion among the pruned events of a row older than lookback_days", "retain", retainFlag)
	}
	// Listen first: opening the log starts a new segment, and a receiver
	// restarted in a loop on a port in use would add one at every start.
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		logger.Error("cannot listen", "listen", listen, "error", err)
		return source.ExitFail
	}
	defer ln.Close()
	lw, pruned, err := webhook.Open(ctx, dir, retain)
	if err != nil && ctx.Err() != nil {
		// Stopped (SIGTERM, Ctrl-C) while the log was being opened: no
		// event was acknowledged, and a stop is no failure.
		logger.Info("stopped before listening, while opening the event log; no event was acknowledged", "log", postgres.MaskURL(dir))
		return source.ExitOK
	}
	if err != nil {
		logger.Error("cannot open the event log", "log", postgres.MaskURL(dir), "error", err)
		return source.ExitFail
	}
	defer lw.Close()
	webhook.LogPruned(logger, lw, pruned)
	names := make([]string, len(headers))
	for i, h := range headers {
		names[i] = h.Name
	}
	attrs := []any{"addr", ln.Addr().String(), "log", postgres.MaskURL(dir), "events_in_log", lw.Len(), "auth_headers", names, "max_body_bytes", maxBody}
	if retain > 0 {
		attrs = append(attrs, "retain", retainFlag)
	}
	logger.Info("listening", attrs...)
	rc := &webhook.Receiver{Log: lw, Headers: headers, MaxBody: maxBody, Logger: logger, Now: time.Now, Secrets: secrets}
	pruning := make(chan struct{})
	pctx, stopPruning := context.WithCancel(ctx)
	go func() {
		defer close(pruning)
		if retain > 0 {
			webhook.KeepPruning(pctx, lw, retain, logger)
		}
	}()
	err = webhook.Serve(ctx, ln, rc)
	// The log is closed once no prune is under way.
	stopPruning()
	<-pruning
	if err != nil {
		logger.Error("the receiver stopped", "error", err)
		return source.ExitFail
	}
	stats := lw.Stats()
	logger.Info("stopped; every acknowledged event is in the log", "appended", stats.Appended, "commits", stats.Commits)
	return source.ExitOK
}

// serveRedactor holds the receiver's secrets, the header values and the
// password of a PostgreSQL --log, for its stderr log: the log's lines
// quote what a request's body held (a value an event field refused) and
// what the log's server answered, and were printed as they came, so a
// sender (a gateway that wraps the request's headers into the body) or an
// error quoting one put a secret in clear on stderr.
func serveRedactor(headers []webhook.Header, log string) *secret.Redactor {
	secrets := &secret.Redactor{}
	for _, h := range headers {
		secrets.Add(h.Value)
	}
	source.AddURLSecrets(secrets, log)
	return secrets
}

// webhookClient opens the config at path and returns its connection. Webhooks
// belong to the application, not to an item: item_ids may be missing or
// empty, as in a first config before connect has added an item.
func webhookClient(ctx context.Context, r *source.Runner, path string, secrets *secret.Redactor) (*conn, error) {
	raw, err := r.LoadConfig(path, secrets, "item_ids")
	if err != nil {
		return nil, err
	}
	c, err := r.Source.Open(ctx, raw, source.Env{Secrets: secrets, Version: source.Version})
	if err != nil {
		return nil, err
	}
	pc, ok := c.(*conn)
	if !ok {
		return nil, fmt.Errorf("webhook commands need the Pluggy source")
	}
	return pc, nil
}

func fail(stderr io.Writer, secrets *secret.Redactor, sub string, err error) int {
	fmt.Fprintf(stderr, "source-pluggy webhook %s: %s\n", sub, secrets.String(source.UserMessage(err)))
	return source.ExitFail
}

func webhookRegister(ctx context.Context, r *source.Runner, args []string, stdout, stderr io.Writer) int {
	var config, target string
	var headerFlags, headerEnv []string
	var updateHeaders bool
	if _, code, ok := subFlags("register", args, stdout, stderr, func(fs *pflag.FlagSet) {
		fs.StringVar(&config, "config", "", "config JSON file (client_id, client_secret, base_url)")
		fs.StringVar(&target, "url", "", "the receiver's public https URL")
		fs.StringArrayVar(&headerFlags, "header", nil, "NAME=VALUE Pluggy sends with every event, the receiver's --header (repeatable; at least one --header or --header-env)")
		fs.StringArrayVar(&headerEnv, "header-env", nil, "NAME=ENVVAR: like --header, the value read from environment variable ENVVAR")
		fs.BoolVar(&updateHeaders, "update-headers", false, "also send the headers to webhooks already registered (to rotate a secret: Pluggy never shows headers, so they cannot be compared)")
	}, "config", "url"); !ok {
		return code
	}
	// The receiver answers 401 to a request without its headers, so a
	// webhook registered without one could never deliver an event.
	if len(headerFlags)+len(headerEnv) == 0 {
		fmt.Fprintln(stderr, "source-pluggy webhook register: --header is required (or --header-env): give the receiver's --header NAME=VALUE; it refuses every event without it, and Pluggy does not sign webhooks")
		return source.ExitUsage
	}
	secrets := &secret.Redactor{}
	headers, err := parseHeaders(headerFlags, headerEnv)
	if err != nil {
		fmt.Fprintf(stderr, "source-pluggy webhook register: %v\n", err)
		return source.ExitUsage
	}
	hm := map[string]string{}
	for _, h := range headers {
		secrets.Add(h.Value)
		hm[h.Name] = h.Value
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		shown := "(not shown: it does not parse, and may hold a password)"
		if err == nil {
			shown = fmt.Sprintf("%q", shownURL(target))
		}
		fmt.Fprintf(stderr, "source-pluggy webhook register: --url %s is not an absolute URL; give the receiver's public address, e.g. https://hooks.example.com/pluggy\n", shown)
		return source.ExitUsage
	}
	if p, ok := u.User.Password(); ok {
		secrets.Add(p)
	}
	for _, t := range secret.PathTokens(target) {
		secrets.Add(t) // a key in the path, should the API quote the URL
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			// A key in the query, should the API quote the URL in an
			// error; a shorter value (?v=2, ?source=pluggy,
			// ?host=127.0.0.1) is no key, and would mask the same
			// letters in every message.
			if len(v) >= minQueryKey {
				secrets.Add(v)
			}
		}
	}
	pc, err := webhookClient(ctx, r, config, secrets)
	if err != nil {
		return fail(stderr, secrets, "register", err)
	}
	client := pc.client
	existing, err := client.Webhooks(ctx)
	if err != nil {
		return fail(stderr, secrets, "register", pc.unreachable(err))
	}
	for _, event := range webhook.Subscribed {
		i := slices.IndexFunc(existing, func(w Webhook) bool { return w.Event == event && w.URL == target })
		var (
			w      Webhook
			action string
		)
		switch {
		case i < 0:
			w, err = client.CreateWebhook(ctx, event, target, hm)
			action = "created"
		case existing[i].DisabledAt != nil || updateHeaders && len(hm) > 0:
			enabled := true
			b := webhookBody{Enabled: &enabled}
			if len(hm) > 0 {
				b.Headers = &hm
			}
			w, err = client.UpdateWebhook(ctx, existing[i].ID, b)
			action = "updated"
		default:
			w, action = existing[i], "kept"
		}
		if err != nil {
			return fail(stderr, secrets, "register", fmt.Errorf("%s: %w", event, pc.unreachable(err)))
		}
		if w.ID == "" {
			w.ID = "?"
		}
		fmt.Fprintf(stdout, "%-8s %s %s %s\n", action, w.ID, event, shownURL(target))
	}
	return source.ExitOK
}

// shownURL is a webhook URL as the commands print it: a password in it
// (https://user:password@host/…) and every value of its query
// (?token=…, a key a proxy in front of the receiver checks) as xxxxx, the
// query's names kept so that the webhooks can be told apart, and a path
// segment that looks like a key (https://hooks.example/KEY, see
// secret.MaskPathTokens) as the redactor masks it.
func shownURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	path := secret.MaskPathTokens(u.EscapedPath())
	if u.User == nil && u.RawQuery == "" && path == u.EscapedPath() {
		return s
	}
	if path != u.EscapedPath() {
		u.RawPath = path
		u.Path, _ = url.PathUnescape(path)
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			if name, _, ok := strings.Cut(p, "="); ok {
				parts[i] = name + "=xxxxx"
			} else if p != "" {
				parts[i] = "xxxxx" // ?KEY alone
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	return u.Redacted()
}

// minQueryKey is the shortest value of a webhook URL's query masked in
// messages as a key: a random token is longer, a word or a host shorter.
const minQueryKey = 16

func webhookList(ctx context.Context, r *source.Runner, args []string, stdout, stderr io.Writer) int {
	var config string
	if _, code, ok := subFlags("list", args, stdout, stderr, func(fs *pflag.FlagSet) {
		fs.StringVar(&config, "config", "", "config JSON file")
	}, "config"); !ok {
		return code
	}
	secrets := &secret.Redactor{}
	pc, err := webhookClient(ctx, r, config, secrets)
	if err != nil {
		return fail(stderr, secrets, "list", err)
	}
	hooks, err := pc.client.Webhooks(ctx)
	if err != nil {
		return fail(stderr, secrets, "list", pc.unreachable(err))
	}
	for _, w := range hooks {
		state := "enabled"
		if w.DisabledAt != nil {
			state = "disabled since " + *w.DisabledAt
		}
		fmt.Fprintf(stdout, "%s %s %s (%s)\n", w.ID, w.Event, shownURL(w.URL), state)
	}
	if len(hooks) == 0 {
		fmt.Fprintln(stderr, "no webhooks registered")
	}
	return source.ExitOK
}

func webhookDelete(ctx context.Context, r *source.Runner, args []string, stdout, stderr io.Writer) int {
	var config string
	fs, code, ok := subFlags("delete", args, stdout, stderr, func(fs *pflag.FlagSet) {
		fs.StringVar(&config, "config", "", "config JSON file")
	}, "config")
	if !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "source-pluggy webhook delete: give the id(s) to delete (see webhook list)")
		return source.ExitUsage
	}
	secrets := &secret.Redactor{}
	pc, err := webhookClient(ctx, r, config, secrets)
	if err != nil {
		return fail(stderr, secrets, "delete", err)
	}
	for _, id := range fs.Args() {
		if err := pc.client.DeleteWebhook(ctx, id); err != nil {
			return fail(stderr, secrets, "delete", fmt.Errorf("webhook %s: %w", id, pc.unreachable(err)))
		}
		fmt.Fprintf(stdout, "deleted %s\n", id)
	}
	return source.ExitOK
}

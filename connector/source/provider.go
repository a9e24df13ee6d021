package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// The pieces every provider's Source and Conn would otherwise write again:
// its spec message, its HTTP client wired to the run's logs and rate-limit
// notices, the check's "cannot reach" message, and its id lists.

// DocsURL is the manual page of a provider, for Spec's documentationUrl.
func DocsURL(page string) string {
	return "https://github.com/source-pluggy/source-pluggy/blob/main/docs/" + page
}

// IncrementalSpec is the spec of a provider whose config schema is spec and
// whose manual is docs/page; it supports incremental streams.
func IncrementalSpec(page string, spec []byte) protocol.Spec {
	return protocol.Spec{DocumentationURL: DocsURL(page), ConnectionSpecification: spec, SupportsIncremental: true}
}

// HTTPClient is a provider's HTTP client for one run: production defaults,
// User-Agent name/version, every credential in env.Secrets masked in its
// errors, retries logged at INFO and 429 waits told to the stream's
// output, and answers with invalid UTF-8 warned about (see NoteInvalidUTF8;
// through env.Log where ctx carries no logger). maxRetries bounds retries
// of transient failures.
func HTTPClient(env Env, name string, maxRetries int) *httpclient.Client {
	hc := httpclient.New(env.Secrets)
	hc.UserAgent = name + "/" + env.Version
	hc.MaxRetries = maxRetries
	hc.OnRateLimited = NotifyRateLimited
	hc.OnRetry = func(ctx context.Context, req *httpclient.Request, attempt int, wait time.Duration, cause error) {
		// The client's errors begin with the route, which the line names
		// already: the cause is the rest.
		logOf(ctx).Info("retrying", "route", req.Route, "attempt", attempt, "in", wait.Round(time.Millisecond), "cause", strings.TrimPrefix(cause.Error(), req.Route+": "))
	}
	hc.OnInvalidUTF8 = func(ctx context.Context, route string, body []byte, replaced []int) {
		if _, ok := ctx.Value(logKey{}).(*slog.Logger); !ok && env.Log != nil {
			// A call outside the runtime's commands (connect's) has no
			// logger in ctx: the provider's own says it, where the text
			// was replaced without a word, in the names connect shows
			// and the account details it writes to the state.
			ctx = withLog(ctx, env.Log)
		}
		NoteInvalidUTF8(ctx, route, body, replaced)
	}
	return hc
}

// Unreachable turns a transient failure of a check into a config error
// naming base_url: in a check, an API that does not answer is most often a
// wrong URL or a network that does not reach it. An HTTP status (a 429, a
// 503) is an answer: the error says it as it is, and not that the API
// cannot be reached. api names the API ("the Pluggy API").
func Unreachable(err error, api string, base *url.URL) error {
	var status *httpclient.StatusError
	if err != nil && FailureTypeOf(err) == protocol.TransientError && !errors.As(err, &status) {
		return AsConfigError(err, fmt.Sprintf("cannot reach %s at base_url %s; check the URL and the network", api, base))
	}
	return err
}

// UniqueIDs trims and lowercases ids (the APIs serve UUIDs lowercase) and
// drops empty ones and repeats, keeping the first.
func UniqueIDs(ids []string) []string {
	seen := map[string]bool{}
	out := ids[:0:0]
	for _, id := range ids {
		id = strings.ToLower(strings.TrimSpace(id))
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

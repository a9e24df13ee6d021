package httpclient

import (
	"context"
	"fmt"
	"time"
)

// LogRetries returns an OnRetry hook that tells log about each retry in one
// line: "retry 2 of GET /v2/transactions in 1.2s: <cause>". Providers pass
// the runtime's stream logger, so retries show up attributed to the stream
// that waits.
func LogRetries(log func(ctx context.Context, msg string)) func(ctx context.Context, req *Request, attempt int, wait time.Duration, cause error) {
	return func(ctx context.Context, req *Request, attempt int, wait time.Duration, cause error) {
		log(ctx, fmt.Sprintf("retry %d of %s in %s: %v", attempt, req.Route, wait.Round(time.Millisecond), cause))
	}
}

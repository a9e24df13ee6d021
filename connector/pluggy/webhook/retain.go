package webhook

import (
	"context"
	"log/slog"
	"time"
)

// PruneEvery is how often a receiver with a retention prunes its log while
// it runs: hourly, or four times a retention shorter than four hours (one
// under a day is warned of), so that a log keeps at most a quarter of its
// retention beyond it.
func PruneEvery(retain time.Duration) time.Duration {
	return min(time.Hour, max(retain/4, 250*time.Millisecond))
}

// KeepPruning prunes l at once and then every PruneEvery(retain) until ctx
// ends: what was received more than retain ago goes (Log.Prune). What
// went is logged; a failure is logged and tried again at the next round,
// as the receiver goes on taking events meanwhile.
//
// The first prune is a PostgreSQL log's first of all (Open leaves it
// here), which on a long table takes minutes: run beside the receiver, so
// that /healthz answers and deliveries are appended meanwhile, where a
// readiness or liveness probe would have given up on a receiver that did
// not answer until it was done. A directory's log was pruned as it opened,
// and this one finds nothing more to remove.
func KeepPruning(ctx context.Context, l Log, retain time.Duration, logger *slog.Logger) {
	tick := time.NewTicker(PruneEvery(retain))
	defer tick.Stop()
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
		p, err := l.Prune(ctx, time.Now().Add(-retain))
		if err != nil && ctx.Err() == nil {
			logger.Error("could not prune the event log; trying again later", "every", PruneEvery(retain).String(), "error", err)
		}
		LogPruned(logger, l, p)
	}
}

// LogPruned logs what a prune removed, if anything.
func LogPruned(logger *slog.Logger, l Log, p Pruned) {
	if p.Events == 0 && len(p.Segments) == 0 {
		return
	}
	attrs := []any{"events", p.Events}
	if len(p.Segments) > 0 {
		attrs = []any{"segments", p.Segments, "bytes", p.Bytes}
	}
	attrs = append(attrs, "events_in_log", l.Len())
	logger.Info("pruned the event log: removed the events received longer ago than --retain", attrs...)
}

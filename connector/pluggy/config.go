package pluggy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/webhook"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Config is source-pluggy's config, already validated against spec.json.
type Config struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	ItemIDs      []string `json:"item_ids"`
	BaseURL      string   `json:"base_url"`
	// StartDate is the oldest transaction date read on a first sync.
	StartDate string `json:"start_date"`
	// LookbackDays is how far before the newest createdAt an incremental run
	// re-reads by transaction date, to catch rows updated in place.
	LookbackDays *int `json:"lookback_days"`
	// CreditLookbackDays is LookbackDays for CREDIT accounts: a card bill
	// closing re-creates its rows under new ids about every 30 days, so
	// the window must cover a bill cycle to see those deletions.
	CreditLookbackDays *int `json:"credit_lookback_days"`
	// MaxConcurrency bounds accounts read at once.
	MaxConcurrency int `json:"max_concurrency"`
	// RequestsPerMinute paces requests per endpoint; 0 disables pacing.
	RequestsPerMinute *int `json:"requests_per_minute"`
	// MaxRateLimitWaitSeconds caps one wait on a 429.
	MaxRateLimitWaitSeconds int `json:"max_rate_limit_wait_seconds"`
	// MaxRetries bounds retries of one request after transient failures.
	MaxRetries *int `json:"max_retries"`
	// HTTPTimeoutSeconds bounds one request attempt.
	HTTPTimeoutSeconds int `json:"http_timeout_seconds"`
	// TriggerItemUpdate asks Pluggy to sync each item with its bank (PATCH
	// /items/{id}) before reading it. Off by default: Pluggy forbids batch
	// refreshes and syncs items by itself.
	TriggerItemUpdate bool `json:"trigger_item_update"`
	// ItemUpdateTimeoutSeconds bounds the wait for one item's update.
	ItemUpdateTimeoutSeconds int `json:"item_update_timeout_seconds"`
	// ItemUpdatePollSeconds is the pause between two looks at an updating item.
	ItemUpdatePollSeconds float64 `json:"item_update_poll_seconds"`
	// WebhookLog is the webhook receiver's log directory; set, incremental
	// transactions follow its events (feed.go).
	WebhookLog string `json:"webhook_log"`
	// ReconcileHours bounds how long an account goes without a full
	// reconciliation when WebhookLog is set.
	ReconcileHours *int `json:"reconcile_hours"`
}

// Defaults, also stated in spec.json.
const (
	DefaultBaseURL           = "https://api.pluggy.ai"
	DefaultLookbackDays      = 7
	DefaultCreditLookback    = 40 // a bill cycle (about 30 days) and some
	DefaultStartDays         = 365
	DefaultMaxConcurrency    = 4
	DefaultRequestsPerMinute = 300 // under Pluggy's 360/min per endpoint per IP
	DefaultMaxRateLimitWait  = 300
	DefaultMaxRetries        = 5
	DefaultHTTPTimeout       = 60
	DefaultItemUpdateTimeout = 300 // a sandbox sync takes 2-4 minutes
	DefaultItemUpdatePoll    = 10
	DefaultReconcileHours    = 24
)

// settings is Config resolved: defaults applied, values parsed.
type settings struct {
	Config
	base      *url.URL
	startDate time.Time
	lookback  int
	// creditLookback is lookback for CREDIT accounts.
	creditLookback int
	rpm            int
	// maxRetries is MaxRetries with its default applied.
	maxRetries int
	// itemUpdateTimeout and itemUpdatePoll shape trigger_item_update's wait.
	itemUpdateTimeout, itemUpdatePoll time.Duration
	// reconcileEvery is reconcile_hours with its default applied.
	reconcileEvery time.Duration
}

func parseConfig(raw json.RawMessage, now time.Time) (*settings, error) {
	var c Config
	if err := source.DecodeConfig(raw, &c); err != nil {
		return nil, err
	}
	s := &settings{Config: c}
	if s.BaseURL == "" {
		s.BaseURL = DefaultBaseURL
	}
	base, err := source.ParseBaseURL(s.BaseURL, DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	s.base = base
	if err := webhook.CheckLocation(s.WebhookLog); err != nil {
		return nil, source.AsConfigError(err, source.ConfigValidationPrefix+"config.webhook_log")
	}
	if s.StartDate == "" {
		s.startDate = now.UTC().AddDate(0, 0, -DefaultStartDays).Truncate(24 * time.Hour)
	} else if s.startDate, err = time.Parse(time.DateOnly, s.StartDate); err != nil {
		return nil, source.InvalidConfigf("config.start_date: %q is not a date; write it as YYYY-MM-DD, e.g. 2025-01-31", s.StartDate)
	} else if err := source.StartDateAfter(s.StartDate, s.startDate, now.UTC().Truncate(24*time.Hour), DefaultStartDays); err != nil {
		return nil, err
	}
	s.lookback = DefaultLookbackDays
	if c.LookbackDays != nil {
		s.lookback = *c.LookbackDays
	}
	s.creditLookback = DefaultCreditLookback
	if c.CreditLookbackDays != nil {
		s.creditLookback = *c.CreditLookbackDays
	}
	if s.MaxConcurrency == 0 {
		s.MaxConcurrency = DefaultMaxConcurrency
	}
	s.rpm = DefaultRequestsPerMinute
	if c.RequestsPerMinute != nil {
		s.rpm = *c.RequestsPerMinute
	}
	if s.MaxRateLimitWaitSeconds == 0 {
		s.MaxRateLimitWaitSeconds = DefaultMaxRateLimitWait
	}
	s.maxRetries = DefaultMaxRetries
	if c.MaxRetries != nil {
		s.maxRetries = *c.MaxRetries
	}
	if s.HTTPTimeoutSeconds == 0 {
		s.HTTPTimeoutSeconds = DefaultHTTPTimeout
	}
	if s.ItemUpdateTimeoutSeconds == 0 {
		s.ItemUpdateTimeoutSeconds = DefaultItemUpdateTimeout
	}
	s.itemUpdateTimeout = time.Duration(s.ItemUpdateTimeoutSeconds) * time.Second
	if s.ItemUpdatePollSeconds <= 0 {
		s.ItemUpdatePollSeconds = DefaultItemUpdatePoll
	}
	s.itemUpdatePoll = time.Duration(s.ItemUpdatePollSeconds * float64(time.Second))
	s.reconcileEvery = DefaultReconcileHours * time.Hour
	if c.ReconcileHours != nil {
		s.reconcileEvery = time.Duration(*c.ReconcileHours) * time.Hour
	}
	seen := map[string]bool{}
	ids := s.ItemIDs[:0:0]
	for _, id := range s.ItemIDs {
		id = strings.ToLower(id)
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	s.ItemIDs = ids
	return s, nil
}

// NormalizeConfig accepts item_ids as one comma-separated string, the way
// Actual Budget users keep them, and turns it into the list the spec wants.
func (Source) NormalizeConfig(cfg map[string]any) {
	source.SplitListField(cfg, "item_ids")
}

// lookbackFor is the re-read window, in days, of an account of type typ
// (BANK or CREDIT).
func (s *settings) lookbackFor(typ string) int {
	if typ == accountTypeCredit {
		return s.creditLookback
	}
	return s.lookback
}

func (s *settings) String() string {
	return fmt.Sprintf("base_url=%s items=%d", s.base, len(s.ItemIDs))
}

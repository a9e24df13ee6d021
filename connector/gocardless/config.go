package gocardless

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Config is source-gocardless-bank-data's config, already validated against spec.json.
type Config struct {
	SecretID       string   `json:"secret_id"`
	SecretKey      string   `json:"secret_key"`
	RequisitionIDs []string `json:"requisition_ids"`
	// AccountIDs restricts the read to these accounts of the requisitions.
	AccountIDs []string `json:"account_ids"`
	BaseURL    string   `json:"base_url"`
	// StartDate is the oldest transaction date read on a first sync.
	StartDate string `json:"start_date"`
	// LookbackDays is how far before the newest booking date seen an
	// incremental run starts its window.
	LookbackDays   *int  `json:"lookback_days"`
	IncludePending *bool `json:"include_pending"`
	Balances       *bool `json:"balances"`
	// HTTPTimeoutSeconds bounds one request attempt; 0: DefaultHTTPTimeout.
	HTTPTimeoutSeconds int `json:"http_timeout_seconds"`
}

// Defaults, also stated in spec.json.
const (
	DefaultBaseURL      = "https://bankaccountdata.gocardless.com/api/v2"
	DefaultLookbackDays = 7
	// DefaultStartDays is how far back a first sync reads without
	// start_date: the history every institution gives, and what Actual
	// Budget reads.
	DefaultStartDays = 90
	// DefaultHTTPTimeout is the seconds one request attempt may take,
	// headers and body included.
	DefaultHTTPTimeout = 60
)

// settings is Config resolved: defaults applied, values parsed.
type settings struct {
	Config
	base *url.URL
	// startDate is config.start_date; zero means DefaultStartDays before
	// the run, which only the run's clock can say.
	startDate time.Time
	lookback  int
	pending   bool
	balances  bool
	// onlyAccounts is AccountIDs as a set; nil reads every account.
	onlyAccounts map[string]bool
}

func parseConfig(raw json.RawMessage) (*settings, error) {
	var c Config
	if err := source.DecodeConfig(raw, &c); err != nil {
		return nil, err
	}
	s := &settings{Config: c, lookback: DefaultLookbackDays, pending: true, balances: true}
	if s.HTTPTimeoutSeconds == 0 {
		s.HTTPTimeoutSeconds = DefaultHTTPTimeout
	}
	if s.BaseURL == "" {
		s.BaseURL = DefaultBaseURL
	}
	base, err := source.ParseBaseURL(s.BaseURL, DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	s.base = base
	if s.StartDate != "" {
		if s.startDate, err = time.Parse(time.DateOnly, s.StartDate); err != nil {
			return nil, source.InvalidConfigf("config.start_date: %q is not a date; write it as YYYY-MM-DD, e.g. 2025-01-31", s.StartDate)
		}
	}
	if c.LookbackDays != nil {
		s.lookback = *c.LookbackDays
	}
	if c.IncludePending != nil {
		s.pending = *c.IncludePending
	}
	if c.Balances != nil {
		s.balances = *c.Balances
	}
	s.RequisitionIDs = source.UniqueIDs(s.RequisitionIDs)
	if ids := source.UniqueIDs(s.AccountIDs); len(ids) > 0 {
		s.AccountIDs = ids
		s.onlyAccounts = map[string]bool{}
		for _, id := range ids {
			s.onlyAccounts[id] = true
		}
	}
	return s, nil
}

// NormalizeConfig accepts requisition_ids and account_ids as one
// comma-separated string each.
func (Source) NormalizeConfig(cfg map[string]any) {
	source.SplitListField(cfg, "requisition_ids")
	source.SplitListField(cfg, "account_ids")
}

func (s *settings) String() string {
	return fmt.Sprintf("base_url=%s requisitions=%d", s.base, len(s.RequisitionIDs))
}

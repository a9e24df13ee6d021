package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// pluggyCase is one file of testdata/pluggy/realworld (see its README.md).
type pluggyCase struct {
	Case   string `json:"case"`
	Source string `json:"source"`
	// Filled says how the parts the source elides ("…") were filled in.
	Filled  string            `json:"filled"`
	Route   string            `json:"route"`
	Status  int               `json:"status"`
	Times   int               `json:"times"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
	Streams []string          `json:"streams"`
	// Config overrides the test's config for the read.
	Config map[string]any `json:"config"`
	Expect struct {
		Exit                int      `json:"exit"`
		Failed              []string `json:"failed"`
		FailureType         string   `json:"failure_type"`
		Message             []string `json:"message"`
		NotMessage          []string `json:"not_message"`
		Warn                []string `json:"warn"`
		Auths               int      `json:"auths"`
		InvestmentIDsFilled bool     `json:"investment_ids_filled"`
		// Served is how many times the case's answer must be served;
		// nil: at least once.
		Served *int `json:"served"`
		// ItemsRead: every configured item has its items record.
		ItemsRead bool `json:"items_read"`
	} `json:"expect"`
}

// matches reports whether r is the case's route for the fake's first item
// (its first investment, one of its accounts, the item itself), or
// POST /auth.
func (c pluggyCase) matches(r *http.Request, item, investment string, accounts []string) bool {
	method, path, _ := strings.Cut(c.Route, " ")
	if r.Method != method {
		return false
	}
	switch path {
	case "/investments/{id}/transactions":
		return r.URL.Path == "/investments/"+investment+"/transactions"
	case "/items/{id}":
		return r.URL.Path == "/items/"+item
	case "/auth":
		return r.URL.Path == path
	case "/v2/transactions", "/transactions":
		return r.URL.Path == path && slices.Contains(accounts, r.URL.Query().Get("accountId"))
	default:
		return r.URL.Path == path && r.URL.Query().Get("itemId") == item
	}
}

// TestRealWorldCorpus replays every recorded real-world answer through the
// binary.
func TestRealWorldCorpus(t *testing.T) {
	files, err := filepath.Glob("../../testdata/pluggy/realworld/*.json")
	st.Must(t, err, "corpus")
	if len(files) == 0 {
		t.Fatal("no corpus files")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			st.Must(t, err, file)
			var c pluggyCase
			st.Must(t, json.Unmarshal(raw, &c), file)
			if c.Case == "" || c.Source == "" || c.Route == "" || c.Status == 0 || len(c.Body) == 0 || len(c.Streams) == 0 {
				t.Fatalf("%s: case, source, route, status, body and streams are required", file)
			}
			t.Run("stdout", func(t *testing.T) { replayPluggyCase(t, c, "") })
			t.Run("parquet", func(t *testing.T) { replayPluggyCase(t, c, t.TempDir()) })
		})
	}
}

// replayPluggyCase replays c; with parquetDir set the read also writes
// Parquet files there, which must exist for every stream with records that
// was read to its end. The catalog is full refresh, so a stream that failed
// has none: its files would be a partial snapshot, newer than the last
// whole one.
func replayPluggyCase(t *testing.T, c pluggyCase, parquetDir string) {
	e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 20})
	item := e.fake.ItemIDs()[0]
	investment := firstInvestment(t, e, item)
	accounts := e.fake.AccountIDs(item)
	h, served := st.Canned(e.fake.Handler(), func(r *http.Request) bool { return c.matches(r, item, investment, accounts) },
		c.Times, c.Status, c.Headers, c.Body)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.cfg["base_url"] = srv.URL
	e.fake.ResetStats()

	var extra []string
	if parquetDir != "" {
		extra = []string{"--parquet-dir", parquetDir}
	}
	r := e.readWith(c.Config, e.catalog(false, c.Streams...), extra...)
	for _, et := range r.ErrorTraces() {
		t.Logf("%s: %s", et.FailureType, et.Message)
	}
	if parquetDir != "" {
		for stream, recs := range r.Records() {
			files, _ := filepath.Glob(filepath.Join(parquetDir, stream, "*.parquet"))
			switch failed := slices.Contains(c.Expect.Failed, stream); {
			case failed && len(files) > 0:
				t.Errorf("%s failed, yet its partial snapshot was published: %v", stream, files)
			case !failed && len(recs) > 0 && len(files) == 0:
				t.Errorf("%d %s records, no Parquet file", len(recs), stream)
			}
		}
	}
	if r.Code != c.Expect.Exit {
		t.Fatalf("%s: exit %d, want %d: %v", c.Source, r.Code, c.Expect.Exit, r.ErrorTraces())
	}
	switch n := int(served.Load()); {
	case c.Expect.Served == nil && n == 0:
		t.Fatalf("the case's answer was never served: route %s", c.Route)
	case c.Expect.Served != nil && n != *c.Expect.Served:
		t.Errorf("the case's answer was served %d times, want %d: route %s", n, *c.Expect.Served, c.Route)
	}
	if c.Expect.Exit == 0 {
		st.ValidateRecords(t, r, e.discover())
		st.CheckLifecycle(t, r, c.Streams)
	}
	for _, name := range c.Expect.Failed {
		if seq := r.Statuses()[name]; len(seq) == 0 || seq[len(seq)-1] != protocol.Incomplete {
			t.Errorf("stream %s ended %v, want INCOMPLETE", name, seq)
		}
	}
	for _, name := range c.Streams {
		if !contains(c.Expect.Failed, name) {
			if seq := r.Statuses()[name]; len(seq) == 0 || seq[len(seq)-1] != protocol.Complete {
				t.Errorf("stream %s ended %v, want COMPLETE", name, seq)
			}
		}
	}
	var msgs []string
	for _, et := range r.ErrorTraces() {
		msgs = append(msgs, et.Message)
	}
	all := strings.Join(msgs, "\n")
	for _, m := range c.Expect.Message {
		if !strings.Contains(all, m) {
			t.Errorf("no error mentions %q: %s", m, all)
		}
	}
	if c.Expect.FailureType != "" {
		for _, et := range r.ErrorTraces() {
			if string(et.FailureType) != c.Expect.FailureType {
				t.Errorf("an error of type %s, want %s: %s", et.FailureType, c.Expect.FailureType, et.Message)
			}
		}
	}
	if len(c.Expect.Warn) > 0 && !r.Warned(c.Expect.Warn...) {
		t.Errorf("no WARN saying all of %q", c.Expect.Warn)
	}
	if c.Expect.ItemsRead {
		got := map[string]bool{}
		for _, raw := range r.Records()["items"] {
			var it struct{ ID string }
			st.Must(t, json.Unmarshal(raw, &it), "items record")
			got[it.ID] = true
		}
		for _, id := range e.fake.ItemIDs() {
			if !got[id] {
				t.Errorf("item %s has no items record", id)
			}
		}
	}
	for _, m := range c.Expect.NotMessage {
		if strings.Contains(all, m) {
			t.Errorf("an error mentions %q: %s", m, all)
		}
	}
	if c.Expect.Auths > 0 {
		if n := e.fake.Stats().ByRoute["POST /auth"]; n != c.Expect.Auths {
			t.Errorf("%d auth calls, want %d", n, c.Expect.Auths)
		}
	}
	if c.Expect.InvestmentIDsFilled {
		n := 0
		for _, x := range joinRows(t, r.Records()["investment_transactions"]) {
			if x.InvestmentID == investment {
				n++
			}
			if x.InvestmentID == "" {
				t.Errorf("movement %s without investmentId", x.ID)
			}
		}
		if n == 0 {
			t.Error("no movement carries the replayed investment's id")
		}
	}
}

// firstInvestment asks the fake for the id of an item's first investment.
func firstInvestment(t *testing.T, e *env, item string) string {
	key := pluggyKey(t, e)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/investments?itemId="+item, nil)
	req.Header.Set("X-API-KEY", key)
	resp, err := http.DefaultClient.Do(req)
	st.Must(t, err, "investments")
	defer resp.Body.Close()
	var page struct {
		Results []struct{ ID string } `json:"results"`
	}
	st.Must(t, json.NewDecoder(resp.Body).Decode(&page), "investments")
	if len(page.Results) == 0 {
		t.Fatal("the fake's first item has no investment")
	}
	return page.Results[0].ID
}

func pluggyKey(t *testing.T, e *env) string {
	body, _ := json.Marshal(map[string]string{"clientId": e.fake.ClientID(), "clientSecret": e.fake.ClientSecret()})
	resp, err := http.Post(e.srv.URL+"/auth", "application/json", strings.NewReader(string(body)))
	st.Must(t, err, "auth")
	defer resp.Body.Close()
	var out struct{ APIKey string }
	st.Must(t, json.NewDecoder(resp.Body).Decode(&out), "auth")
	return out.APIKey
}

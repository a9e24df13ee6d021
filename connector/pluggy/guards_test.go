package pluggy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// lowerMaxPages makes the page bound small for one test.
func lowerMaxPages(t *testing.T, n int) {
	old := maxPages
	maxPages = n
	t.Cleanup(func() { maxPages = old })
}

// A server whose cursor never ends (a new cursor on every page) is stopped
// at maxPages rather than followed forever.
func TestEndlessCursorStopsAtMaxPages(t *testing.T) {
	lowerMaxPages(t, 7)
	requests := 0
	c := offlineClient(func(r *http.Request) []byte {
		requests++
		after := base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(requests)))
		return []byte(fmt.Sprintf(`{"results":[{"id":"row-%d"}],"next":"?after=%s"}`, requests, url.QueryEscape(after)))
	})
	rows := 0
	err := c.eachTransaction(context.Background(), url.Values{"accountId": {"a"}}, func([]byte, txKeys) error { rows++; return nil })
	if err == nil || source.FailureTypeOf(err) != protocol.SystemError || !strings.Contains(err.Error(), "past 7 pages") {
		t.Fatalf("err = %v", err)
	}
	if requests != 7 || rows != 7 {
		t.Fatalf("%d requests, %d rows; want 7 of each", requests, rows)
	}
}

// A page-number endpoint whose totalPages never ends is bounded too, and
// one that ignores the page parameter stops at the first repeated page
// without emitting its rows twice.
func TestPageNumberLoopsAreBounded(t *testing.T) {
	lowerMaxPages(t, 5)
	t.Run("endless totalPages", func(t *testing.T) {
		c := offlineClient(func(r *http.Request) []byte {
			return []byte(fmt.Sprintf(`{"page":%s,"totalPages":1000000,"results":[{"id":"p%s"}]}`, r.URL.Query().Get("page"), r.URL.Query().Get("page")))
		})
		rows := 0
		err := c.eachPage(context.Background(), "GET /investments", "/investments", nil, 500, func(json.RawMessage) error { rows++; return nil })
		if err == nil || !strings.Contains(err.Error(), "past 5 pages") || rows != 5 {
			t.Fatalf("err = %v after %d rows", err, rows)
		}
	})
	t.Run("page parameter ignored", func(t *testing.T) {
		requests := 0
		c := offlineClient(func(*http.Request) []byte {
			requests++
			return []byte(`{"page":1,"totalPages":40,"results":[{"id":"a"},{"id":"b"}]}`)
		})
		var ids []string
		err := c.eachPage(context.Background(), "GET /investments", "/investments", nil, 500, func(raw json.RawMessage) error {
			var r struct{ ID string }
			_ = json.Unmarshal(raw, &r)
			ids = append(ids, r.ID)
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), "answered page 2 with the rows of page 1") {
			t.Fatalf("err = %v", err)
		}
		if requests != 2 || strings.Join(ids, ",") != "a,b" {
			t.Fatalf("%d requests, rows %v; want 2 requests and each row once", requests, ids)
		}
	})
}

// An endpoint documented as one page (bills, loans, accounts) is asked for
// its second page only when totalPages says there is one, and then every
// row is read.
func TestSinglePageEndpointsFollowTotalPages(t *testing.T) {
	var queries []string
	c := offlineClient(func(r *http.Request) []byte {
		queries = append(queries, r.URL.RawQuery)
		page := r.URL.Query().Get("page")
		if page == "" {
			page = "1"
		}
		return []byte(fmt.Sprintf(`{"page":%s,"total":2,"totalPages":2,"results":[{"id":"bill-%s"}]}`, page, page))
	})
	var ids []string
	err := c.eachPage(context.Background(), "GET /bills", "/bills", url.Values{"accountId": {"a"}}, 0, func(raw json.RawMessage) error {
		var row struct{ ID string }
		_ = json.Unmarshal(raw, &row)
		ids = append(ids, row.ID)
		return nil
	})
	if err != nil || strings.Join(ids, ",") != "bill-1,bill-2" {
		t.Fatalf("ids %v, err %v", ids, err)
	}
	if len(queries) != 2 || strings.Contains(queries[0], "page=") || !strings.Contains(queries[1], "page=2") {
		t.Fatalf("queries %q: the first request must not carry page, the second must ask for page 2", queries)
	}
}

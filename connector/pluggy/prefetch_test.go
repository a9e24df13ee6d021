package pluggy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

// pagedServer answers page after (an "after" of "" is the first page) with
// one row and a next cursor, until pages pages.
func pagedServer(pages int, requested chan<- string) func(r *http.Request) []byte {
	return func(r *http.Request) []byte {
		after := r.URL.Query().Get("after")
		if requested != nil {
			requested <- after
		}
		n := 0
		fmt.Sscan(after, &n)
		next := "null"
		if n+1 < pages {
			next = fmt.Sprintf(`"?after=%d"`, n+1)
		}
		return []byte(fmt.Sprintf(`{"results":[{"id":"row-%d"}],"next":%s}`, n, next))
	}
}

// The next page is asked for while the caller still handles this one: a
// handler that waits for that request before returning would otherwise
// wait forever.
func TestTransactionPagesAreFetchedAhead(t *testing.T) {
	requested := make(chan string, 8)
	c := offlineClient(pagedServer(3, requested))
	var got []string
	err := c.eachTransaction(context.Background(), url.Values{"accountId": {"a"}}, func(raw []byte, k txKeys) error {
		got = append(got, k.ID)
		want := fmt.Sprint(len(got)) // the page after this row's
		if len(got) == 3 {
			return nil // the last page: nothing to fetch
		}
		for {
			select {
			case after := <-requested:
				if after == want {
					return nil
				}
			case <-time.After(5 * time.Second):
				return fmt.Errorf("page after=%s was not requested while row %s was handled", want, k.ID)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[row-0 row-1 row-2]" {
		t.Fatalf("rows %v", got)
	}
}

// A handler's failure cancels the page on its way and the walk returns the
// handler's error without waiting for the server; no request is made past
// it.
func TestFailedPageHandlerCancelsFetchAhead(t *testing.T) {
	var requests, cancelled atomic.Int32
	serve := pagedServer(5, nil)
	c := offlineClient(func(r *http.Request) []byte {
		requests.Add(1)
		if r.URL.Query().Get("after") != "" {
			<-r.Context().Done() // a server that never answers page 2
			cancelled.Add(1)
		}
		return serve(r)
	})
	boom := errors.New("sink failed")
	done := make(chan error, 1)
	go func() {
		done <- c.eachTransaction(context.Background(), url.Values{"accountId": {"a"}}, func([]byte, txKeys) error { return boom })
	}()
	select {
	case err := <-done:
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want the handler's", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the walk waited for a page the failed handler no longer needs")
	}
	if n := requests.Load(); n > 2 {
		t.Errorf("%d requests, want at most 2 (the page and the one fetched ahead)", n)
	}
	if requests.Load() == 2 && cancelled.Load() != 1 {
		t.Error("the page fetched ahead was not cancelled")
	}
}

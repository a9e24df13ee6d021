package httpclient

import (
	"net/http"
	"testing"
	"time"
)

var c0 = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

func TestServerClockFollowsDate(t *testing.T) {
	local := c0
	c := NewServerClock(func() time.Time { return local })
	if !c.Now().Equal(c0) {
		t.Fatal("no Date seen: not the local clock")
	}
	c.Observe(http.Header{"Date": {c0.Add(25 * time.Hour).Format(http.TimeFormat)}})
	local = local.Add(time.Minute)
	if got := c.Now(); !got.Equal(c0.Add(25*time.Hour + time.Minute)) {
		t.Fatalf("now %v", got)
	}
	if got := c.Today(); !got.Equal(time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("today %v", got)
	}
}

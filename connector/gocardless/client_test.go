package gocardless

import (
	"net/http"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
)

func TestRetryRules(t *testing.T) {
	for _, c := range []struct {
		status  int
		body    string
		noRetry bool
	}{
		{429, `{"summary":"Rate limit exceeded","detail":"…4/day…","status_code":429,"type":"RateLimitError"}`, true},
		{429, `{"summary":"Rate limit exceeded","detail":"Please try again in 12 seconds","status_code":429}`, false},
		{500, `{"summary":"Institution error","status_code":500,"type":"UnknownRequestError"}`, true},
		{500, `<html>bad gateway</html>`, false},
		{503, `{"summary":"Service unavailable","status_code":503,"type":"ServiceError"}`, false},
	} {
		if got := noRetry(&httpclient.Response{Status: c.status, Body: []byte(c.body)}); got != c.noRetry {
			t.Errorf("noRetry(%d %s) = %v", c.status, c.body, got)
		}
	}
	wait := companyRetryAfter(&httpclient.Response{Status: 429, Body: []byte(`{"detail":"The rate limit for this resource is 100/minute. Please try again in 12 seconds"}`)})
	if wait != 12*time.Second {
		t.Errorf("wait from detail = %v", wait)
	}
	wait = companyRetryAfter(&httpclient.Response{Status: 429, Header: http.Header{"Http_x_ratelimit_reset": {"7"}}, Body: []byte(`{}`)})
	if wait != 7*time.Second {
		t.Errorf("wait from header = %v", wait)
	}
}

func TestAccessExpired(t *testing.T) {
	for _, c := range []struct {
		status int
		ae     apiError
		want   bool
	}{
		{401, apiError{Type: typeAccessExpired}, true},
		{401, apiError{Summary: "Invalid token"}, false},
		{400, apiError{Summary: "End User Agreement (EUA) expired", Detail: []byte(`"EUA was valid for 90 days and it expired at 2024-05-01"`)}, true},
		{409, apiError{Summary: "Account suspended"}, false},
	} {
		if got := accessExpired(c.status, c.ae); got != c.want {
			t.Errorf("accessExpired(%d, %+v) = %v", c.status, c.ae, got)
		}
	}
}

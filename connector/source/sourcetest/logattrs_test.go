package sourcetest

import "testing"

func TestRepeatedLogAttr(t *testing.T) {
	cases := map[string]string{
		`transactions: spent account=a-1 account=a-1 requisition=r-1`:      "account",
		`transactions: spent account=a-1 requisition=r-1 in=24h0m0s`:       "",
		`moved reason="a b account=x" account=y`:                           "",
		`moved reason="say \"k=v\" k=v" k=w`:                               "",
		`moved n=1 why="x" n=""`:                                           "n",
		`the message says x=1 of its own, and x=2 too`:                     "",
		"multi\nline account=a account=b":                                  "account",
		`http.attempt=2 attempt=3`:                                         "",
		`no attributes at all`:                                             "",
		`transactions: WARN of a group g.k=1 g.k=2`:                        "g.k",
		`the API answered text; (said once) route="GET /x" route="GET /x"`: "route",
	}
	for msg, want := range cases {
		if got := RepeatedLogAttr(msg); got != want {
			t.Errorf("RepeatedLogAttr(%q) = %q, want %q", msg, got, want)
		}
	}
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/fakeserver"
)

// announcement is the line the fake prints once it serves.
type announcement struct {
	BaseURL      string   `json:"base_url"`
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	ItemIDs      []string `json:"item_ids"`
}

// serve runs the fake with args until ctx ends and returns its
// announcement, checked to name items item ids on loopback, and the
// channel run's error comes on.
func serve(ctx context.Context, t *testing.T, items int, args ...string) (announcement, <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading announcement: %v", err)
	}
	var a announcement
	if err := json.Unmarshal([]byte(line), &a); err != nil || len(a.ItemIDs) != items || !strings.HasPrefix(a.BaseURL, "http://127.0.0.1:") {
		t.Fatalf("announcement %q: %v", line, err)
	}
	return a, done
}

func TestRunAnnouncesAndServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	a, done := serve(ctx, t, 1, "--items", "1", "--transactions", "10", "--prewarm", "--now", "2026-05-29T12:00:00Z")
	resp, err := http.Post(a.BaseURL+"/auth", "application/json",
		strings.NewReader(`{"clientId":"`+a.ClientID+`","clientSecret":"`+a.ClientSecret+`"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /auth: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Post(a.BaseURL+"/__fake/mutate?kind=new&n=1", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin mutate: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop after cancellation")
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":8080", "192.0.2.1:80", "[::]:0"} {
		if err := run(context.Background(), []string{"--addr", addr}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("--addr %s: %v", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		if err := fakeserver.CheckLoopback(addr); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

// TestHelpExitsZero: -help prints the flags and exits 0, as asking for
// help is no error; a flag the fake does not have exits 2 naming it.
func TestHelpExitsZero(t *testing.T) {
	bin := st.Build(t, "fake-pluggy")
	for _, c := range []struct {
		arg, want string
		code      int
	}{{"--help", "-addr", 0}, {"-h", "-addr", 0}, {"--no-such-flag", "no-such-flag", 2}} {
		out, stderr, code := st.Exec(t, bin, c.arg)
		if code != c.code || !strings.Contains(string(out)+string(stderr), c.want) {
			t.Errorf("fake-pluggy %s: exit %d, want %d, and %q in\n%s%s", c.arg, code, c.code, c.want, out, stderr)
		}
	}
}

// TestRefusesSizesBelowOne: a size below 1 is an error naming the flag,
// printed before anything is served, as the other fakes refuse theirs;
// fake.Options reads 0 as its default, so --items 0 served and announced 2
// items, --transactions 0 served 120 an account.
func TestRefusesSizesBelowOne(t *testing.T) {
	for _, args := range [][]string{
		{"--items", "0"}, {"--items", "-1"}, {"--accounts", "0"},
		{"--transactions", "0"}, {"--page-size", "0"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		var out strings.Builder
		err := run(ctx, append(args, "--addr", "127.0.0.1:0"), &out, io.Discard)
		cancel()
		want := args[0] + " must be at least 1, got " + args[1]
		if err == nil || err.Error() != want {
			t.Errorf("%v: error %v, want %q", args, err, want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: announced %q before failing", args, out.String())
		}
	}
}

// TestItemStatusesFlag: --item-statuses gives the items their status in
// turn, so a run of the fake serves a PARTIAL_SUCCESS item, whose
// statusDetail --status-detail-sdk-spelling spells; without the flag no run
// served anything but UPDATED/SUCCESS and that switch changed nothing. A
// status Pluggy does not have, or more entries than items, is refused
// naming the flag before anything is announced.
func TestItemStatusesFlag(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, done := serve(ctx, t, 2, "--items", "2", "--transactions", "1", "--item-statuses", ",UPDATED:PARTIAL_SUCCESS", "--status-detail-sdk-spelling")
	resp, err := http.Post(a.BaseURL+"/auth", "application/json",
		strings.NewReader(`{"clientId":"`+a.ClientID+`","clientSecret":"`+a.ClientSecret+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var key struct{ APIKey string }
	err = json.NewDecoder(resp.Body).Decode(&key)
	resp.Body.Close()
	if err != nil || key.APIKey == "" {
		t.Fatalf("POST /auth: %v", err)
	}
	type product struct{ IsUpdated bool }
	var got []string
	for _, id := range a.ItemIDs {
		req, _ := http.NewRequest(http.MethodGet, a.BaseURL+"/items/"+id, nil)
		req.Header.Set("X-API-KEY", key.APIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var item struct {
			Status, ExecutionStatus string
			StatusDetail            map[string]*product
		}
		err = json.NewDecoder(resp.Body).Decode(&item)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET /items/%s: %v", id, err)
		}
		s := item.Status + ":" + item.ExecutionStatus
		if p, ok := item.StatusDetail["investmentTransactions"]; ok && p != nil && !p.IsUpdated {
			s += " investmentTransactions not updated"
		}
		if _, ok := item.StatusDetail["investmentsTransactions"]; ok {
			s += " (OAS spelling)"
		}
		got = append(got, s)
	}
	want := []string{"UPDATED:SUCCESS", "UPDATED:PARTIAL_SUCCESS investmentTransactions not updated"}
	if !slices.Equal(got, want) {
		t.Errorf("items served as %q, want %q", got, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}

	for _, c := range []struct{ args []string }{
		{[]string{"--item-statuses", "UPDATED:PARTIAL_SUCESS"}},
		{[]string{"--item-statuses", "UPDATE"}},
		{[]string{"--items", "1", "--item-statuses", "UPDATED,LOGIN_ERROR"}},
	} {
		var out strings.Builder
		err := run(context.Background(), append(c.args, "--addr", "127.0.0.1:0"), &out, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), "--item-statuses") {
			t.Errorf("%v: error %v, want one naming --item-statuses", c.args, err)
		}
		if out.Len() != 0 {
			t.Errorf("%v: announced %q before failing", c.args, out.String())
		}
	}
}

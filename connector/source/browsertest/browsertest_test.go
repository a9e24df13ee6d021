package browsertest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/source/browsertest"
)

// TestBrowser proves the kit end to end: a page's script runs, a click
// posts a form to the server, the redirect is followed, and every request
// the page sent is recorded.
func TestBrowser(t *testing.T) {
	posted := make(chan string, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><title>kit</title>
<form method="post" action="/post"><input id="name" name="name" value="">
<button id="go" type="submit">Go</button></form>
<p id="js"></p><script>document.getElementById("js").textContent = "ran " + (6*7)</script>`)
	})
	mux.HandleFunc("POST /post", func(w http.ResponseWriter, r *http.Request) {
		posted <- r.FormValue("name")
		http.Redirect(w, r, "/done", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<p id="done">done</p>`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := browsertest.New(t)
	b.Navigate(srv.URL + "/")
	if got := b.Text("#js"); got != "ran 42" {
		t.Fatalf("script output %q, want %q", got, "ran 42")
	}
	b.SetValue("#name", "ada")
	b.Click("#go")
	b.WaitVisible("#done")
	if got := <-posted; got != "ada" {
		t.Errorf("posted %q, want ada", got)
	}
	if loc := b.Location(); !strings.HasSuffix(loc, "/done") {
		t.Errorf("location %s, want …/done", loc)
	}
	if n := browsertest.Eval[int](b, `1+2`); n != 3 {
		t.Errorf("Eval 1+2 = %d", n)
	}
	var sawPost bool
	for _, r := range b.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.URL, "/post") && strings.Contains(r.Body, "name=ada") {
			sawPost = true
		}
	}
	if !sawPost {
		t.Errorf("the form post was not recorded: %+v", b.Requests())
	}
}

// TestBrowserLeavesNothingInTempDir proves a browser's files go with its
// test: Chromium, which chromedp kills rather than closes, used to leave
// its singleton directory (org.chromium.Chromium.*) in $TMPDIR each time.
func TestBrowserLeavesNothingInTempDir(t *testing.T) {
	leftovers := func() map[string]bool {
		names, err := filepath.Glob(filepath.Join(os.TempDir(), "org.chromium.Chromium.*"))
		if err != nil {
			t.Fatal(err)
		}
		set := map[string]bool{}
		for _, n := range names {
			set[n] = true
		}
		return set
	}
	before := leftovers()
	t.Run("browser", func(t *testing.T) {
		b := browsertest.New(t)
		b.Navigate("about:blank")
	})
	for n := range leftovers() {
		if !before[n] {
			t.Errorf("the browser left %s behind", n)
		}
	}
}

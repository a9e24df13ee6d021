package pluggy

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/source-pluggy/source-pluggy/connector/connect"
	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// DefaultWidgetURL is Pluggy's Connect widget script (pluggy-connect-sdk).
const DefaultWidgetURL = "https://cdn.pluggy.ai/pluggy-connect/v2.7.0/pluggy-connect.js"

// ConnectCommand is `source-pluggy connect`: it opens the Pluggy Connect
// widget in the user's browser on a page served from loopback, with a
// connect token made here from the config's keys (the page never holds the
// client secret or an apiKey), waits for the widget's onSuccess, follows the
// item's first sync, prints {"item_id","status","connector"} and, with
// --write, adds the item to the config's item_ids.
func ConnectCommand(r *source.Runner) source.Command {
	var o connectOptions
	return connect.Command(r, "connect a bank with the Pluggy Connect widget in your browser; print (or --write) its item id", "item_ids",
		func(fs *pflag.FlagSet) {
			fs.StringVar(&o.update, "update", "", "re-authenticate this item (LOGIN_ERROR, OUTDATED, WAITING_USER_*, or a consent about to expire) instead of connecting a new one")
			fs.StringVar(&o.widgetURL, "widget-url", DefaultWidgetURL, "the Pluggy Connect script the page loads (https, or http from a loopback host)")
			fs.BoolVar(&o.sandbox, "sandbox", false, "offer Pluggy's sandbox banks in the widget (Pluggy Bank: user-ok / password-ok)")
		},
		func(ctx context.Context, s *connect.Session) error { return connectItem(ctx, s, o) })
}

type connectOptions struct {
	update, widgetURL string
	sandbox           bool
}

// ConnectResult is the line `connect` prints on stdout.
type ConnectResult struct {
	ItemID string `json:"item_id"`
	Status string `json:"status"`
	// Connector is the institution's name as Pluggy calls it.
	Connector string `json:"connector"`
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func connectItem(ctx context.Context, s *connect.Session, o connectOptions) error {
	if o.update != "" && !uuidRE.MatchString(o.update) {
		return connect.Usagef("--update %q is not a Pluggy item id (a UUID such as 9f1c…-…); copy it from config.item_ids", o.update)
	}
	if !strings.HasPrefix(o.widgetURL, "https://") && !strings.HasPrefix(o.widgetURL, "http://") {
		return connect.Usagef("--widget-url %q is not an http(s) URL", o.widgetURL)
	}
	u, err := url.Parse(o.widgetURL)
	if err != nil || u.Host == "" {
		return connect.Usagef("--widget-url %q is not a URL of a script, e.g. %s", o.widgetURL, DefaultWidgetURL)
	}
	if u.Scheme == "http" && !source.IsLoopback(u.Hostname()) {
		// The script runs in the page that holds the connect token and
		// takes the bank login: fetched over plain http from the network,
		// anyone on the way could swap it, as base_url's rule says.
		return connect.Usagef("--widget-url %q: plain http is only allowed for loopback hosts (127.0.0.1, ::1, localhost), where a local copy is served; use https://", o.widgetURL)
	}
	src, err := Source{}.Open(ctx, s.Config, s.Env())
	if err != nil {
		return err
	}
	c := src.(*conn)
	c.client.http.Interactive()

	token, err := c.client.connectToken(ctx, o.update)
	if err != nil {
		return c.unreachable(err)
	}
	srv, err := s.Serve()
	if err != nil {
		return err
	}
	results := make(chan widgetResult, 1)
	// taken is the widget's first outcome: once there is one, the page
	// shows it rather than the widget, so that a reload (or the URL opened
	// again) cannot connect a second item this run would neither write
	// nor print.
	var taken atomic.Pointer[widgetResult]
	deliver := func(res widgetResult) bool {
		if !taken.CompareAndSwap(nil, &res) {
			return false // the first outcome wins; onClose after onSuccess is ignored
		}
		results <- res
		return true
	}
	if _, err := connectPage(o, token); err != nil {
		return err
	}
	srv.Handle("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		res := taken.Load()
		if res == nil {
			// A connect token lives 30 minutes from when it is made, and
			// the widget needs it until the bank is connected: a page
			// opened (or reloaded) late in a --timeout longer than that
			// would hold an expired one, and the widget fail with no word
			// of why. So each load gets a token of its own; the first,
			// made before the URL was shown, only proved the keys (and
			// --update's item) good.
			tok, err := c.client.connectToken(r.Context(), o.update)
			if err != nil {
				http.Error(w, s.Secrets.String("could not make a Pluggy connect token for the widget: "+err.Error()+"; reload the page, the terminal's run goes on"), http.StatusBadGateway)
				return
			}
			page, err := connectPage(o, tok)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			connect.HTML(w, page)
			return
		}
		msg := ""
		if res.err != nil {
			msg = s.Secrets.String(res.err.Error())
		}
		var b bytes.Buffer
		if err := takenTemplate.Execute(&b, map[string]any{"ItemID": res.itemID, "Error": msg, "Update": o.update, "W": wordsOf(o)}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		connect.HTML(w, b.String())
	})
	srv.Handle("GET /outcome", func(w http.ResponseWriter, r *http.Request) {
		done, err := s.Outcome(r.Context())
		writeOutcome(w, done, err)
	})
	srv.Handle("POST /{outcome}", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ItemID  string `json:"item_id"`
			Message string `json:"message"`
		}
		_ = connect.ReadJSON(r, &body)
		var res widgetResult
		switch r.PathValue("outcome") {
		case "success":
			if !uuidRE.MatchString(body.ItemID) {
				http.Error(w, "no item id", http.StatusBadRequest)
				return
			}
			res.itemID = strings.ToLower(body.ItemID)
			if first := taken.Load(); first != nil && first.itemID != res.itemID {
				// A second widget (a page loaded twice before the first
				// success) connected another item: say its id, since
				// Pluggy cannot list items later.
				this := "the widget's first outcome"
				if first.itemID != "" {
					this = "item " + first.itemID
				}
				s.Logf("Pluggy connected another item, %s, from a second page; this run is about %s and does not write %s: add it to item_ids yourself, or delete it", res.itemID, this, res.itemID)
				writeOutcome(w, true, fmt.Errorf("this run is about %s; item %s is connected too but not added to the config: add it yourself, or delete it", this, res.itemID))
				return
			}
		case "error":
			res.err = fmt.Errorf("the Pluggy Connect widget reported an error: %s", orUnknown(body.Message))
		case "close":
			res.err = errors.New("the Pluggy Connect widget was closed before a bank was connected; nothing was written")
		default:
			http.NotFound(w, r)
			return
		}
		deliver(res)
		if res.err != nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		// The widget's success means the item exists, not that its first
		// sync logged in (LOGIN_ERROR) or that --write worked: the page
		// says "connected" only once the run has ended well.
		done, err := s.Outcome(r.Context())
		writeOutcome(w, done, err)
	})
	what := "to connect a bank with Pluggy Connect"
	if o.update != "" {
		what = "to re-authenticate item " + o.update + " with Pluggy Connect"
	}
	s.Show(srv.URL("/"), what)

	res, err := connect.Wait(ctx, results, "the Pluggy Connect widget")
	if err != nil {
		return err
	}
	if res.err != nil {
		return res.err
	}
	// The item exists from here on: say its id before anything else can
	// fail, since Pluggy cannot list items later.
	if o.update != "" {
		s.Logf("Pluggy re-authenticated item %s; waiting for its sync to finish", res.itemID)
	} else {
		s.Logf("Pluggy connected item %s; waiting for its first sync to finish", res.itemID)
	}
	it, err := c.waitSync(ctx, res.itemID)
	if err != nil {
		return fmt.Errorf("item %s: %w", res.itemID, err)
	}
	out := ConnectResult{ItemID: it.ID, Status: it.Status, Connector: it.connectorName()}
	if it.Status == "LOGIN_ERROR" {
		_ = s.Result(out)
		return fmt.Errorf("item %s ended in LOGIN_ERROR (executionStatus %s): the bank refused the login; nothing was written; try again: %s", it.ID, it.ExecutionStatus, c.updateCommand(it.ID))
	}
	if o.update == "" {
		c.warnSameConnector(ctx, s, it)
	}
	if s.Write {
		added, err := connect.AddIDs(s.ConfigPath, s.ListField, it.ID)
		if err != nil {
			return fmt.Errorf("item %s is connected, but %w; add it to item_ids by hand", it.ID, err)
		}
		if added {
			s.Logf("Added item %s to item_ids in %s", it.ID, s.ConfigPath)
		} else {
			s.Logf("Item %s was already in item_ids in %s", it.ID, s.ConfigPath)
		}
	}
	return s.Result(out)
}

// warnSameConnector says which items of item_ids are at the new item's
// institution: connect run again for a bank already connected (to renew a
// login, where --update keeps the item) makes a second item of the same
// login, whose accounts every read then reads twice under other ids.
// Pluggy cannot tell two logins at one bank apart, and the new item
// exists already, so it is a warning, not a refusal; an item that cannot
// be fetched is passed over (check names it).
func (c *conn) warnSameConnector(ctx context.Context, s *connect.Session, fresh item) {
	id := fresh.connectorID()
	if id == "" {
		return
	}
	for _, other := range c.cfg.ItemIDs {
		if strings.EqualFold(other, fresh.ID) {
			continue
		}
		_, it, err := c.fetchItem(ctx, other)
		if err != nil || it.connectorID() != id {
			continue
		}
		s.Logf("warning: item %s in item_ids is at %s too. If it is the same login, every read reads its accounts twice, under other account ids: keep one item, removing the other from item_ids and deleting it at Pluggy (Meu Pluggy, or DELETE /items/{id}); to renew a login, run connect --update ITEM_ID, which keeps the item. Two logins at one bank are fine", other, cmp.Or(fresh.connectorName(), "the same institution"))
	}
}

// writeOutcome answers the page with the run's outcome (Session.Outcome).
func writeOutcome(w http.ResponseWriter, done bool, err error) {
	out := struct {
		Done  bool   `json:"done"`
		Error string `json:"error,omitempty"`
	}{Done: done}
	if err != nil {
		out.Error = err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// takenTemplate is the page once the widget has reported: this run's item
// (or the widget's error) and, when the run ends, its outcome. It loads no
// widget.
var takenTemplate = template.Must(template.New("taken").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<title>Connect a bank — source-pluggy</title></head>
<body style="font-family:sans-serif">
<h1>{{if .Update}}Re-authenticate item {{.Update}}{{else}}Connect a bank{{end}}</h1>
<p id="status">{{if .ItemID}}Pluggy {{.W.did}} item {{.ItemID}} in this run; waiting for its {{.W.sync}}…{{else}}This run already ended: {{.Error}}. Close this tab; the terminal says the same.{{end}}</p>
{{if .ItemID}}<script>
const id = {{.ItemID}};
const w = {{.W}};
const statusEl = document.getElementById("status");
fetch("outcome").then(function (r) { return r.json(); }).then(function (o) {
  if (!o.done) {
    statusEl.textContent = "Pluggy " + w.did + " item " + id + " in this run; its " + w.sync + " is still running. The terminal shows the outcome.";
  } else if (o.error) {
    statusEl.textContent = w.failed + ": " + o.error + ". Close this tab; the terminal says the same.";
  } else {
    statusEl.textContent = w.done + " item " + id + "; its " + w.sync + " finished. You can close this tab and go back to the terminal.";
  }
}).catch(function () {
  statusEl.textContent = "Pluggy " + w.did + " item " + id + " in this run. The terminal shows the outcome.";
});
</script>{{end}}
</body></html>
`))

// wordsOf is how the pages speak of the run's item: one the widget created,
// whose first sync the run waits for, or (--update) an existing item the
// owner logged in to again, whose sync that starts is not its first.
func wordsOf(o connectOptions) map[string]string {
	if o.update != "" {
		return map[string]string{"did": "re-authenticated", "sync": "sync", "done": "Re-authenticated", "failed": "Not re-authenticated"}
	}
	return map[string]string{"did": "created", "sync": "first sync", "done": "Connected", "failed": "Not connected"}
}

type widgetResult struct {
	itemID string
	err    error
}

func orUnknown(s string) string {
	if s == "" {
		return "(no message)"
	}
	return s
}

// waitSync polls the item until it leaves UPDATING (or MERGING), at the
// config's item_update_poll_seconds.
func (c *conn) waitSync(ctx context.Context, id string) (item, error) {
	for {
		_, it, err := c.fetchItem(ctx, id)
		if err != nil {
			return item{}, err
		}
		if it.Status != "UPDATING" && it.Status != "MERGING" {
			return it, nil
		}
		t := time.NewTimer(c.cfg.itemUpdatePoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return item{}, fmt.Errorf("still %s (its sync is running; it is connected: run `%s` later, or add it to item_ids yourself): %w", it.Status, c.updateCommand(id), ctx.Err())
		case <-t.C:
		}
	}
}

// connectToken asks Pluggy for a connect token, for updating itemID when
// it is not empty.
func (c *Client) connectToken(ctx context.Context, itemID string) (string, error) {
	body := []byte(`{}`)
	if itemID != "" {
		body, _ = json.Marshal(map[string]string{"itemId": itemID})
	}
	for attempt := 0; ; attempt++ {
		key, gen, err := c.key(ctx)
		if err != nil {
			return "", err
		}
		var tok string
		_, err = c.http.Do(ctx, &httpclient.Request{
			Method: http.MethodPost, URL: c.url("/connect_token", nil), Route: "POST /connect_token", Body: body,
			Header:     http.Header{"X-Api-Key": {key}, "Content-Type": {"application/json"}},
			Idempotent: true, // a token is short-lived and creates nothing
			Accept: func(b []byte) error {
				var v struct {
					AccessToken string `json:"accessToken"`
				}
				if err := json.Unmarshal(b, &v); err != nil {
					return err
				}
				if v.AccessToken == "" {
					return errors.New("no accessToken in the answer")
				}
				tok = v.AccessToken
				return nil
			},
		})
		var se *httpclient.StatusError
		if errors.As(err, &se) && attempt == 0 && keyRejected(se) && c.retryRefused(gen) {
			continue
		}
		if err != nil {
			if itemID != "" && isNotFound(err) {
				return "", source.ConfigErrorf("item %s was not found for this client_id; check --update (it must be one of this application's items)", itemID)
			}
			return "", c.wrap("creating a connect token", err)
		}
		c.secrets.Add(tok) // a credential: only the page may show it
		return tok, nil
	}
}

var pageTemplate = template.Must(template.New("connect").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<title>Connect a bank — source-pluggy</title></head>
<body style="font-family:sans-serif">
<h1>{{if .Cfg.updateItem}}Re-authenticate item {{.Cfg.updateItem}}{{else}}Connect a bank{{end}}</h1>
<p id="status">Loading Pluggy Connect…</p>
<script>
const cfg = {{.Cfg}};
const w = cfg.words;
const statusEl = document.getElementById("status");
function report(outcome, body) {
  return fetch(outcome, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
}
function widgetMissing() {
  statusEl.textContent = "Could not load the Pluggy Connect widget from " + cfg.widgetUrl + ".";
  report("error", {message: "the page could not load the Pluggy Connect widget from " + cfg.widgetUrl + " (check --widget-url and the network)"});
}
function start() {
  if (typeof PluggyConnect === "undefined") { widgetMissing(); return; }
  const opts = {
    connectToken: cfg.connectToken,
    includeSandbox: cfg.includeSandbox,
    onSuccess: function (data) {
      const id = data && data.item && data.item.id;
      statusEl.textContent = "Pluggy " + w.did + " item " + id + "; waiting for its " + w.sync + "…";
      report("success", {item_id: id}).then(function (r) { return r.json(); }).then(function (o) {
        if (!o.done) {
          statusEl.textContent = "Pluggy " + w.did + " item " + id + "; its " + w.sync + " is still running. The terminal shows the outcome.";
        } else if (o.error) {
          statusEl.textContent = w.failed + ": " + o.error + ". Close this tab; the terminal says the same.";
        } else {
          statusEl.textContent = w.done + " item " + id + "; its " + w.sync + " finished. You can close this tab and go back to the terminal.";
        }
      }).catch(function () {
        statusEl.textContent = "Pluggy " + w.did + " item " + id + ". The terminal shows the outcome.";
      });
    },
    onError: function (err) {
      const msg = (err && (err.message || (err.data && err.data.message))) || String(err);
      statusEl.textContent = "Pluggy Connect reported an error: " + msg;
      report("error", {message: msg});
    },
    onClose: function () {
      statusEl.textContent = "Pluggy Connect was closed.";
      report("close", {});
    }
  };
  if (cfg.updateItem) { opts.updateItem = cfg.updateItem; }
  new PluggyConnect(opts).init();
  statusEl.textContent = "Follow the steps in Pluggy Connect.";
}
</script>
<script src="{{.WidgetURL}}" onload="start()" onerror="widgetMissing()"></script>
</body></html>
`))

// connectPage renders the page: the connect token is the only credential
// in it, escaped for its script context by html/template.
func connectPage(o connectOptions, token string) (string, error) {
	var b bytes.Buffer
	err := pageTemplate.Execute(&b, map[string]any{
		"WidgetURL": o.widgetURL,
		"Cfg": map[string]any{
			"connectToken": token, "includeSandbox": o.sandbox, "updateItem": o.update, "widgetUrl": o.widgetURL, "words": wordsOf(o),
		},
	})
	return b.String(), err
}

package pluggy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Webhook is a Pluggy webhook as GET /webhooks lists it. Pluggy never
// returns a webhook's headers.
type Webhook struct {
	ID         string  `json:"id"`
	URL        string  `json:"url"`
	Event      string  `json:"event"`
	CreatedAt  string  `json:"createdAt,omitempty"`
	UpdatedAt  string  `json:"updatedAt,omitempty"`
	DisabledAt *string `json:"disabledAt"`
}

// Webhooks lists the application's webhooks. The spec also allows a 204
// with no body for none (reference, open question 8): an empty body is an
// empty list, as is an envelope with no results.
func (c *Client) Webhooks(ctx context.Context) ([]Webhook, error) {
	var out []Webhook
	for page := 1; page <= maxPages; page++ {
		q := url.Values{}
		if page > 1 {
			q.Set("page", fmt.Sprint(page))
		}
		var env struct {
			Results    []Webhook `json:"results"`
			TotalPages int       `json:"totalPages"`
		}
		err := c.get(ctx, "GET /webhooks", "/webhooks", q, func(b []byte) error {
			env.Results, env.TotalPages = nil, 0
			if b = bytes.TrimSpace(b); len(b) == 0 {
				return nil
			}
			if b[0] == '[' {
				return json.Unmarshal(b, &env.Results)
			}
			return json.Unmarshal(b, &env)
		})
		if err != nil {
			return nil, err
		}
		for _, w := range env.Results {
			if w.ID == "" {
				return nil, source.SystemErrorf("GET /webhooks answered a webhook without an id")
			}
		}
		out = append(out, env.Results...)
		if page >= env.TotalPages || len(env.Results) == 0 {
			return out, nil
		}
	}
	return out, nil
}

// webhookBody is what POST and PATCH /webhooks take. Headers is a pointer
// so PATCH leaves headers alone when none are given.
type webhookBody struct {
	Event   string             `json:"event,omitempty"`
	URL     string             `json:"url,omitempty"`
	Headers *map[string]string `json:"headers,omitempty"`
	Enabled *bool              `json:"enabled,omitempty"`
}

// CreateWebhook is POST /webhooks.
func (c *Client) CreateWebhook(ctx context.Context, event, u string, headers map[string]string) (Webhook, error) {
	b := webhookBody{Event: event, URL: u}
	if len(headers) > 0 {
		b.Headers = &headers
	}
	var w Webhook
	err := c.send(ctx, http.MethodPost, "POST /webhooks", "/webhooks", b, &w)
	return w, err
}

// UpdateWebhook is PATCH /webhooks/{id}.
func (c *Client) UpdateWebhook(ctx context.Context, id string, b webhookBody) (Webhook, error) {
	var w Webhook
	err := c.send(ctx, http.MethodPatch, "PATCH /webhooks/{id}", "/webhooks/"+url.PathEscape(id), b, &w)
	return w, err
}

// DeleteWebhook is DELETE /webhooks/{id}.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	return c.send(ctx, http.MethodDelete, "DELETE /webhooks/{id}", "/webhooks/"+url.PathEscape(id), nil, nil)
}

// send makes one mutation. It is not retried on an ambiguous failure (a
// POST that timed out may have created the webhook), only on 429 and after
// a rejected key, where Pluggy did nothing.
func (c *Client) send(ctx context.Context, method, route, path string, body any, into any) error {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		key, gen, err := c.key(ctx)
		if err != nil {
			return err
		}
		h := http.Header{"X-Api-Key": {key}}
		if raw != nil {
			h.Set("Content-Type", "application/json")
		}
		_, err = c.http.Do(ctx, &httpclient.Request{
			Method: method, URL: c.url(path, nil), Route: route, Header: h, Body: raw,
			Idempotent: method != http.MethodPost,
			NoRetry: func(r *httpclient.Response) bool {
				return r.Status != http.StatusTooManyRequests && method == http.MethodPost
			},
			Accept: func(b []byte) error {
				if into == nil || len(b) == 0 {
					return nil
				}
				return json.Unmarshal(b, into)
			},
		})
		var se *httpclient.StatusError
		if errors.As(err, &se) && attempt == 0 && keyRejected(se) && c.retryRefused(gen) {
			continue
		}
		if err != nil {
			return c.wrap(route, err)
		}
		return nil
	}
}

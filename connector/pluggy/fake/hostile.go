package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
)

// Hostile is misbehaviour in what the API says rather than in how it
// delivers it (that is Faults): fields Pluggy never documented, rows missing
// a required field, one account that always fails, and error bodies that
// quote the request back, credentials included. It is layered over Handler
// by HostileHandler, so the dataset and the fault schedule are untouched.
type Hostile struct {
	// ExtraField, when set, adds an undocumented member of that name (an
	// object with nested values) to every 200 answer: to each row of a
	// page (accounts, categories, transactions, bills, investments and
	// their movements, loans), to a single object (an item, an identity),
	// and at the top level of every page envelope.
	ExtraField string
	// NoIDAccount, when set, serves the first row of every GET
	// /v2/transactions page of that account without its "id".
	NoIDAccount string
	// FailAccount, when set, answers 500 INTERNAL_SERVER_ERROR to every
	// GET /v2/transactions of that account, as a backend partition that is
	// down would.
	FailAccount string
	// Misfits, when set, serves values no typed column of the schemas can
	// hold exactly, as the real API sends them (pluggy-api.md §12): every
	// row of GET /v2/transactions has an "amount" with six decimal places
	// a "creditCardMetadata" that is an array instead of an object and an
	// "order" that is a string instead of an integer;
	// every row of GET /investments an "amountOriginal" with fourteen
	// decimal places and a "metadata" carrying a member the schema lacks.
	Misfits bool
	// Echo maps "METHOD /path-prefix" (e.g. "GET /v2/transactions" or
	// "POST /auth") to a status answered with a body that quotes the request:
	// its URL, its X-API-KEY header and its body. A proxy or a debug build
	// doing this is how credentials end up in error messages.
	Echo map[string]int
}

// HostileHandler returns Handler with h's misbehaviour layered on top. Every
// request still reaches the fake (and counts in Stats), except those Echo
// answers.
func (s *Server) HostileHandler(h Hostile) http.Handler {
	inner := s.Handler()
	echo := map[string]int{}
	for k, v := range h.Echo {
		echo[k] = v
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for prefix, status := range echo {
			method, path, _ := strings.Cut(prefix, " ")
			if r.Method == method && strings.HasPrefix(r.URL.Path, path) {
				writeEcho(w, r, status)
				return
			}
		}
		txns := r.Method == http.MethodGet && r.URL.Path == "/v2/transactions"
		account := r.URL.Query().Get("accountId")
		misfit := h.Misfits && r.Method == http.MethodGet && (txns || r.URL.Path == "/investments")
		rewrite := h.ExtraField != "" || misfit || (txns && h.NoIDAccount != "" && account == h.NoIDAccount)
		fail := txns && h.FailAccount != "" && account == h.FailAccount
		if !rewrite && !fail {
			inner.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r)
		if fail {
			rep := internalError()
			writeRewritten(w, rep.status, nil, rep.body())
			return
		}
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			if b, err := h.rewrite(body, txns && h.NoIDAccount != "" && account == h.NoIDAccount); err == nil {
				body = b
			}
			if misfit {
				if b, err := misfits(body, txns); err == nil {
					body = b
				}
			}
		}
		writeRewritten(w, rec.Code, rec.Header(), body)
	})
}

// rewrite applies ExtraField and NoIDAccount to a 200 body.
func (h Hostile) rewrite(body []byte, dropID bool) ([]byte, error) {
	extra := []byte(`{"introducedIn":"2027-01","nested":[1,2.50,{"deep":null}],"flag":true}`)
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) > 0 && trimmed[0] == '[': // categories as a bare array
		var rows []json.RawMessage
		if err := json.Unmarshal(trimmed, &rows); err != nil {
			return nil, err
		}
		return encodeRaw(h.rows(rows, extra, false))
	case len(trimmed) > 0 && trimmed[0] == '{':
	default:
		return body, nil
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &env); err != nil {
		return nil, err
	}
	results, isList := env["results"]
	if !isList { // a single object: GET /items/{id}
		if h.ExtraField == "" {
			return body, nil
		}
		return addMember(trimmed, h.ExtraField, extra), nil
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(results, &rows); err != nil {
		return nil, err
	}
	b, err := encodeRaw(h.rows(rows, extra, dropID))
	if err != nil {
		return nil, err
	}
	env["results"] = b
	if h.ExtraField != "" {
		env[h.ExtraField] = extra
	}
	// Keep the envelope's members in a stable order.
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendString(out, k)
		out = append(out, ':')
		out = append(out, env[k]...)
	}
	return append(out, '}'), nil
}

func (h Hostile) rows(rows []json.RawMessage, extra []byte, dropID bool) []json.RawMessage {
	for i, row := range rows {
		if h.ExtraField != "" {
			row = addMember(row, h.ExtraField, extra)
		}
		if dropID && i == 0 {
			var m map[string]json.RawMessage
			if json.Unmarshal(row, &m) == nil {
				delete(m, "id")
				if b, err := encodeRaw(m); err == nil {
					row = b
				}
			}
		}
		rows[i] = row
	}
	return rows
}

// addMember appends "name":value at the end of the JSON object obj, keeping
// every other byte.
func addMember(obj []byte, name string, value []byte) []byte {
	obj = bytes.TrimSpace(obj)
	if len(obj) < 2 || obj[len(obj)-1] != '}' {
		return obj
	}
	out := append([]byte(nil), obj[:len(obj)-1]...)
	if len(bytes.TrimSpace(obj[1:len(obj)-1])) > 0 {
		out = append(out, ',')
	}
	out = appendString(out, name)
	out = append(out, ':')
	out = append(out, value...)
	return append(out, '}')
}

func encodeRaw(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

func writeRewritten(w http.ResponseWriter, status int, header http.Header, body []byte) {
	for k, v := range header {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeEcho answers status with Pluggy's error shape, its message quoting
// the request whole.
func writeEcho(w http.ResponseWriter, r *http.Request, status int) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	msg := fmt.Sprintf("rejected %s %s (X-API-KEY: %s) body: %s", r.Method, r.URL.String(), r.Header.Get("X-API-KEY"), body)
	b := append([]byte(`{"code":`), strconv.Itoa(status)...)
	b = append(b, `,"message":`...)
	b = appendString(b, msg)
	b = append(b, '}')
	writeRewritten(w, status, nil, b)
}

// IssuedKeys returns every apiKey POST /auth has issued, so tests can check
// that none of them is ever printed.
func (s *Server) IssuedKeys() []string {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	out := make([]string, 0, len(s.keys))
	for k := range s.keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// misfits rewrites the rows of a 200 page with values that fit no typed
// column (see Hostile.Misfits); every other member keeps its bytes.
func misfits(body []byte, txns bool) ([]byte, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, err
	}
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal(env["results"], &rows); err != nil {
		return nil, err
	}
	for _, row := range rows {
		if txns {
			if a := row["amount"]; len(a) > 0 && a[0] != 'n' {
				if bytes.IndexByte(a, '.') < 0 {
					a = append(a[:len(a):len(a)], '.')
				}
				row["amount"] = append(a[:len(a):len(a)], "000001"...)
			}
			row["creditCardMetadata"] = json.RawMessage(`[{"installmentNumber":1,"totalInstallments":3}]`)
			row["order"] = json.RawMessage(`"3"`)
			continue
		}
		row["amountOriginal"] = json.RawMessage(`1266.80303412345678`)
		row["metadata"] = json.RawMessage(`{"taxRegime":"REGRESSIVE","fundQuotaDate":"2026-11-30"}`)
	}
	b, err := encodeRaw(rows)
	if err != nil {
		return nil, err
	}
	env["results"] = b
	return encodeRaw(env)
}

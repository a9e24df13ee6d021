package schemas

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
)

// gcStreams is every GoCardless stream that must have a schema.
var gcStreams = []string{"accounts", "balances", "pending_transactions", "requisitions", "transactions"}

// gcKeys is each stream's primary key: the only fields that must be present
// and non-null.
var gcKeys = map[string][]string{
	"accounts":             {"id"},
	"balances":             {"account_id", "balanceType", "reference_date_key"},
	"pending_transactions": {"account_id", "pending_key"},
	"requisitions":         {"id"},
	"transactions":         {"account_id", "transaction_key"},
}

// gcDateFields are the date-only fields, the only ones with "format": "date".
var gcDateFields = []string{"bookingDate", "valueDate", "referenceDate"}

func gcRaw(t *testing.T, stream string) []byte {
	t.Helper()
	raw, err := Load(GoCardless, stream)
	if err != nil {
		t.Fatalf("Load(GoCardless, %q): %v", stream, err)
	}
	return raw
}

func gcDoc(t *testing.T, stream string) map[string]any {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(gcRaw(t, stream)))
	if err != nil {
		t.Fatalf("%s: %v", stream, err)
	}
	return doc.(map[string]any)
}

func gcCompile(t *testing.T, stream string) *jsonschema.Schema {
	return compileDoc(t, "gocardless", stream, gcDoc(t, stream))
}

func TestGoCardlessEmbeddedStreams(t *testing.T) {
	checkEmbedded(t, GoCardless, "gocardless", gcStreams)
}

// TestGoCardlessCanonicalFormat keeps the files in the same canonical form
// as the Pluggy ones: sorted keys, 2-space indentation, final newline.
func TestGoCardlessCanonicalFormat(t *testing.T) {
	for _, stream := range gcStreams {
		checkCanonical(t, "gocardless/"+stream+".json", gcRaw(t, stream))
	}
}

// checkCanonical fails when raw is not in canonical form: sorted keys,
// 2-space indentation, final newline.
func checkCanonical(t *testing.T, name string, raw []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(v)
	if !bytes.Equal(buf.Bytes(), raw) {
		t.Errorf("%s is not in canonical form", name)
	}
}

// walkRules are a provider's naming rules for providerWalk: which fields are
// dates (format date) and which timestamps of varying shape (x-lenient-time).
type walkRules struct {
	dateFields []string
	lenient    func(name string) bool
	// decimals are the decimal strings (x-decimal-string, with a pattern).
	decimals []string
}

var gcRules = walkRules{
	dateFields: gcDateFields,
	decimals:   []string{"amount"},
	lenient: func(name string) bool {
		return strings.HasSuffix(name, "DateTime") || name == "created" || name == "last_accessed"
	},
}

// gcWalk checks the house rules on one GoCardless schema node.
func gcWalk(t *testing.T, where, name string, s map[string]any, key bool) {
	t.Helper()
	providerWalk(t, gcRules, where, name, s, key)
}

// providerWalk checks the house rules on one schema node: no composition
// keywords, open objects, everything nullable but the keys, formats and
// annotations only where they belong.
func providerWalk(t *testing.T, rules walkRules, where, name string, s map[string]any, key bool) {
	t.Helper()
	if object, array, ok := oneOrMany(t, where, s); ok {
		providerWalk(t, rules, where, name, object, key)
		providerWalk(t, rules, where, name, array, key)
		return
	}
	typ, nullable, ok := checkNode(t, where, s)
	if !ok {
		return
	}
	if key && (nullable || typ != "string") {
		t.Errorf("%s: a key must be a non-null string, got %v", where, s["type"])
	}
	if !key && !nullable {
		t.Errorf("%s: not nullable", where)
	}

	format, hasFormat := s["format"]
	if isDate := slices.Contains(rules.dateFields, name); isDate != (hasFormat && format == "date" && typ == "string") {
		t.Errorf("%s: format %v; only %v have format date", where, format, rules.dateFields)
	}
	lenient := s["x-lenient-time"] == true
	if wantLenient := rules.lenient(name); wantLenient && !lenient {
		t.Errorf("%s: a date-time field without x-lenient-time", where)
	}
	if lenient && (typ != "string" || hasFormat) {
		t.Errorf("%s: x-lenient-time belongs on a string without format", where)
	}
	isDecimal := slices.Contains(rules.decimals, name)
	if (s["x-decimal-string"] == true) != isDecimal {
		t.Errorf("%s: x-decimal-string must be on exactly the amount strings", where)
	}
	if isDecimal && (typ != "string" || s["pattern"] == nil) {
		t.Errorf("%s: an amount must be a decimal string with a pattern", where)
	}

	switch typ {
	case "object":
		if s["additionalProperties"] != true {
			t.Errorf("%s: object without additionalProperties: true", where)
		}
		props, ok := s["properties"].(map[string]any)
		if !ok {
			t.Errorf("%s: object without properties", where)
			return
		}
		for child, p := range props {
			providerWalk(t, rules, where+"."+child, child, p.(map[string]any), false)
		}
	case "array":
		items, ok := s["items"].(map[string]any)
		if !ok {
			t.Errorf("%s: array without a single items schema", where)
			return
		}
		providerWalk(t, rules, where+"[]", "", items, false)
	}
}

func TestGoCardlessSchemaRules(t *testing.T) {
	for _, stream := range gcStreams {
		t.Run(stream, func(t *testing.T) {
			s := gcDoc(t, stream)
			gcCompile(t, stream)
			if got := s["$schema"]; got != "http://json-schema.org/draft-07/schema#" {
				t.Errorf("$schema = %v", got)
			}
			if s["type"] != "object" || s["additionalProperties"] != true || s["title"] == nil || s["description"] == nil {
				t.Errorf("top level: type %v, additionalProperties %v, title %v", s["type"], s["additionalProperties"], s["title"])
			}
			var required []string
			for _, r := range s["required"].([]any) {
				required = append(required, r.(string))
			}
			if !slices.Equal(required, gcKeys[stream]) {
				t.Errorf("required = %v, want the key %v", required, gcKeys[stream])
			}
			for name, p := range s["properties"].(map[string]any) {
				gcWalk(t, stream+"."+name, name, p.(map[string]any), slices.Contains(required, name))
			}
		})
	}
}

// gcRecords reads everything from a fake GoCardless server over HTTP and
// shapes the records as the connector emits them.
func gcRecords(t *testing.T) map[string][]map[string]any {
	t.Helper()
	now := time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
	f := fake.New(fake.Options{Requisitions: 3, Now: func() time.Time { return now }})
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()

	call := func(method, path, token string, body any) []byte {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, srv.URL+"/api/v2"+path, rd)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b
	}
	decode := func(b []byte) map[string]any {
		t.Helper()
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return v.(map[string]any)
	}
	var tok struct{ Access string }
	json.Unmarshal(call("POST", "/token/new/", "", map[string]string{"secret_id": f.SecretID(), "secret_key": f.SecretKey()}), &tok)
	get := func(path string) map[string]any { return decode(call("GET", path, tok.Access, nil)) }

	out := map[string][]map[string]any{}
	for _, rid := range f.RequisitionIDs() {
		out["requisitions"] = append(out["requisitions"], get("/requisitions/"+rid+"/"))
		for _, acc := range f.AccountIDs(rid) {
			record := get("/accounts/" + acc + "/")
			record["details"] = get("/accounts/" + acc + "/details/")["account"]
			record["requisition_id"] = rid
			out["accounts"] = append(out["accounts"], record)

			for _, b := range get("/accounts/" + acc + "/balances/")["balances"].([]any) {
				record := maps.Clone(b.(map[string]any))
				record["account_id"] = acc
				record["reference_date_key"], _ = record["referenceDate"].(string)
				out["balances"] = append(out["balances"], record)
			}

			txs := get("/accounts/" + acc + "/transactions/")["transactions"].(map[string]any)
			booked := txs["booked"].([]any)
			keys := transactionKeys(booked)
			for i, row := range booked {
				record := row.(map[string]any)
				record["account_id"], record["transaction_key"], record["status"] = acc, keys[i], "booked"
				out["transactions"] = append(out["transactions"], record)
			}
			for _, row := range txs["pending"].([]any) {
				record := row.(map[string]any)
				content, _ := json.Marshal(record)
				sum := sha256.Sum256(content)
				record["account_id"], record["pending_key"], record["status"] = acc, hex.EncodeToString(sum[:]), "pending"
				out["pending_transactions"] = append(out["pending_transactions"], record)
			}
		}
	}
	return out
}

// transactionKeys applies the documented key rule: transactionId when it is
// valid, else internalTransactionId.
func transactionKeys(rows []any) []string {
	valid := func(row any) (string, bool) {
		id, ok := row.(map[string]any)["transactionId"].(string)
		return id, ok && strings.TrimSpace(id) != "" && id != "NOTPROVIDED"
	}
	seen := map[string]int{}
	for _, row := range rows {
		if id, ok := valid(row); ok {
			seen[id]++
		}
	}
	keys := make([]string, len(rows))
	for i, row := range rows {
		if id, ok := valid(row); ok && seen[id] == 1 {
			keys[i] = id
		} else {
			keys[i] = row.(map[string]any)["internalTransactionId"].(string)
		}
	}
	return keys
}

// TestGoCardlessRecordsValidate validates everything the fake serves, shaped
// as records, and checks that the schemas declare every field the fake
// sends (the fake uses every field of the Berlin Group objects).
func TestGoCardlessRecordsValidate(t *testing.T) {
	records := gcRecords(t)
	for _, stream := range gcStreams {
		t.Run(stream, func(t *testing.T) {
			sch, doc := gcCompile(t, stream), gcDoc(t, stream)
			if len(records[stream]) == 0 {
				t.Fatal("no records")
			}
			extra := map[string]bool{}
			for _, r := range records[stream] {
				if err := sch.Validate(any(r)); err != nil {
					t.Fatalf("record does not validate: %v\n%v", err, r)
				}
				for _, f := range undeclared(doc, r, stream) {
					extra[f] = true
				}
			}
			if len(extra) > 0 {
				t.Errorf("fields not declared in the schema: %v", slices.Sorted(maps.Keys(extra)))
			}
		})
	}
	keys := map[string]bool{}
	for _, r := range records["transactions"] {
		k := r["account_id"].(string) + "/" + r["transaction_key"].(string)
		if keys[k] {
			t.Errorf("transaction key %s repeats", k)
		}
		keys[k] = true
	}
}

// TestGoCardlessValidationRejects proves the schemas are not vacuous.
func TestGoCardlessValidationRejects(t *testing.T) {
	records := gcRecords(t)
	txn, bal := gcCompile(t, "transactions"), gcCompile(t, "balances")
	clone := func(m map[string]any) map[string]any {
		b, _ := json.Marshal(m)
		v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		return v.(map[string]any)
	}
	row := records["transactions"][0]
	for name, mutate := range map[string]func(map[string]any){
		"missing transaction_key": func(m map[string]any) { delete(m, "transaction_key") },
		"null transaction_key":    func(m map[string]any) { m["transaction_key"] = nil },
		"null account_id":         func(m map[string]any) { m["account_id"] = nil },
		"numeric amount": func(m map[string]any) {
			m["transactionAmount"] = map[string]any{"amount": json.Number("-5.5"), "currency": "EUR"}
		},
		"amount with a comma": func(m map[string]any) {
			m["transactionAmount"] = map[string]any{"amount": "1,234.00", "currency": "EUR"}
		},
		"bookingDate not a date":  func(m map[string]any) { m["bookingDate"] = "14.03.2025" },
		"valueDate with time":     func(m map[string]any) { m["valueDate"] = "2025-03-14T10:00:00Z" },
		"remittance array string": func(m map[string]any) { m["remittanceInformationUnstructuredArray"] = "x" },
	} {
		m := clone(row)
		mutate(m)
		if err := txn.Validate(any(m)); err == nil {
			t.Errorf("transactions, %s: validated, want an error", name)
		}
	}
	// Odd bank time formats, nulls and unknown fields pass.
	m := clone(row)
	m["bookingDateTime"], m["valueDateTime"] = "2025-03-14 10:22:31", "2025-03-14T10:22:31.123456"
	m["creditorName"], m["bankSpecificField"] = nil, map[string]any{"x": json.Number("1")}
	if err := txn.Validate(any(m)); err != nil {
		t.Errorf("lenient row rejected: %v", err)
	}

	var balance map[string]any
	for _, b := range records["balances"] {
		if _, ok := b["referenceDate"]; !ok {
			balance = b
		}
	}
	if balance == nil || balance["reference_date_key"] != "" {
		t.Fatalf("no balance without referenceDate to test the key with: %v", balance)
	}
	if err := bal.Validate(any(clone(balance))); err != nil {
		t.Errorf("balance without referenceDate rejected: %v", err)
	}
	for name, mutate := range map[string]func(map[string]any){
		"missing reference_date_key": func(m map[string]any) { delete(m, "reference_date_key") },
		"null balanceType":           func(m map[string]any) { m["balanceType"] = nil },
		"referenceDate not a date":   func(m map[string]any) { m["referenceDate"] = "yesterday" },
	} {
		m := clone(balance)
		mutate(m)
		if err := bal.Validate(any(m)); err == nil {
			t.Errorf("balances, %s: validated, want an error", name)
		}
	}
}

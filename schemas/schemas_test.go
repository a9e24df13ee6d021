package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// pluggyStreams is every Pluggy stream that must have a schema.
var pluggyStreams = []string{
	"accounts",
	"categories",
	"credit_card_bills",
	"identity",
	"investment_transactions",
	"investments",
	"items",
	"loans",
	"transactions",
}

// joinIDs are the ids each stream must declare so records can be joined:
// either sent by Pluggy or added by the connector.
var joinIDs = map[string][]string{
	"accounts":                {"itemId"},
	"credit_card_bills":       {"accountId"},
	"identity":                {"itemId"},
	"investment_transactions": {"investmentId", "itemId"},
	"investments":             {"itemId"},
	"loans":                   {"itemId"},
	"transactions":            {"accountId", "itemId"},
}

// examples maps each fixture under testdata/pluggy/examples to its stream.
// The fixtures are the example shapes from the Pluggy reference (section 10),
// one record per file, plus variants the connector emits.
var examples = map[string]string{
	"account_bank.json":            "accounts",
	"account_credit.json":          "accounts",
	"item.json":                    "items",
	"item_login_error.json":        "items",
	"item_partial_success.json":    "items",
	"transaction_credit_card.json": "transactions",
	"transaction_pix.json":         "transactions",
	"transaction_tombstone.json":   "transactions",
}

const examplesDir = "../testdata/pluggy/examples"

func loadDoc(t *testing.T, stream string) map[string]any {
	t.Helper()
	raw, err := Load(Pluggy, stream)
	if err != nil {
		t.Fatalf("Load(%q): %v", stream, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", stream, err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		t.Fatalf("%s: schema is %T, want object", stream, doc)
	}
	return m
}

func compile(t *testing.T, stream string) *jsonschema.Schema {
	return compileDoc(t, "pluggy", stream, loadDoc(t, stream))
}

// compileDoc compiles one provider's stream schema as draft-07 with format
// assertions on, as Airbyte's acceptance tests validate records.
func compileDoc(t *testing.T, provider, stream string, doc map[string]any) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	url := "https://schemas.source-pluggy.invalid/" + provider + "/" + stream + ".json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatalf("%s: %v", stream, err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("%s: compile: %v", stream, err)
	}
	return sch
}

// checkEmbedded asserts fsys embeds exactly want under dir/.
func checkEmbedded(t *testing.T, fsys fs.FS, dir string, want []string) {
	t.Helper()
	files, err := fs.Glob(fsys, dir+"/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, strings.TrimSuffix(strings.TrimPrefix(f, dir+"/"), ".json"))
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("embedded %s schemas = %v, want %v", dir, got, want)
	}
}

func TestEmbeddedStreams(t *testing.T) { checkEmbedded(t, Pluggy, "pluggy", pluggyStreams) }

func TestLoad(t *testing.T) {
	sub, err := fs.Sub(Pluggy, "pluggy")
	if err != nil {
		t.Fatal(err)
	}
	for _, stream := range pluggyStreams {
		a, err := Load(Pluggy, stream)
		if err != nil {
			t.Fatalf("Load(Pluggy, %q): %v", stream, err)
		}
		b, err := Load(sub, stream)
		if err != nil {
			t.Fatalf("Load(sub, %q): %v", stream, err)
		}
		if !bytes.Equal(a, b) || !json.Valid(a) {
			t.Errorf("%s: Load via root and via sub differ or are invalid", stream)
		}
	}

	if _, err := Load(Pluggy, "no_such_stream"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing stream: err = %v, want fs.ErrNotExist", err)
	}
	for _, bad := range []string{"", "../items", "pluggy/items", "items.json", "*", "Items"} {
		if _, err := Load(Pluggy, bad); err == nil {
			t.Errorf("Load(%q): want an error", bad)
		}
	}
	ambiguous := fstest.MapFS{
		"a/x.json": {Data: []byte(`{}`)},
		"b/x.json": {Data: []byte(`{}`)},
	}
	if _, err := Load(ambiguous, "x"); err == nil {
		t.Error("ambiguous stream: want an error")
	}
	for _, body := range []string{`[]`, `null`, `{`, ``} {
		if _, err := Load(fstest.MapFS{"x.json": {Data: []byte(body)}}, "x"); err == nil {
			t.Errorf("schema %q: want a not-an-object error", body)
		}
	}
}

// TestMustLoad: a provider's schema loads, and one that does not is a
// panic naming it.
func TestMustLoad(t *testing.T) {
	if got := MustLoad(EnableBanking, "accounts"); !json.Valid(got) {
		t.Errorf("accounts: %s", got)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "no_such_stream") {
			t.Errorf("recovered %v, want a panic naming the stream", r)
		}
	}()
	MustLoad(EnableBanking, "no_such_stream")
}

// TestCanonicalFormat keeps the files deterministic: keys sorted, 2-space
// indentation, trailing newline, exactly what encoding/json produces.
func TestCanonicalFormat(t *testing.T) {
	for _, stream := range pluggyStreams {
		raw, err := Load(Pluggy, stream)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", stream, err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), raw) {
			t.Errorf("%s.json is not in canonical form (sorted keys, 2-space indent, final newline)", stream)
		}
	}
}

func TestSchemasCompileAsDraft7(t *testing.T) {
	for _, stream := range pluggyStreams {
		compile(t, stream)
	}
}

// typesOf returns the JSON types a schema allows and whether it is nullable.
func typesOf(t *testing.T, where string, s map[string]any) (nonNull []string, nullable bool) {
	t.Helper()
	switch v := s["type"].(type) {
	case string:
		return []string{v}, v == "null"
	case []any:
		for _, e := range v {
			name, _ := e.(string)
			if name == "null" {
				nullable = true
			} else {
				nonNull = append(nonNull, name)
			}
		}
		return nonNull, nullable
	case nil:
		t.Errorf("%s: no type", where)
	default:
		t.Errorf("%s: type is %T", where, v)
	}
	return nil, false
}

// oneOrMany recognises the one two-shape node the schemas declare: a value
// the real API sends either as an object or as an array of such objects
// (GoCardless's currencyExchange), typed ["array", "object", "null"] with
// "items" the object's schema and "properties" the same properties. It
// returns the two shapes as nodes of one type each, for the house rules,
// and fails the test when the two halves disagree.
func oneOrMany(t *testing.T, where string, s map[string]any) (object, array map[string]any, ok bool) {
	t.Helper()
	types, nullable := typesOf(t, where, s)
	if len(types) != 2 || !slices.Contains(types, "array") || !slices.Contains(types, "object") {
		return nil, nil, false
	}
	items, _ := s["items"].(map[string]any)
	if items == nil || !reflect.DeepEqual(items["properties"], s["properties"]) {
		t.Errorf("%s: an object-or-array node must have items whose properties are its own properties", where)
	}
	object, array = map[string]any{}, map[string]any{}
	for k, v := range s {
		switch k {
		case "items":
			array[k] = v
		case "properties", "additionalProperties", "required":
			object[k] = v
		default:
			object[k], array[k] = v, v
		}
	}
	one := func(typ string) any {
		if nullable {
			return []any{typ, "null"}
		}
		return typ
	}
	object["type"], array["type"] = one("object"), one("array")
	return object, array, true
}

// checkNode applies the rules every schema node of both providers follows:
// no composition or enum keywords, and one type, T or [T, "null"]. ok is
// false when the type is not usable, so the caller stops there.
func checkNode(t *testing.T, where string, s map[string]any) (typ string, nullable, ok bool) {
	t.Helper()
	for _, kw := range []string{"$ref", "allOf", "anyOf", "oneOf", "not", "enum", "const", "if", "then", "else",
		"patternProperties", "definitions", "$defs"} {
		if _, ok := s[kw]; ok {
			t.Errorf("%s: uses %q", where, kw)
		}
	}
	types, nullable := typesOf(t, where, s)
	if len(types) != 1 {
		t.Errorf("%s: type must be T or [T, \"null\"], got %v", where, s["type"])
		return "", nullable, false
	}
	return types[0], nullable, true
}

// walk checks the house rules on one schema node and recurses into
// properties and items. Property names are not keywords, so a field called
// "not" or "enum" is fine.
func walk(t *testing.T, where string, s map[string]any) {
	t.Helper()
	if object, array, ok := oneOrMany(t, where, s); ok {
		walk(t, where, object)
		walk(t, where, array)
		return
	}
	typ, _, ok := checkNode(t, where, s)
	if !ok {
		return
	}

	if ap, ok := s["additionalProperties"]; ok && ap != true {
		t.Errorf("%s: additionalProperties = %v, want true", where, ap)
	}
	if f, ok := s["format"]; ok {
		if f != "date-time" || typ != "string" {
			t.Errorf("%s: format %v on %s; only date-time on strings is used", where, f, typ)
		}
	}
	if v, ok := s["x-lenient-time"]; ok {
		if v != true || typ != "string" {
			t.Errorf("%s: x-lenient-time must be true and on a string", where)
		}
		if _, ok := s["format"]; ok {
			t.Errorf("%s: x-lenient-time field must not have a format", where)
		}
	}
	if v, ok := s["x-decimal-scale"]; ok {
		// 8 for rates and quantities; 9 for coordinates; 12 for what Pluggy
		// computes on investments (quota prices beyond 8 places, and money
		// derived from them).
		n, isNum := v.(json.Number)
		if !isNum || (n.String() != "8" && n.String() != "9" && n.String() != "12") || typ != "number" {
			t.Errorf("%s: x-decimal-scale must be 8, 9 or 12 on a number, got %v on %s", where, v, typ)
		}
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
		for name, p := range props {
			ps, ok := p.(map[string]any)
			if !ok {
				t.Errorf("%s.%s: not a schema object", where, name)
				continue
			}
			walk(t, where+"."+name, ps)
		}
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := props[r.(string)]; !ok {
					t.Errorf("%s: required %v is not a property", where, r)
				}
			}
		}
	case "array":
		items, ok := s["items"].(map[string]any)
		if !ok {
			t.Errorf("%s: array without a single items schema", where)
			return
		}
		walk(t, where+"[]", items)
	case "string", "number", "integer", "boolean":
	default:
		t.Errorf("%s: unexpected type %q", where, typ)
	}
}

func prop(t *testing.T, stream string, s map[string]any, path ...string) map[string]any {
	t.Helper()
	cur := s
	for _, p := range path {
		props, _ := cur["properties"].(map[string]any)
		next, ok := props[p].(map[string]any)
		if !ok {
			t.Fatalf("%s: no property %s", stream, strings.Join(path, "."))
		}
		cur = next
	}
	return cur
}

func TestSchemaRules(t *testing.T) {
	for _, stream := range pluggyStreams {
		t.Run(stream, func(t *testing.T) {
			s := loadDoc(t, stream)
			if got := s["$schema"]; got != "http://json-schema.org/draft-07/schema#" {
				t.Errorf("$schema = %v", got)
			}
			if s["type"] != "object" {
				t.Errorf("top-level type = %v, want \"object\"", s["type"])
			}
			walk(t, stream, s)

			// Primary key: present, a plain non-null string, required.
			id := prop(t, stream, s, "id")
			if id["type"] != "string" {
				t.Errorf("id type = %v, want \"string\"", id["type"])
			}
			req, _ := s["required"].([]any)
			if !slices.Contains(req, any("id")) {
				t.Errorf("required = %v, want it to contain id", req)
			}
			for _, j := range joinIDs[stream] {
				prop(t, stream, s, j)
			}
		})
	}
}

func TestTransactionsSchema(t *testing.T) {
	s := loadDoc(t, "transactions")
	created := prop(t, "transactions", s, "createdAt")
	if created["format"] != "date-time" {
		t.Errorf("createdAt format = %v, want date-time", created["format"])
	}
	deleted := prop(t, "transactions", s, "_ab_cdc_deleted_at")
	if types, nullable := typesOf(t, "_ab_cdc_deleted_at", deleted); !slices.Equal(types, []string{"string"}) ||
		!nullable || deleted["format"] != "date-time" {
		t.Errorf("_ab_cdc_deleted_at = %v, want nullable date-time string", deleted)
	}
	// A tombstone has only id, accountId, itemId, createdAt and
	// _ab_cdc_deleted_at, so
	// nothing else may be required.
	req, _ := s["required"].([]any)
	if !slices.Equal(req, []any{"id", "accountId"}) {
		t.Errorf("required = %v, want [id accountId]", req)
	}
	if acc := prop(t, "transactions", s, "accountId"); acc["type"] != "string" {
		t.Errorf("accountId type = %v, want \"string\"", acc["type"])
	}
}

func TestItemsStatusDetailSpellings(t *testing.T) {
	s := loadDoc(t, "items")
	for _, k := range []string{"investmentsTransactions", "investmentTransactions"} {
		prop(t, "items", s, "statusDetail", k, "lastUpdatedAt")
	}
}

func TestCategoriesFields(t *testing.T) {
	s := loadDoc(t, "categories")
	props := s["properties"].(map[string]any)
	var got []string
	for k := range props {
		got = append(got, k)
	}
	sort.Strings(got)
	want := []string{"description", "descriptionTranslated", "id", "parentDescription", "parentId"}
	if !slices.Equal(got, want) {
		t.Errorf("categories properties = %v, want %v", got, want)
	}
}

func readExample(t *testing.T, name string) any {
	t.Helper()
	f, err := os.Open(filepath.Join(examplesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// undeclared lists the instance fields the schema does not declare, so the
// reference examples also prove the schemas name every field they show.
func undeclared(schema map[string]any, v any, path string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for k, child := range x {
			ps, ok := props[k].(map[string]any)
			if !ok {
				out = append(out, path+"."+k)
				continue
			}
			out = append(out, undeclared(ps, child, path+"."+k)...)
		}
	case []any:
		items, _ := schema["items"].(map[string]any)
		for _, child := range x {
			out = append(out, undeclared(items, child, path+"[]")...)
		}
	}
	return out
}

func TestExamplesValidate(t *testing.T) {
	entries, err := os.ReadDir(examplesDir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	for name := range examples {
		if !slices.Contains(files, name) {
			t.Errorf("fixture %s is missing", name)
		}
	}
	for _, f := range files {
		if _, ok := examples[f]; !ok {
			t.Errorf("fixture %s is not mapped to a stream", f)
		}
	}

	compiled := map[string]*jsonschema.Schema{}
	for name, stream := range examples {
		t.Run(name, func(t *testing.T) {
			sch, ok := compiled[stream]
			if !ok {
				sch = compile(t, stream)
				compiled[stream] = sch
			}
			v := readExample(t, name)
			if err := sch.Validate(v); err != nil {
				t.Errorf("%s does not validate against %s: %v", name, stream, err)
			}
			if extra := undeclared(loadDoc(t, stream), v, stream); len(extra) > 0 {
				sort.Strings(extra)
				t.Errorf("%s: fields not declared in the %s schema: %v", name, stream, extra)
			}
		})
	}
}

// TestValidationRejects proves the schemas are not vacuous: format assertions
// are on and primary keys cannot be null.
func TestValidationRejects(t *testing.T) {
	txn := compile(t, "transactions")
	base := func() map[string]any {
		return readExample(t, "transaction_pix.json").(map[string]any)
	}
	cases := map[string]func(map[string]any){
		"null id":               func(m map[string]any) { m["id"] = nil },
		"missing accountId":     func(m map[string]any) { delete(m, "accountId") },
		"numeric id":            func(m map[string]any) { m["id"] = json.Number("42") },
		"bad createdAt":         func(m map[string]any) { m["createdAt"] = "yesterday" },
		"date-only date":        func(m map[string]any) { m["date"] = "2026-05-14" },
		"string amount":         func(m map[string]any) { m["amount"] = "-150.00" },
		"fractional MCC":        func(m map[string]any) { m["creditCardMetadata"] = map[string]any{"payeeMCC": json.Number("53.5")} },
		"paymentData as string": func(m map[string]any) { m["paymentData"] = "PIX" },
	}
	for name, mutate := range cases {
		m := base()
		mutate(m)
		if err := txn.Validate(any(m)); err == nil {
			t.Errorf("%s: validated, want an error", name)
		}
	}

	// Unknown fields pass through, and lenient time fields take any shape.
	m := base()
	m["someNewPluggyField"] = map[string]any{"x": json.Number("1")}
	m["creditCardMetadata"] = map[string]any{"billForecastDate": "06-2026", "purchaseDate": "2026-05-20T00:00:00"}
	if err := txn.Validate(any(m)); err != nil {
		t.Errorf("unknown fields or lenient dates rejected: %v", err)
	}
}

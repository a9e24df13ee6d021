package schemas

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ebStreams is every Enable Banking stream that must have a schema, with
// its primary key: the only fields that must be present and non-null.
var ebKeys = map[string][]string{
	"sessions":             {"session_id"},
	"accounts":             {"account_key"},
	"balances":             {"account_key", "balance_key"},
	"transactions":         {"account_key", "transaction_key"},
	"pending_transactions": {"account_key", "pending_key"},
}

var ebRules = walkRules{
	decimals:   []string{"amount", "signed_amount"},
	dateFields: []string{"booking_date", "value_date", "transaction_date", "reference_date"},
	lenient: func(name string) bool {
		return strings.HasSuffix(name, "date_time") || slices.Contains([]string{"valid_until", "created", "authorized", "closed"}, name)
	},
}

func ebDoc(t *testing.T, stream string) map[string]any {
	t.Helper()
	raw, err := Load(EnableBanking, stream)
	if err != nil {
		t.Fatal(err)
	}
	checkCanonical(t, "enablebanking/"+stream+".json", raw)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", stream, err)
	}
	return doc.(map[string]any)
}

func TestEnableBankingEmbeddedStreams(t *testing.T) {
	var streams []string
	for s := range ebKeys {
		streams = append(streams, s)
	}
	slices.Sort(streams)
	checkEmbedded(t, EnableBanking, "enablebanking", streams)
}

func TestEnableBankingSchemaRules(t *testing.T) {
	for stream, key := range ebKeys {
		t.Run(stream, func(t *testing.T) {
			s := ebDoc(t, stream)
			compileDoc(t, "enablebanking", stream, s)
			if s["type"] != "object" || s["additionalProperties"] != true || s["title"] == nil || s["description"] == nil {
				t.Errorf("top level: type %v, additionalProperties %v, title %v", s["type"], s["additionalProperties"], s["title"])
			}
			var required []string
			for _, r := range s["required"].([]any) {
				required = append(required, r.(string))
			}
			if !slices.Equal(required, key) {
				t.Errorf("required = %v, want the key %v", required, key)
			}
			for name, p := range s["properties"].(map[string]any) {
				providerWalk(t, ebRules, stream+"."+name, name, p.(map[string]any), slices.Contains(required, name))
			}
		})
	}
}

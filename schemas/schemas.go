// Package schemas embeds the JSON Schema (draft-07) of every stream the
// connectors emit, one file per stream: pluggy/<stream>.json,
// gocardless/<stream>.json and enablebanking/<stream>.json.
//
// Each schema describes a record as the provider sends it (pass-through, so
// every object allows additional properties) plus the join ids the connector
// adds. Besides standard draft-07 keywords the schemas carry two annotations
// for the Parquet sink; validators ignore them:
//
//   - "x-lenient-time": true on a string that holds a date or timestamp in a
//     shape that varies (date-only, no zone, "YYYY-MM"). Such fields have no
//     "format": the raw value is kept and the sink parses it leniently.
//     Fields with "format": "date-time" are always RFC 3339.
//   - "x-decimal-scale": N on a number that is not a 2-decimal money amount
//     (rates, quantities, unit prices): the sink keeps N decimal places.
//     8 for rates and quantities, 9 for coordinates, 12 for every number of
//     an investment or its movements (Pluggy computes them from quota
//     prices of more than 8 places: amountOriginal 1266.803034).
//     Numbers without it are money.
//
// Objects whose keys are not known in advance are declared with empty
// "properties".
package schemas

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
)

// Pluggy holds the Pluggy stream schemas at pluggy/<stream>.json.
//
//go:embed pluggy/*.json
var Pluggy embed.FS

// GoCardless holds the GoCardless stream schemas at gocardless/<stream>.json.
//
//go:embed gocardless/*.json
var GoCardless embed.FS

// EnableBanking holds the Enable Banking stream schemas at
// enablebanking/<stream>.json.
//
//go:embed enablebanking/*.json
var EnableBanking embed.FS

// streamName is what a stream name may look like; it keeps names free of
// path separators and glob metacharacters.
var streamName = regexp.MustCompile(`^[a-z0-9_]+$`)

// Load returns the schema of stream from fsys. It reads <stream>.json at the
// root of fsys or, failing that, the only */<stream>.json one directory down,
// so both Load(Pluggy, "accounts") and Load(fs.Sub(Pluggy, "pluggy"),
// "accounts") work. The bytes are returned unchanged after checking they are
// a JSON object.
func Load(fsys fs.FS, stream string) (json.RawMessage, error) {
	if !streamName.MatchString(stream) {
		return nil, fmt.Errorf("loading schema: invalid stream name %q", stream)
	}
	name := stream + ".json"
	data, err := fs.ReadFile(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		var matches []string
		matches, err = fs.Glob(fsys, "*/"+name)
		if err != nil {
			return nil, fmt.Errorf("loading schema %q: %w", stream, err)
		}
		switch len(matches) {
		case 0:
			return nil, fmt.Errorf("loading schema %q: no %s: %w", stream, name, fs.ErrNotExist)
		case 1:
			name = matches[0]
			data, err = fs.ReadFile(fsys, name)
		default:
			return nil, fmt.Errorf("loading schema %q: ambiguous, found %v", stream, matches)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("loading schema %q: %w", stream, err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("loading schema %q from %s: %w", stream, name, err)
	}
	if obj == nil {
		return nil, fmt.Errorf("loading schema %q from %s: not a JSON object", stream, name)
	}
	return json.RawMessage(data), nil
}

// MustLoad is Load for a provider's own embedded schemas, which are part
// of its build: one that does not load is a build defect, which every test
// catches, not an error a run could handle, so it panics.
func MustLoad(fsys fs.FS, stream string) json.RawMessage {
	b, err := Load(fsys, stream)
	if err != nil {
		panic(fmt.Sprintf("embedded schema %s: %v", stream, err))
	}
	return b
}

package source

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// DecodeState decodes a stream state this connector wrote into v, which must
// carry a "version" field equal to version: states keep a version so their
// shape can evolve, and one of another shape is rejected rather than
// misread. An empty raw (no state yet) leaves v as it is and returns false.
// Errors name the stream, for StateChecker.
func DecodeState(stream string, raw json.RawMessage, version int, v any) (bool, error) {
	return decodeState(stream, raw, version, v, false)
}

// DecodeStateStrict is DecodeState refusing a member v does not know, at
// any depth: a state whose own fields are all optional (a per-account place
// that may be empty) would otherwise take another connector's state for an
// empty one, and silently re-read everything.
func DecodeStateStrict(stream string, raw json.RawMessage, version int, v any) (bool, error) {
	return decodeState(stream, raw, version, v, true)
}

func decodeState(stream string, raw json.RawMessage, version int, v any, strict bool) (bool, error) {
	if len(raw) == 0 {
		return false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		if strict && strings.HasPrefix(err.Error(), "json: unknown field") {
			return false, fmt.Errorf("%s state: %s: this is not a state this connector wrote (another connector's?); pass the state it wrote, or none to read from the start", stream, strings.TrimPrefix(err.Error(), "json: "))
		}
		return false, fmt.Errorf("%s state: %w", stream, err)
	}
	if trailing(dec, raw) {
		return false, fmt.Errorf("%s state: data after its JSON object", stream)
	}
	var probe struct {
		Version int `json:"version"`
	}
	_ = json.Unmarshal(raw, &probe)
	if probe.Version != version {
		return false, fmt.Errorf("%s state: version %d is not one this connector reads (it writes version %d)", stream, probe.Version, version)
	}
	return true, nil
}

// CheckEntries checks the per-partition entries of a decoded state
// (accounts, quotas): none null, and each passing check when it is not nil.
// Errors name the stream, the field and the key, for StateChecker.
func CheckEntries[T any](stream, field string, entries map[string]*T, check func(e *T) error) error {
	for key, e := range entries {
		if e == nil {
			return fmt.Errorf("%s state: %s[%q] is null", stream, field, key)
		}
		if check != nil {
			if err := check(e); err != nil {
				return fmt.Errorf("%s state: %s[%q].%w", stream, field, key, err)
			}
		}
	}
	return nil
}

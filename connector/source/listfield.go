package source

import "strings"

// SplitListField turns cfg[key], when it is one string, into the list of ids
// it holds, separated by commas, semicolons or white space: users keep id
// lists that way (Actual Budget's settings do), and a spec asks for an array.
// Sources call it from NormalizeConfig. Anything else is left as it is.
func SplitListField(cfg map[string]any, key string) {
	s, ok := cfg[key].(string)
	if !ok {
		return
	}
	ids := []any{}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\t' }) {
		ids = append(ids, part)
	}
	cfg[key] = ids
}

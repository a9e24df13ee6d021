package sourcetest

import (
	"bytes"
	"encoding/json"
	"strings"
	"unsafe"
)

// CaseVariant reports whether the JSON text b holds a string that differs
// from one of names only in case. encoding/json matches struct fields
// case-blind, and the providers' jsonrow decoders match keys exactly, so a
// fuzz test that checks a decoder against encoding/json leaves such
// inputs out. Invalid JSON, which both refuse, has none.
func CaseVariant(b []byte, names ...string) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		s, ok := tok.(string)
		if !ok {
			continue
		}
		for _, n := range names {
			if s != n && strings.EqualFold(s, n) {
				return true
			}
		}
	}
}

// BackToBack reports whether b starts in memory where a ends: rows copied
// out of a page together (jsonrow.Detach) lie so, where rows that are
// still slices of the page have the comma between them.
func BackToBack(a, b []byte) bool {
	return addr(b) == addr(a)+uintptr(len(a))
}

// Within reports whether v is a non-empty slice of buf's memory: a
// decoded field that still holds its page.
func Within(v, buf []byte) bool {
	return len(v) > 0 && addr(v) >= addr(buf) && addr(v) < addr(buf)+uintptr(len(buf))
}

func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

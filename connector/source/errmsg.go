package source

import (
	"errors"
	"strings"
)

// userMessage is the text an ERROR trace shows: the user-facing message of
// the first *Error in the chain when there is one, else the error itself. A
// joined error (one part per failed account or item) shows every part's
// message, so a trace names each thing that failed, not only the first.
func userMessage(err error) string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var parts []string
		for _, e := range j.Unwrap() {
			if e != nil {
				parts = append(parts, userMessage(e))
			}
		}
		if len(parts) > 0 {
			return strings.Join(parts, "; ")
		}
	}
	var e *Error
	if errors.As(err, &e) && e.Msg != "" {
		if e.Err != nil {
			return e.Msg + ": " + e.Err.Error()
		}
		return e.Msg
	}
	return err.Error()
}

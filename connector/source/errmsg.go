package source

import "errors"

// userMessage is the text an ERROR trace shows: the user-facing message of
// the first *Error in the chain when there is one, else the error itself.
func userMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Msg != "" {
		if e.Err != nil {
			return e.Msg + ": " + e.Err.Error()
		}
		return e.Msg
	}
	return err.Error()
}

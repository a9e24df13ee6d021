package quota

import "errors"

// Consented is an account reached through a consent its holder gave (a
// GoCardless requisition, an Enable Banking session), which lapses. A
// provider lists the accounts of a lapsed consent too, with why, so that
// every stream reports it once per consent (not once per account) and
// calls none of them: each call would fail, and may count towards the
// bank's limit or towards suspending the account.
type Consented interface {
	// Consent returns the account's consent, and why the account cannot
	// be read this run (nil when it can).
	Consent() (id string, blocked error)
}

// Blocked returns why the accounts that cannot be read cannot, once per
// consent.
func Blocked[A Consented](accounts []A) error {
	seen := map[string]bool{}
	var errs []error
	for _, a := range accounts {
		if id, err := a.Consent(); err != nil && !seen[id] {
			seen[id] = true
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Readable returns the accounts a data stream reads, those whose consent
// holds, and listErr (why listing failed) joined with why the others
// cannot be read.
func Readable[A Consented](accounts []A, listErr error) ([]A, error) {
	var out []A
	for _, a := range accounts {
		if _, err := a.Consent(); err == nil {
			out = append(out, a)
		}
	}
	return out, errors.Join(listErr, Blocked(accounts))
}

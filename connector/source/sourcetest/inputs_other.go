//go:build !unix

package sourcetest

import "testing"

// CheckHostileInputs needs FIFOs; elsewhere it is skipped.
func CheckHostileInputs(t *testing.T, bin, config, catalog, stream string) {
	t.Skip("FIFOs are a Unix test")
}

// Command source-gocardless-bank-data is an Airbyte-protocol source for the
// GoCardless Bank Account Data API (formerly Nordigen), and the Singer tap
// tap-gocardless-bank-data when invoked under that name (a symlink or copy)
// or as `source-gocardless-bank-data singer`. Everything but the provider is
// the shared binary of package cli; the binary itself is app.Binary, which
// fake-gocardless-bank-data's demo runs too.
//
// It was called source-gocardless (tap-gocardless) until it was renamed so
// that nobody takes it for Airbyte's source-gocardless or Meltano's
// tap-gocardless, which read GoCardless's payments API. Nothing it writes
// carries its name except the PostgreSQL sink's default schema, which stays
// the old name's "gocardless" so existing loads go on where they were.
package main

import "github.com/source-pluggy/source-pluggy/cmd/source-gocardless-bank-data/app"

func main() { app.Binary.Main() }

// Command source-enablebanking is an Airbyte-protocol source for the Enable
// Banking Accounts API, and the Singer tap tap-enablebanking when invoked
// under that name (a symlink or copy) or as `source-enablebanking singer`.
// Everything but the provider is the shared binary of package cli; the
// binary itself is app.Binary, which fake-enablebanking's demo runs too.
package main

import "github.com/source-pluggy/source-pluggy/cmd/source-enablebanking/app"

func main() { app.Binary.Main() }

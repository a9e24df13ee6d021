// Command source-pluggy is an Airbyte-protocol source for the Pluggy Open
// Finance API, and the Singer tap tap-pluggy when invoked under that name (a
// symlink or copy) or as `source-pluggy singer`. Everything but the provider
// is the shared binary of package cli; the binary itself is app.Binary,
// which fake-pluggy's demo runs too.
package main

import "github.com/source-pluggy/source-pluggy/cmd/source-pluggy/app"

func main() { app.Binary.Main() }

// Package fake is a deterministic, in-memory imitation of the Pluggy Open
// Finance API (https://api.pluggy.ai), built on the standard library only.
//
// It exists so the connector can be exercised end to end without network
// access or sandbox credentials: tests mount [Server.Handler] on an
// httptest.Server, and the cmd/fake-pluggy binary serves it for benchmarks
// and manual runs and embeds it in its demo command. No connector binary
// links it.
//
// Fidelity comes first. The fake reproduces the documented shapes and the
// undocumented quirks the connector must survive: the page envelope versus the
// v2 cursor envelope, base64 cursors whose '=' may travel raw or
// percent-encoded, validation errors without codeDescription, the 403 without
// codeDescription for a bad key, v1 /transactions answering 410, card purchases
// with positive amounts, date-only and Z-less timestamps, Portuguese enum values
// in loans, categories either enveloped or as a bare array, and so on.
//
// Everything is derived from Options.Seed through math/rand/v2 PCG generators
// and from the clock reading taken at New, so two servers built with the same
// options (and the same clock) serve byte-identical responses. Nothing reads
// the wall clock to make up data.
//
// Test scenarios are driven through Go methods rather than HTTP: mutations
// (AddNew, AddBackdated, PostPending, UpdateInPlace, Delete, DeleteOlder,
// SetItemStatus) model how Pluggy re-syncs change data underneath a
// consumer; each one is also announced to the webhooks registered through
// /webhooks (webhooks.go), whose deliveries SetDeliveryFaults can drop,
// duplicate, delay and reorder; and SetFaults
// injects rate limits, server errors, garbage bodies, dropped connections,
// slow responses, key revocation and buggy cursors on a reproducible
// every-Nth-request schedule. HandlerWithAdmin exposes the same controls over
// HTTP under /__fake/ for the standalone binary.
//
// Choices where the real API is unknown are documented on the relevant
// handler; the notable ones: an unknown accountId on /v2/transactions and
// /bills answers 404 ACCOUNT_NOT_FOUND, an unknown itemId on list endpoints
// answers 404 ITEM_NOT_FOUND, and the v2 page size is fixed by
// Options.PageSize (a pageSize query parameter is ignored, as on the real API);
// /accounts, /bills, /loans and /connectors are a single page unless
// Options.ListPageSize pages them (whether Pluggy does is open).
package fake

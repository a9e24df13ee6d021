// Package fake is an in-process imitation of the Enable Banking Accounts API
// (AIS), built on the standard library and golang-jwt.
//
// Neither the connector's tests nor its demo may call a real bank, so the
// fake models the parts of the API a source connector has to get right:
//
//   - every request's RS256 JWT verified against the application's public
//     key (kid = application id, iss, aud, at most 24 hours of life), with
//     the real 401 UNAUTHORIZED_ACCESS body otherwise;
//   - GET /application, GET /aspsps, the authorisation flow (POST /auth, a
//     hosted bank page at /fake-bank/auth that redirects to the client's
//     redirect_url with code and state, POST /sessions exchanging the code
//     once), GET and DELETE /sessions/{id};
//   - account details, balances and transactions with continuation-key
//     paging that insists on the first call's parameters (the real 422
//     WRONG_REQUEST_PARAMETERS body), an empty first page with a key;
//   - the data banks really send: unsigned decimal amounts with
//     credit_debit_indicator, pending rows that book under a new
//     entry_reference, rows without ids, positional ids that shift, the
//     placeholder "0", explicit nulls beside missing keys, fields no schema
//     knows;
//   - the PSD2 unattended-access limit per account and endpoint in a
//     rolling 24 hours (429 ASPSP_RATE_LIMIT_EXCEEDED; a request with PSU
//     headers is attended and not counted), or, by Options, per account
//     or per consent, over a calendar day from a fixed UTC hour, with the
//     first call after consent free; expired sessions (401
//     EXPIRED_SESSION) and failing banks (400 ASPSP_ERROR).
//
// Data is derived from Options.Seed and the day of Options.Now, so two
// servers built with the same options serve the same rows. Scenario
// switches (AddBooked, BookPending, ChangeReferences, ExpireSession,
// ExhaustQuota, AdvanceClock, ...) let tests provoke each case on purpose;
// AdminHandler exposes them over HTTP for cmd/fake-enablebanking.
package fake

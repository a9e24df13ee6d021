// Command fake-enablebanking serves the fake Enable Banking API (package
// connector/enablebanking/fake) on a loopback address, for manual runs of
// the connector and end-to-end tests in other languages, and runs the demo:
// `fake-enablebanking demo` reads the fake, in-process, with
// source-enablebanking's own runtime (see demo.go).
//
// It writes the application's private key to --key-file and prints one JSON
// line with what a connector config needs:
//
//	{"base_url":"http://127.0.0.1:PORT","application_id":"…","private_key_path":"…","session_ids":["…"]}
//
// and serves until SIGINT or SIGTERM. Scenario switches are under /__fake/
// without authentication (see fake.Server.AdminHandler), which is why the
// server refuses to listen anywhere but loopback.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/fakeserver"
)

func main() { fakeserver.Main("fake-enablebanking", run, demoCommand()) }

// ready is the line printed once the server listens.
type ready struct {
	BaseURL        string   `json:"base_url"`
	ApplicationID  string   `json:"application_id"`
	PrivateKeyPath string   `json:"private_key_path"`
	SessionIDs     []string `json:"session_ids"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fake-enablebanking", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = fakeserver.Usage(fs, "serve the fake Enable Banking API on loopback until SIGINT or SIGTERM", demoCommand())
	addr := fs.String("addr", "127.0.0.1:0", "loopback `host:port` to listen on (port 0 picks a free one)")
	seed := fs.Uint64("seed", 1, "seed of the generated data")
	sessions := fs.Int("sessions", 2, "authorised sessions, two accounts each")
	transactions := fs.Int("transactions", 60, "booked transactions per account")
	pageSize := fs.Int("page-size", 25, "transactions per page")
	dailyLimit := fs.Int("daily-limit", 4, "unattended calls per account and endpoint per rolling 24h")
	keyFile := fs.String("key-file", filepath.Join(os.TempDir(), "fake-enablebanking-key.pem"), "where to write the application's private key (PEM)")
	latency := fs.Duration("latency", 0, "delay added to every answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for name, v := range map[string]int{"--sessions": *sessions, "--transactions": *transactions, "--page-size": *pageSize, "--daily-limit": *dailyLimit} {
		if v < 1 {
			return fmt.Errorf("%s must be at least 1, got %d", name, v)
		}
	}
	if err := fakeserver.CheckLoopback(*addr); err != nil {
		return err
	}
	f := fake.New(fake.Options{Seed: *seed, Sessions: *sessions, TransactionsPerAccount: *transactions, PageSize: *pageSize, DailyLimit: *dailyLimit, Latency: *latency})
	if err := os.WriteFile(*keyFile, []byte(f.PrivateKeyPEM()), 0o600); err != nil {
		return fmt.Errorf("--key-file: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/__fake/", f.AdminHandler())
	mux.Handle("/", f.Handler())
	return fakeserver.Run(ctx, *addr, mux, stdout, func(origin string) any {
		return ready{BaseURL: origin, ApplicationID: f.ApplicationID(), PrivateKeyPath: *keyFile, SessionIDs: f.SessionIDs()}
	})
}

package main

import (
	"os"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestParquetDirURLIsRefused: a URL given to --parquet-dir (the PostgreSQL
// URL meant for --postgres, an s3:// bucket taken for a destination) is a
// config_error naming the flag and the fix, its password masked, before
// any call. It was taken for a relative path: the read made folders named
// after the URL in the working directory ("postgres:/u:PASSWORD@host…"),
// wrote every stream there and exited 0; so it did with a URL written
// wrong (postgres:/u:PASSWORD@host/db, u:PASSWORD@host/db), which has no
// "://", folders named after the password.
func TestParquetDirURLIsRefused(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
	cfg, cat := e.config(nil), e.catalog(true, "accounts")
	const pw = "Pg5ecretW0rdCANARY"
	for _, c := range []struct{ dir, fix string }{
		{"postgres://u:" + pw + "@127.0.0.1:5432/bank", "give the URL to --postgres instead"},
		{"s3://bucket/warehouse", "give a local directory"},
		// Written wrong: no "://", yet a password.
		{"postgres:/u:" + pw + "@127.0.0.1:5432/bank", "give the URL to --postgres instead"},
		{"u:" + pw + "@127.0.0.1:5432/bank", "give a local directory"},
	} {
		name, _, _ := strings.Cut(c.dir, "@")
		t.Run(strings.ReplaceAll(name, pw, "PW"), func(t *testing.T) {
			wd := t.TempDir()
			t.Chdir(wd)
			before := e.fake.Stats().Total
			r := st.Run(t, e.bin, "read", "--config", cfg, "--catalog", cat, "--parquet-dir", c.dir)
			out := string(r.Stdout) + string(r.Stderr)
			errs := r.ErrorsMentioning("--parquet-dir", "is a URL, not a directory", c.fix)
			if r.Code != 1 || len(errs) == 0 || errs[0].FailureType != "config_error" {
				t.Errorf("exit %d, want 1 and a config_error naming --parquet-dir and the fix:\n%s", r.Code, out)
			}
			if strings.Contains(out, pw) {
				t.Errorf("the output holds the password:\n%s", out)
			}
			if left, _ := os.ReadDir(wd); len(left) > 0 {
				t.Errorf("the read made %s in the working directory", left[0].Name())
			}
			if n := e.fake.Stats().Total - before; n != 0 {
				t.Errorf("%d calls to the API before the refusal", n)
			}
		})
	}
}

package postgres

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
)

// TestTablesOfAnotherOwner: tables a run as another role made (the first
// load as the DBA, the cron job as a loader granted CREATE on the schema
// and every privilege on its tables) take the loader's rows, as nothing
// needs altering; a newer schema's column, which only their owner may
// add, is a config_error saying to make the loader their owner, not to
// "grant the privilege", which no GRANT can.
func TestTablesOfAnotherOwner(t *testing.T) {
	url := pgtest.DB(t)
	db := pgtest.DBName(url)
	loader := "loader_" + db
	d := open(t, url, Options{Schema: "bank"}, txStream())
	d.Close()
	pgtest.Exec(t, url, `CREATE ROLE `+loader+` LOGIN PASSWORD 'loaderpw'; GRANT USAGE, CREATE ON SCHEMA bank TO `+loader+`;
		GRANT ALL ON ALL TABLES IN SCHEMA bank TO `+loader)
	loaderURL := strings.Replace(url, "postgres:"+pgtest.Password, loader+":loaderpw", 1)
	loadsRowInBank(t, loaderURL, url)

	newer := txStream()
	newer.Schema = json.RawMessage(strings.Replace(txSchema, `"id":{"type":"string"},`, `"id":{"type":"string"},"memo":{"type":["string","null"]},`, 1))
	_, err := Open(context.Background(), Options{URL: loaderURL, Connector: "source-test", Schema: "bank"}, []Stream{newer})
	assertConfigError(t, err, "must be owner of table", `"bank"`, "OWNER TO", `"`+loader+`"`, "REASSIGN OWNED BY", "--postgres-schema")
	if err != nil && strings.Contains(err.Error(), "grant the --postgres user the privilege") {
		t.Errorf("error %q tells to grant a privilege, which cannot make the user an owner", err)
	}
}

// TestDatabaseWithoutConnect: a user the database gives no CONNECT is a
// config_error naming the GRANT that fixes it.
func TestDatabaseWithoutConnect(t *testing.T) {
	url := pgtest.DB(t)
	db := pgtest.DBName(url)
	loader := "noconnect_" + db
	pgtest.Exec(t, url, `CREATE ROLE `+loader+` LOGIN PASSWORD 'loaderpw'; REVOKE CONNECT ON DATABASE `+db+` FROM PUBLIC`)
	loaderURL := strings.Replace(url, "postgres:"+pgtest.Password, loader+":loaderpw", 1)
	_, err := Open(context.Background(), Options{URL: loaderURL, Connector: "source-test", Schema: "bank"}, []Stream{txStream()})
	assertConfigError(t, err, `permission denied for database "`+db+`"`, `GRANT CONNECT ON DATABASE "`+db+`" TO "`+loader+`"`, "--postgres")
}

// TestTimeoutsOffUnlessTheURLSetsThem: the run's sessions have no
// statement_timeout (a role's guard would cancel its long COPY), except
// one the URL sets, as a parameter or in options.
func TestTimeoutsOffUnlessTheURLSetsThem(t *testing.T) {
	url := pgtest.DB(t)
	db := pgtest.DBName(url)
	pgtest.Exec(t, url, `ALTER DATABASE `+db+` SET statement_timeout = '5s'`)
	for _, c := range []struct{ url, want string }{
		{url, "0"},
		{url + "&statement_timeout=7s", "7s"},
		{url + "&options=-c%20statement_timeout%3D9s", "9s"},
	} {
		d := open(t, c.url, Options{Schema: "bank"}, txStream())
		var got string
		if err := d.conn.QueryRow(context.Background(), "SHOW statement_timeout").Scan(&got); err != nil {
			t.Fatal(err)
		}
		d.Close()
		if got != c.want {
			t.Errorf("%s: statement_timeout %s, want %s", c.url, got, c.want)
		}
	}
}

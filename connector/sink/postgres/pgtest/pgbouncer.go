package pgtest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PoolMode is a PgBouncer pool_mode: when a client's server connection
// goes back to the pool.
type PoolMode string

const (
	// SessionPool keeps a server connection for the client's session.
	SessionPool PoolMode = "session"
	// TransactionPool hands the server connection back after each
	// transaction (each statement outside one): a client's next
	// transaction may run on another backend.
	TransactionPool PoolMode = "transaction"
	// StatementPool hands the server connection back after each
	// statement, and refuses a transaction of more than one.
	StatementPool PoolMode = "statement"
)

// PgBouncerBin is the pgbouncer binary (Debian's package pgbouncer), or ""
// where it is not installed. PGTEST_PGBOUNCER overrides it.
func PgBouncerBin() string {
	if p := os.Getenv("PGTEST_PGBOUNCER"); p != "" {
		return p
	}
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/pgbouncer"); err == nil {
		return "/usr/sbin/pgbouncer" // not on a non-root user's PATH
	}
	return ""
}

// PgBouncer starts, for the test, a real PgBouncer on 127.0.0.1 in front
// of the server of u (a URL DB made, of any user with a password) in pool
// mode mode, told to ignore the startup parameters named
// (ignore_startup_parameters), and returns u through it. Clients log in
// to it with the URL's user and password (auth_type md5, an auth_file
// holding them), and it logs in to the server with the same. It is
// stopped at the test's end; its log is shown if the test failed.
//
// In transaction and statement mode it has one server session per pool
// (default_pool_size = 1), so that it hands every client that one in
// turn, as such a pool hands a client whichever server session is free:
// with 20, clients of reads run at once now and then kept one each for
// a whole read, a pool in transaction mode the runs' check cannot tell
// from one in session mode (OwnServerSessions), and a test of its
// refusal failed.
//
// Where pgbouncer is absent the test is skipped, failed under CI=true
// (.ci/run installs it), as where the server is.
func PgBouncer(t testing.TB, u string, mode PoolMode, ignore ...string) string {
	t.Helper()
	Shared(t) // skips or fails where the server's binaries are absent
	bin := PgBouncerBin()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("pgtest: pgbouncer not found; .ci/run installs the pgbouncer package")
		}
		t.Skip("pgtest: pgbouncer not found (install Debian's pgbouncer package); skipping")
	}
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	host, port, err := net.SplitHostPort(parsed.Host)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := parsed.User.Username()
	password, _ := parsed.User.Password()
	db := strings.TrimPrefix(parsed.Path, "/")
	dir, err := os.MkdirTemp("", "pgbouncer-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	// PgBouncer refuses to run as root: as root it runs as the server's
	// system user.
	var runAs *user.User
	if os.Geteuid() == 0 {
		if runAs, err = user.Lookup("postgres"); err != nil {
			t.Fatalf("pgtest: running as root, and no unprivileged 'postgres' user to run pgbouncer as: %v", err)
		}
	}
	users := authLine(name, password)
	if name != User {
		users += authLine(User, Password)
	}
	write := func(file, text string) {
		t.Helper()
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		chown(t, p, runAs)
	}
	chown(t, dir, runAs)
	write("users.txt", users)
	logFile := filepath.Join(dir, "log")
	write("log", "")
	var (
		cmd  *exec.Cmd
		addr string
	)
	poolSize := 20
	if mode != SessionPool {
		poolSize = 1
	}
	// A free port can be taken between choosing and binding it: retry.
	for attempt := 0; attempt < 5 && cmd == nil; attempt++ {
		p, err := freePort()
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		write("pgbouncer.ini", fmt.Sprintf(`[databases]
%s = host=%s port=%s dbname=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = md5
auth_file = %s
pool_mode = %s
ignore_startup_parameters = %s
logfile = %s
pidfile = %s
admin_users = %s
max_client_conn = 100
default_pool_size = %d
`, db, host, port, db, p, filepath.Join(dir, "users.txt"), mode, strings.Join(ignore, ","), logFile, filepath.Join(dir, "pid"), User, poolSize))
		c := exec.Command(bin, filepath.Join(dir, "pgbouncer.ini"))
		c.Dir = dir
		c.SysProcAttr = &syscall.SysProcAttr{Credential: credential(runAs)}
		if err := c.Start(); err != nil {
			t.Fatalf("pgtest: starting pgbouncer: %v", err)
		}
		exited := make(chan struct{})
		go func() { _ = c.Wait(); close(exited) }()
		if !listening(addr, exited) {
			// Exited (its port taken), or still running and not
			// listening after 10 s: not to be left behind.
			_ = c.Process.Kill()
			<-exited
			continue
		}
		cmd = c
		t.Cleanup(func() {
			_ = c.Process.Kill()
			<-exited
			if t.Failed() {
				log, _ := os.ReadFile(logFile)
				t.Logf("pgbouncer's log:\n%s", log)
			}
			_ = os.RemoveAll(dir)
		})
		bouncerReaper(c.Process.Pid, dir)
	}
	if cmd == nil {
		log, _ := os.ReadFile(logFile)
		_ = os.RemoveAll(dir)
		t.Fatalf("pgtest: pgbouncer did not start:\n%s", log)
	}
	parsed.Host = addr
	return parsed.String()
}

// authLine is a line of PgBouncer's auth_file: the user's name and
// password, each in double quotes, a double quote within doubled (""), as
// PgBouncer reads them; Go's %q escaped it with a backslash, and a name or
// password with a " or a \ was another in PgBouncer's eyes.
func authLine(name, password string) string {
	quote := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	return quote(name) + " " + quote(password) + "\n"
}

// listening waits until addr takes connections, or the process has
// exited (a port taken) or 10 s have passed.
func listening(addr string, exited <-chan struct{}) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// bouncerReaper kills PgBouncer pid and removes dir once this test binary
// is gone, however it ended (a panic, a -timeout, a kill), as the server's
// reaper does; it ends by itself once pid has.
func bouncerReaper(pid int, dir string) {
	script := fmt.Sprintf(`while [ -d /proc/%d ] && [ -d /proc/%d ]; do sleep 1; done; kill -9 %d 2>/dev/null; rm -rf "%s"`,
		os.Getpid(), pid, pid, dir)
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	_ = cmd.Start()
}

// chown gives path to runAs, where the test runs as root.
func chown(t testing.TB, path string, runAs *user.User) {
	t.Helper()
	if runAs == nil {
		return
	}
	uid, _ := strconv.Atoi(runAs.Uid)
	gid, _ := strconv.Atoi(runAs.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// PgBouncerSet sets a setting of the PgBouncer that pool (a URL PgBouncer
// returned) leads to, through its admin console (SET name = value), as a
// DBA's pgbouncer.ini might have it: default_pool_size = 1, say. Its pools
// made later take it.
func PgBouncerSet(t testing.TB, pool, name, value string) {
	t.Helper()
	u, err := url.Parse(pool)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u.Path = "/pgbouncer"
	q := u.Query()
	q.Set("default_query_exec_mode", "simple_protocol") // the console prepares nothing
	u.RawQuery = q.Encode()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("pgtest: connecting to PgBouncer's admin console: %v", err)
	}
	defer conn.Close(ctx) // not a client left to count against max_client_conn
	if _, err := conn.Exec(ctx, fmt.Sprintf("SET %s = '%s'", name, value)); err != nil {
		t.Fatalf("pgtest: PgBouncer's SET %s = %s: %v", name, value, err)
	}
}

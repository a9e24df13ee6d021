package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/source-pluggy/source-pluggy/connector/internal/columns"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Metadata columns every table has after the stream's own.
const (
	colExtractedAt = "_extracted_at"   // when this run read the row
	colDeletedAt   = "_deleted_at"     // when the source reported it deleted; null while live
	colLeftovers   = columns.Leftovers // members no typed column holds: {"field": value, ...}
	colChanges     = columns.Changes   // typed columns nulled: [{"field":...,"change":"NULLED","reason":...}]
)

// versionFields are the top-level timestamps that order a row's versions,
// in order of preference: a replay of an older version never overwrites a
// newer one.
var versionFields = []string{"updatedAt", "updated_at"}

// column is one column of a stream's table.
type column struct {
	name     string
	kind     columns.Kind
	sqlType  string
	parsed   int // Lenient: index of its <name>_parsed column, else -1
	parsedOf int // a <name>_parsed column: index of its source, else -1
}

// table is a stream's table: its columns in order, as derived from the
// stream's JSON Schema, then the metadata columns.
type table struct {
	schema, name string
	cols         []column
	byName       map[string]int
	pk           []int // indexes into cols
	version      int   // index of the version column, or -1
	// empty says the table had no rows when the run began (a first
	// sync), and no merge of this run has met a key it already held:
	// merges try a plain INSERT first (see Table.merge). Only merges,
	// one at a time, read and change it.
	empty bool
	// created says the run made the table (it was not there); emptyAtOpen
	// that it held no rows when the run began: with a stored state, its
	// rows were dropped or emptied since (see Sink.OpenStream).
	created, emptyAtOpen bool
}

// sqlType maps a derived column kind to its PostgreSQL type: exact numeric
// for money (unconstrained, so no value is rounded to a scale), timestamptz
// for instants, jsonb for whatever has no scalar type.
func sqlType(k columns.Kind) string {
	switch k {
	case columns.String, columns.Lenient:
		return "text"
	case columns.Bool:
		return "boolean"
	case columns.Int:
		return "bigint"
	case columns.Decimal:
		return "numeric"
	case columns.Timestamp:
		return "timestamp with time zone"
	case columns.Date:
		return "date"
	default: // JSON, Struct, List
		return "jsonb"
	}
}

// newTable derives a stream's table. Only the schema's top level becomes
// columns; nested objects and arrays are jsonb.
func newTable(schema string, st Stream) (*table, error) {
	root, err := columns.Derive(st.Schema)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", st.Name, err)
	}
	t := &table{schema: schema, name: st.Name, byName: map[string]int{}, version: -1}
	add := func(c column) error {
		if len(c.name) > 63 {
			return fmt.Errorf("stream %s: field %q is longer than PostgreSQL's 63-byte column names", st.Name, c.name)
		}
		if _, dup := t.byName[c.name]; dup {
			return fmt.Errorf("stream %s: two fields make column %q", st.Name, c.name)
		}
		t.byName[c.name] = len(t.cols)
		t.cols = append(t.cols, c)
		return nil
	}
	for _, c := range root.Children {
		switch c.Name {
		case deletedField:
			continue // the _deleted_at column
		case colExtractedAt, colDeletedAt, colLeftovers, colChanges:
			return nil, fmt.Errorf("stream %s: field %q has the name of a column the PostgreSQL sink adds", st.Name, c.Name)
		}
		if err := add(column{name: c.Name, kind: c.Kind, sqlType: sqlType(c.Kind), parsed: -1, parsedOf: -1}); err != nil {
			return nil, err
		}
		if c.Kind == columns.Lenient {
			src := len(t.cols) - 1
			if err := add(column{name: c.Name + columns.ParsedSuffix, kind: columns.Timestamp, sqlType: sqlType(columns.Timestamp), parsed: -1, parsedOf: src}); err != nil {
				return nil, err
			}
			t.cols[src].parsed = len(t.cols) - 1
		}
	}
	if len(st.PrimaryKey) == 0 {
		return nil, fmt.Errorf("stream %s has no primary key: the PostgreSQL sink upserts by key", st.Name)
	}
	for _, path := range st.PrimaryKey {
		if len(path) != 1 {
			return nil, fmt.Errorf("stream %s: primary key %v is nested; only top-level key fields are supported", st.Name, path)
		}
		i, ok := t.byName[path[0]]
		if !ok {
			return nil, fmt.Errorf("stream %s: primary key field %q is not in the stream's schema", st.Name, path[0])
		}
		t.pk = append(t.pk, i)
	}
	for _, f := range versionFields {
		if i, ok := t.byName[f]; ok && t.cols[i].kind == columns.Timestamp {
			t.version = i
			break
		}
	}
	return t, nil
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// qname is the table's schema-qualified, quoted name.
func (t *table) qname() string { return pgx.Identifier{t.schema, t.name}.Sanitize() }

// stageName is the name of the stream's staging table i (0 or 1), in the
// destination's schema: rows are copied into one while the other's are
// merged (see Table). A name past PostgreSQL's 63 bytes would be cut, and
// the two would be one table, so a long stream name is replaced by its hash.
func (t *table) stageName(i int) string {
	name := fmt.Sprintf("_load_%s_%d", t.name, i)
	if len(name) > 63 {
		h := fnv.New64a()
		h.Write([]byte(t.name))
		name = fmt.Sprintf("_load_%x_%d", h.Sum64(), i)
	}
	return pgx.Identifier{t.schema, name}.Sanitize()
}

// allCols lists the table's columns, quoted, prefixed with p ("" or "l.").
func (t *table) allCols(p string) string {
	var b strings.Builder
	for _, c := range t.cols {
		b.WriteString(p + ident(c.name) + ", ")
	}
	b.WriteString(p + colExtractedAt + ", " + p + colDeletedAt + ", " + p + colLeftovers + ", " + p + colChanges)
	return b.String()
}

func (t *table) pkCols(p string) string {
	var parts []string
	for _, i := range t.pk {
		parts = append(parts, p+ident(t.cols[i].name))
	}
	return strings.Join(parts, ", ")
}

func (t *table) pkMatch(a, b string) string {
	var parts []string
	for _, i := range t.pk {
		n := ident(t.cols[i].name)
		parts = append(parts, a+"."+n+" = "+b+"."+n)
	}
	return strings.Join(parts, " AND ")
}

// viewsOver names the views that read column of the table (the
// connector's own, the user's), quoted, so that the fix of a column's type
// can say to drop them first.
func (t *table) viewsOver(ctx context.Context, tx pgx.Tx, column string) ([]string, error) {
	rows, err := tx.Query(ctx, `
		SELECT DISTINCT n.nspname, v.relname
		FROM pg_depend d
		JOIN pg_rewrite r ON r.oid = d.objid
		JOIN pg_class v ON v.oid = r.ev_class
		JOIN pg_namespace n ON n.oid = v.relnamespace
		JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
		WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = to_regclass($1)
		  AND a.attname = $2 AND v.oid <> d.refobjid
		ORDER BY 1, 2`, t.qname(), column)
	if err != nil {
		return nil, fmt.Errorf("reading the views over %s: %w", t.qname(), err)
	}
	var views []string
	for rows.Next() {
		var schema, name string
		if err := rows.Scan(&schema, &name); err != nil {
			return nil, fmt.Errorf("reading the views over %s: %w", t.qname(), err)
		}
		views = append(views, pgx.Identifier{schema, name}.Sanitize())
	}
	return views, rows.Err()
}

// dropState is the statement that deletes the stream's stored state: a
// table dropped or emptied is reloaded only with it, as a run resumes
// from the state and does not read again the rows before it.
func (t *table) dropState() string {
	return fmt.Sprintf("DELETE FROM %s._state WHERE stream = %s", ident(t.schema), quoteLiteral(t.name))
}

// createSQL creates the table.
func (t *table) createSQL() string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (\n", t.qname())
	isPK := map[int]bool{}
	for _, i := range t.pk {
		isPK[i] = true
	}
	for i, c := range t.cols {
		fmt.Fprintf(&b, "  %s %s", ident(c.name), c.sqlType)
		if isPK[i] {
			b.WriteString(" NOT NULL")
		}
		b.WriteString(",\n")
	}
	fmt.Fprintf(&b, "  %s timestamp with time zone NOT NULL,\n  %s timestamp with time zone,\n  %s jsonb,\n  %s jsonb,\n  PRIMARY KEY (%s)\n)",
		colExtractedAt, colDeletedAt, colLeftovers, colChanges, t.pkCols(""))
	return b.String()
}

// stageSQL (re)creates staging table i: the table's columns without
// constraints, plus the order rows came in. It is unlogged: its rows are
// a copy on the way in, worth no WAL, and what a crash leaves of them is
// dropped by the next run's setup, which makes it again.
func (t *table) stageSQL(i int) []string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE UNLOGGED TABLE %s (_seq bigint", t.stageName(i))
	for _, c := range t.cols {
		fmt.Fprintf(&b, ", %s %s", ident(c.name), c.sqlType)
	}
	fmt.Fprintf(&b, ", %s timestamp with time zone, %s timestamp with time zone, %s jsonb, %s jsonb)", colExtractedAt, colDeletedAt, colLeftovers, colChanges)
	return []string{"DROP TABLE IF EXISTS " + t.stageName(i), b.String()}
}

// copySQL is the COPY the encoder's tuples go through into staging table
// i. The binary format spares the server parsing numbers, instants and
// escapes: the same 1,000,000 Pluggy transactions took the server 3.0 to
// 3.6 s to COPY in from a file in the binary format, 4.8 to 5.5 s in the
// text format (three runs each, into an unlogged table without indexes).
func (t *table) copySQL(i int) string {
	return fmt.Sprintf("COPY %s (_seq, %s) FROM STDIN (FORMAT binary)", t.stageName(i), t.allCols(""))
}

// latest is staging table i's last version of each key among the rows up
// to _seq $1 (those the committed state covers): a checkpoint may carry a
// row twice (updated between two pages), and the later one wins.
func (t *table) latest(i int) string {
	return fmt.Sprintf("SELECT DISTINCT ON (%s) * FROM %s WHERE _seq <= $1 ORDER BY %s, _seq DESC", t.pkCols(""), t.stageName(i), t.pkCols(""))
}

// all is every row of staging table i up to _seq $1, for a merge that
// expects no key twice (see Table.merge).
func (t *table) all(i int) string {
	return fmt.Sprintf("SELECT * FROM %s WHERE _seq <= $1", t.stageName(i))
}

// mergeSQL are the statements that apply staging table i to the table, in
// one transaction with the state:
//
//   - a tombstone sets _deleted_at on a live row and keeps it (hard delete:
//     removes it); a tombstone for a row never loaded is inserted as it
//     came, so the deleted id is on record;
//   - a live row is inserted, or replaces the stored one unless the stored
//     one is newer (by the version column, where the stream has one) or
//     deleted; a deleted row comes back when a later run reads it, or with
//     a version newer than its deletion, or with none (the stream has no
//     version column, or the row's value did not fit it, as Pluggy's
//     updatedAt without its zone): such a row cannot be told older than
//     the deletion, and it was read after it, so it wins, as a null version
//     wins over a live row. Kept deleted, a row Pluggy served again
//     (undoing a deletion made during bank instability) stayed deleted for
//     good.
//
// A later run is one whose _extracted_at is not the deleted row's, which
// the run that deleted it set: runs on a schema follow one another (its
// lock), so the row was deleted before this run began, whatever the
// machines' clocks say, and this run read it from the API since, which
// lists it again. Its updatedAt says nothing then: whether Pluggy moves it
// on when it undoes a deletion is not documented (pluggy-api.md §12), and
// with it unchanged the row stayed deleted. Within the run that deleted
// it, a row's version must be newer than the deletion, as before: the rule
// that a late replay never resurrects a deleted row.
//
// Without tombstones among the rows the first statement is left out. With
// unique, the rows are taken as they are, without sorting out each key's
// last version: the caller knows no key comes twice, or retries without it
// when PostgreSQL says one did.
func (t *table) mergeSQL(i int, hardDelete, tombstones, unique bool) []string {
	var stmts []string
	l := t.latest(i)
	if unique {
		l = t.all(i)
	}
	switch {
	case !tombstones:
	case hardDelete:
		stmts = append(stmts, fmt.Sprintf("DELETE FROM %s t USING (%s) l WHERE l.%s IS NOT NULL AND %s",
			t.qname(), l, colDeletedAt, t.pkMatch("t", "l")))
	default:
		stmts = append(stmts, fmt.Sprintf("UPDATE %s t SET %s = l.%s, %s = l.%s FROM (%s) l WHERE l.%s IS NOT NULL AND t.%s IS NULL AND %s",
			t.qname(), colDeletedAt, colDeletedAt, colExtractedAt, colExtractedAt, l, colDeletedAt, colDeletedAt, t.pkMatch("t", "l")))
	}
	var set []string
	for _, c := range t.cols {
		set = append(set, fmt.Sprintf("%s = EXCLUDED.%s", ident(c.name), ident(c.name)))
	}
	set = append(set, fmt.Sprintf("%s = EXCLUDED.%s", colExtractedAt, colExtractedAt),
		fmt.Sprintf("%s = EXCLUDED.%s", colDeletedAt, colDeletedAt),
		fmt.Sprintf("%s = EXCLUDED.%s", colLeftovers, colLeftovers),
		fmt.Sprintf("%s = EXCLUDED.%s", colChanges, colChanges))
	where := fmt.Sprintf("EXCLUDED.%s IS NULL", colDeletedAt)
	if t.version >= 0 {
		v := ident(t.cols[t.version].name)
		where = fmt.Sprintf("EXCLUDED.%[1]s IS NULL AND ("+
			"(t.%[1]s IS NULL AND (t.%[2]s IS NULL OR EXCLUDED.%[2]s IS NULL OR EXCLUDED.%[2]s >= t.%[2]s)) OR "+
			"(t.%[1]s IS NOT NULL AND (EXCLUDED.%[2]s IS NULL OR EXCLUDED.%[2]s > t.%[1]s OR EXCLUDED.%[3]s IS DISTINCT FROM t.%[3]s)))", colDeletedAt, v, colExtractedAt)
	}
	insertFrom := ""
	if hardDelete {
		insertFrom = fmt.Sprintf(" WHERE l.%s IS NULL", colDeletedAt)
	}

	stmts = append(stmts, fmt.Sprintf("INSERT INTO %s AS t (%s) SELECT %s FROM (%s) l%s ON CONFLICT (%s) DO UPDATE SET %s WHERE %s",
		t.qname(), t.allCols(""), t.allCols("l."), l, insertFrom, t.pkCols(""), strings.Join(set, ", "), where))
	return stmts
}

// insertSQL inserts staging table i's rows up to _seq $1 as they are: the
// merge of rows without tombstones into a table that holds none of their
// keys, where no row conflicts and the upsert's checks are spared. A key
// the table holds, or one that comes twice, fails it (23505).
func (t *table) insertSQL(i int) string {
	return fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM (%s) l", t.qname(), t.allCols(""), t.allCols("l."), t.all(i))
}

// replaceSQL are the statements that make staging table i the table's
// whole contents (full refresh), in one transaction: readers see the old
// rows or the new ones, never a mix. With keepCol, the rows whose keepCol
// holds one of the parts in the last parameter (a text[]) are kept, and
// the staging table's rows of those parts left out: the parts a read
// lacked (source.PartialSnapshot).
func (t *table) replaceSQL(i int, keepCol string) []string {
	if keepCol != "" {
		c := ident(keepCol)
		return []string{
			fmt.Sprintf("DELETE FROM %s WHERE %s IS NULL OR %s <> ALL($1::text[])", t.qname(), c, c),
			fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM (%s) l WHERE l.%s IS NULL OR l.%s <> ALL($2::text[])",
				t.qname(), t.allCols(""), t.allCols("l."), t.latest(i), c, c),
		}
	}
	return []string{
		"TRUNCATE " + t.qname(),
		fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM (%s) l", t.qname(), t.allCols(""), t.allCols("l."), t.latest(i)),
	}
}

// ensure creates the table, or checks an existing one against the stream
// and adds the columns a newer schema brought. A column whose type differs
// from the stream's, or a different primary key, is an error naming the
// fix: nothing is dropped or retyped.
func (t *table) ensure(ctx context.Context, tx pgx.Tx, url string) error {
	rows, err := tx.Query(ctx, `
		SELECT a.attname, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, t.qname())
	if err != nil {
		return fmt.Errorf("reading the columns of %s: %w", t.qname(), err)
	}
	have := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return err
		}
		have[name] = typ
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the columns of %s: %w", t.qname(), err)
	}
	if len(have) == 0 {
		if _, err := tx.Exec(ctx, t.createSQL()); err != nil {
			return fmt.Errorf("creating table %s: %w", t.qname(), err)
		}
		t.empty, t.created, t.emptyAtOpen = true, true, true
		return nil
	}
	if err := tx.QueryRow(ctx, fmt.Sprintf("SELECT NOT EXISTS (SELECT FROM %s)", t.qname())).Scan(&t.empty); err != nil {
		return fmt.Errorf("reading %s: %w", t.qname(), err)
	}
	t.emptyAtOpen = t.empty
	want := map[string]string{colExtractedAt: "timestamp with time zone", colDeletedAt: "timestamp with time zone", colLeftovers: "jsonb", colChanges: "jsonb"}
	var wantOrder []string
	for _, c := range t.cols {
		want[c.name] = c.sqlType
		wantOrder = append(wantOrder, c.name)
	}
	wantOrder = append(wantOrder, colExtractedAt, colDeletedAt, colLeftovers, colChanges)
	for _, name := range wantOrder {
		got, ok := have[name]
		if ok && got != want[name] {
			views, err := t.viewsOver(ctx, tx, name)
			if err != nil {
				return err
			}
			first := ""
			if len(views) > 0 {
				// ALTER COLUMN … TYPE refuses a column a view reads
				// ("cannot alter type of a column used by a view").
				first = fmt.Sprintf("DROP VIEW %s (views that read the column; a view of this connector's is made again by the next run), then ", strings.Join(views, ", "))
			}
			return source.ConfigErrorf("PostgreSQL table %s (at %s): column %q is %s, but stream %s needs %s; nothing was written. "+
				"Fix: %sALTER TABLE %s ALTER COLUMN %s TYPE %s (if its values convert), or rename or drop the table and delete its state (%s) to reload it from start_date, or use another --postgres-schema",
				t.qname(), url, name, got, t.name, want[name], first, t.qname(), ident(name), want[name], t.dropState())
		}
	}
	var pk []string
	if err := tx.QueryRow(ctx, `
		SELECT coalesce(array_agg(a.attname ORDER BY k.i), '{}')
		FROM pg_index x
		CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, i)
		JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
		WHERE x.indrelid = to_regclass($1) AND x.indisprimary`, t.qname()).Scan(&pk); err != nil {
		return fmt.Errorf("reading the primary key of %s: %w", t.qname(), err)
	}
	var wantPK []string
	for _, i := range t.pk {
		wantPK = append(wantPK, t.cols[i].name)
	}
	if strings.Join(pk, ",") != strings.Join(wantPK, ",") {
		return source.ConfigErrorf("PostgreSQL table %s (at %s): its primary key is (%s), but stream %s is keyed by (%s); nothing was written. "+
			"Fix: rename or drop the table and delete its state (%s) to reload it from start_date, or use another --postgres-schema",
			t.qname(), url, strings.Join(pk, ", "), t.name, strings.Join(wantPK, ", "), t.dropState())
	}
	for _, name := range wantOrder {
		if _, ok := have[name]; ok {
			continue
		}
		// A property the schema gained since the table was made.
		if _, err := tx.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", t.qname(), ident(name), want[name])); err != nil {
			return fmt.Errorf("adding column %s to %s: %w", name, t.qname(), err)
		}
	}
	return nil
}

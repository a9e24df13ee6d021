// Package postgres is the PostgreSQL sink behind `read --postgres`: each
// stream's rows go to a table of their own, streamed in with COPY, and a
// stream's STATE is passed on only once the rows it covers are committed
// with it in one transaction, so a run resumes from the database's own
// states.
package postgres

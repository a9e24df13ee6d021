package enablebanking

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// sessionsStream emits each configured session as GET /sessions/{id}
// serves it, with session_id. Its status and access.valid_until are what a
// warehouse alerts on: a session that is not AUTHORIZED, or whose access
// ended, is still emitted (with a WARN), since reporting it is this
// stream's job; the streams that need its accounts fail with the message
// to authorise again. Full refresh only: there are few, and nothing to list
// them by. The call is Enable Banking's own, not the bank's: it spends no
// daily limit.
type sessionsStream struct{ c *conn }

func (s *sessionsStream) Name() string            { return "sessions" }
func (s *sessionsStream) Schema() json.RawMessage { return loadSchema("sessions") }
func (s *sessionsStream) PrimaryKey() [][]string  { return [][]string{{"session_id"}} }
func (s *sessionsStream) CursorField() []string   { return nil }

func (s *sessionsStream) Read(ctx context.Context, _ source.ReadRequest, out source.Output) error {
	var errs []error
	for _, id := range s.c.cfg.SessionIDs {
		sess, err := s.c.session(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.c.usable(ctx, sess); err != nil {
			out.Logger().Warn("the session's accounts cannot be read", "session", id, "error", err)
		}
		if err := out.Record(jsonrow.With(sess.raw, jsonrow.String("session_id", id))); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

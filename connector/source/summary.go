package source

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// Summary is what a read printed, tallied: what the demo shows and what a
// cron job needs to carry state from one run to the next.
type Summary struct {
	Records map[string]int
	// States holds the last state message of each stream.
	States map[string]protocol.State
	// Order lists the streams in the order they first appeared.
	Order    []string
	Errors   []string
	Warnings []string
	// Incomplete lists the streams that ended INCOMPLETE.
	Incomplete []string
}

// Summarize reads protocol messages (one JSON object per line) from r. fn,
// if not nil, sees every record.
func Summarize(r io.Reader, fn func(stream string, data json.RawMessage)) (*Summary, error) {
	s := &Summary{Records: map[string]int{}, States: map[string]protocol.State{}}
	seen := map[string]bool{}
	note := func(name string) {
		if !seen[name] {
			seen[name] = true
			s.Order = append(s.Order, name)
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var m protocol.Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("line is not a protocol message: %w", err)
		}
		switch {
		case m.Record != nil:
			note(m.Record.Stream)
			s.Records[m.Record.Stream]++
			if fn != nil {
				fn(m.Record.Stream, m.Record.Data)
			}
		case m.State != nil && m.State.Stream != nil:
			name := m.State.Stream.StreamDescriptor.Name
			note(name)
			s.States[name] = *m.State
		case m.Trace != nil && m.Trace.StreamStatus != nil:
			if st := m.Trace.StreamStatus; st.Status == protocol.Incomplete {
				s.Incomplete = append(s.Incomplete, st.StreamDescriptor.Name)
			}
		case m.Trace != nil && m.Trace.Error != nil:
			s.Errors = append(s.Errors, m.Trace.Error.Message)
		case m.Log != nil && m.Log.Level == protocol.LevelWarn:
			s.Warnings = append(s.Warnings, m.Log.Message)
		}
	}
	return s, sc.Err()
}

// StateFile is the input for the next read's --state: the last state of each
// stream as a JSON array, as the Airbyte platform would pass it.
func (s *Summary) StateFile() ([]byte, error) {
	names := make([]string, 0, len(s.States))
	for n := range s.States {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]protocol.State, 0, len(names))
	for _, n := range names {
		st := s.States[n]
		st.SourceStats = nil
		out = append(out, st)
	}
	return json.MarshalIndent(out, "", "  ")
}

package gocardless

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/quota"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// lockState takes the lock a read of --state-file path takes
// (source.LockStateFile: FILE.lock beside the file path or its links
// name) until its Release: a read holding it rewrites the file at every
// checkpoint with the state it holds, the old account ids included, and
// would put them back over the moved ones (the next read then reads every
// account's history again under its new id); a read started meanwhile
// waits for connect instead, failing with a transient_error that names it
// (the lock file records the command holding it).
// Taken before any API call, so a refusal leaves nothing at GoCardless. A
// path naming no file (a typo) is refused before the lock file is made, so
// that it leaves nothing beside it either.
func lockState(path string) (*source.StateFileLock, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, source.ConfigErrorf("cannot read --state %s: %v", path, err)
	}
	lock, err := source.LockStateFile(source.CommandReconnect, "--state", path)
	var inUse *source.StateFileInUseError
	if errors.As(err, &inUse) {
		why := ""
		switch inUse.Command {
		case source.CommandRead:
			why = ", which would write the old account ids back over the moved ones"
		case source.CommandReconnect:
			why = ", which is moving accounts' state in it"
		}
		return nil, source.TransientErrorf("--state %s is in use by %s (%s; lock file %s)%s: run connect once it ends (pause the job that runs it until connect is done). Nothing was created at GoCardless",
			path, inUse.HeldBy(source.CommandReconnect), inUse.Holder, inUse.Lock, why)
	}
	return lock, err
}

// readStateFile reads a --state file in any shape read accepts.
func readStateFile(path string, streams []source.Stream) (map[string]json.RawMessage, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, source.ConfigErrorf("cannot read --state %s: %v", path, err)
	}
	return source.ParseState(path, raw, streams)
}

// moveState carries each renamed account's incremental state (every
// stream's accounts[old]) over to its new id, and drops the old ids' quota
// records (a new account id starts with a fresh bank quota). The accounts
// stream's cached details become the new account's where connect read
// them (fresh, keyed by new id), sparing the next read a details call of
// the new id's daily quota; else the old ones stay (the same bank
// account's). The file, lock's (lockState), is rewritten in the shape it
// came in (inShapeOf) by the writer a read's checkpoints use
// (source.StateFileLock.Write): atomically, through temporary files of
// the names the next read or connect removes, should a kill leave one. It
// returns how many accounts moved.
func moveState(lock *source.StateFileLock, streams []source.Stream, rename map[string]string, fresh map[string]quota.CachedDetails) (int, error) {
	path := lock.Path()
	states, err := readStateFile(path, streams)
	if err != nil {
		return 0, err
	}
	moved := map[string]bool{}
	var out []protocol.State
	for _, s := range streams {
		raw := states[s.Name()]
		if raw == nil {
			continue
		}
		var st map[string]json.RawMessage
		if err := json.Unmarshal(raw, &st); err != nil {
			return 0, source.ConfigErrorf("--state %s: stream %s: %v", path, s.Name(), err)
		}
		for _, field := range []string{"accounts", "quota"} {
			var m map[string]json.RawMessage
			if st[field] == nil || json.Unmarshal(st[field], &m) != nil || m == nil {
				continue
			}
			for old, nw := range rename {
				v, ok := m[old]
				if !ok {
					continue
				}
				delete(m, old)
				if field == "accounts" {
					if _, taken := m[nw]; !taken {
						switch s.Name() {
						case transactionsName:
							v = replacing(v, old)
						case accountsName:
							v = detailsOf(v, fresh, nw)
						}
						m[nw] = v
					}
					moved[old] = true
				}
			}
			st[field], _ = json.Marshal(m)
		}
		enc, _ := json.Marshal(st)
		out = append(out, protocol.State{Type: protocol.StateStream, Stream: &protocol.StreamState{
			StreamDescriptor: protocol.StreamDescriptor{Name: s.Name()}, StreamState: enc,
		}})
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, source.ConfigErrorf("cannot read --state %s: %v", path, err)
	}
	b, err := inShapeOf(raw, out)
	if err != nil {
		return 0, err
	}
	return len(moved), lock.Write(append(b, '\n'))
}

// inShapeOf encodes the moved states in the shape of the file they came
// from, raw, so that it goes back where it was kept: Meltano's
// {"singer_state": {"bookmarks": …}} (which meltano state set takes back,
// not an array of Airbyte messages), the tap's {"bookmarks": …} or its
// STATE message {"type": "STATE", "value": {"bookmarks": …}}, the other
// members of each kept; the Connection state Airbyte's UI shows and takes
// back, [{"streamDescriptor": …, "streamState": …}]; anything else as the
// array of STREAM states read takes.
func inShapeOf(raw []byte, out []protocol.State) ([]byte, error) {
	var elems []map[string]json.RawMessage
	if json.Unmarshal(bytes.TrimPrefix(raw, []byte("\uFEFF")), &elems) == nil && len(elems) > 0 &&
		elems[0]["streamDescriptor"] != nil && elems[0]["type"] == nil {
		type apiStreamState struct {
			StreamDescriptor protocol.StreamDescriptor `json:"streamDescriptor"`
			StreamState      json.RawMessage           `json:"streamState,omitempty"`
		}
		ui := make([]apiStreamState, 0, len(out))
		for _, s := range out {
			ui = append(ui, apiStreamState{s.Stream.StreamDescriptor, s.Stream.StreamState})
		}
		return json.MarshalIndent(ui, "", "  ")
	}
	bookmarks := map[string]json.RawMessage{}
	for _, s := range out {
		bookmarks[s.Stream.StreamDescriptor.Name] = s.Stream.StreamState
	}
	// withBookmarks is obj (a JSON object) with its bookmarks replaced.
	withBookmarks := func(obj json.RawMessage) (json.RawMessage, bool) {
		var m map[string]json.RawMessage
		if json.Unmarshal(obj, &m) != nil || m == nil {
			return nil, false
		}
		m["bookmarks"], _ = json.Marshal(bookmarks)
		b, err := json.Marshal(m)
		return b, err == nil
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(bytes.TrimPrefix(raw, []byte("\uFEFF")), &top) == nil && top != nil {
		var typ string
		_ = json.Unmarshal(top["type"], &typ)
		key := ""
		switch {
		case top["singer_state"] != nil:
			key = "singer_state"
		case strings.EqualFold(typ, "STATE") && top["value"] != nil:
			key = "value"
		case typ == "" && top["bookmarks"] != nil:
			top["bookmarks"], _ = json.Marshal(bookmarks)
			return json.MarshalIndent(top, "", "  ")
		}
		if key != "" {
			if v, ok := withBookmarks(top[key]); ok {
				top[key] = v
				return json.MarshalIndent(top, "", "  ")
			}
		}
	}
	return json.MarshalIndent(out, "", "  ")
}

// replacing is an account's transactions entry carried to its new id: the
// old id goes into its replaced list with the booked_through its rows had
// reached, so that the rows the next reads take again (the lookback) keep
// the id they were delivered under (accountTxPos.Replaced). An entry that
// does not decode is carried as it is: read's state check names it.
func replacing(entry json.RawMessage, old string) json.RawMessage {
	var pos accountTxPos
	if json.Unmarshal(entry, &pos) != nil || pos.BookedThrough == "" {
		return entry
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(entry, &m) != nil {
		return entry
	}
	list, _ := json.Marshal(append(pos.Replaced, replacedAccount{ID: old, Through: pos.BookedThrough}))
	m["replaced"] = list
	out, err := json.Marshal(m)
	if err != nil {
		return entry
	}
	return out
}

// detailsOf is an account's accounts-stream entry carried to its new id nw,
// with the details connect read of nw if it did. An entry that does not
// decode is carried as it is.
func detailsOf(entry json.RawMessage, fresh map[string]quota.CachedDetails, nw string) json.RawMessage {
	d, ok := fresh[nw]
	var m map[string]json.RawMessage
	if !ok || json.Unmarshal(entry, &m) != nil || m == nil {
		return entry
	}
	m["details"], _ = json.Marshal(d.Details)
	m["fetched_at"], _ = json.Marshal(d.FetchedAt)
	delete(m, "replaced_text") // the old details' text
	if len(d.ReplacedText) > 0 {
		m["replaced_text"], _ = json.Marshal(d.ReplacedText)
	}
	out, err := json.Marshal(m)
	if err != nil {
		return entry
	}
	return out
}

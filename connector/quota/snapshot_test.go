package quota

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// refusing is an Output that cannot write a row of account "c".
type refusing struct{ checkpoints }

func (*refusing) Record(r jsonrow.Row) error {
	if string(r.Raw) == `"c"` {
		return errors.New("disk full")
	}
	return nil
}

// panicking is an Output whose sink panics writing a row of account "c".
type panicking struct{ checkpoints }

func (*panicking) Record(r jsonrow.Row) error {
	if string(r.Raw) == `"c"` {
		panic("a sink's bug, part-way through the row")
	}
	return nil
}

// TestEachPart: a snapshot read whole but for some accounts is a
// PartialSnapshot naming every account not known whole, the one whose call
// failed, the one skipped and the one that panicked after writing a row
// alike; it is Each's error when the caller says the snapshot cannot be
// partial, when a row could not be written, or when the read was cut
// short; and nil when every account was read.
func TestEachPart(t *testing.T) {
	accounts := []ref{"e", "a", "b", "c", "d"}
	boom := errors.New("boom")
	read := func(fail map[ref]bool) func(ctx context.Context, a ref, out source.Output) error {
		return func(_ context.Context, a ref, out source.Output) error {
			if err := out.Record(jsonrow.Row{Raw: []byte(`"` + string(a) + `"`)}); err != nil {
				return err
			}
			switch {
			case !fail[a]:
				return nil
			case a == "a":
				return skip{}
			case a == "b":
				panic("part-way through its rows")
			}
			return boom
		}
	}
	some := map[ref]bool{"a": true, "b": true, "d": true}

	err := EachPart(context.Background(), accounts, 2, &checkpoints{}, "account_key", true, read(some))
	p := source.PartialSnapshotOf(err)
	if p == nil || p.Field != "account_key" || !slices.Equal(p.Missing, []string{"a", "b", "d"}) || !errors.Is(err, boom) {
		t.Fatalf("accounts a, b, d failed: got %#v (%v), want a partial snapshot of account_key missing a, b, d", p, err)
	}

	if err := EachPart(context.Background(), accounts, 2, &checkpoints{}, "account_key", false, read(some)); err == nil || source.PartialSnapshotOf(err) != nil {
		t.Errorf("not partial: got %v, want Each's error", err)
	}
	if err := EachPart(context.Background(), accounts, 2, &refusing{}, "account_key", true, read(some)); err == nil || source.PartialSnapshotOf(err) != nil {
		t.Errorf("a row could not be written: got %v, want Each's error", err)
	}
	// A sink that panicked may hold part of the row (a Parquet row group
	// some of whose columns took it): no account is known whole.
	if err := EachPart(context.Background(), accounts, 2, &panicking{}, "account_key", true, read(some)); err == nil || source.PartialSnapshotOf(err) != nil {
		t.Errorf("a sink panicked writing a row: got %v, want Each's error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := EachPart(ctx, accounts, 2, &checkpoints{}, "account_key", true, read(some)); err == nil || source.PartialSnapshotOf(err) != nil {
		t.Errorf("cut short: got %v, want Each's error", err)
	}
	if err := EachPart(context.Background(), accounts, 2, &checkpoints{}, "account_key", true, read(nil)); err != nil {
		t.Errorf("every account read: got %v", err)
	}
}

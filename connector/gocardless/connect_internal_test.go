package gocardless

import (
	"reflect"
	"testing"
)

func TestMatchAccounts(t *testing.T) {
	acct := func(id, iban, cur, pan string) *linkedAccount {
		return &linkedAccount{ID: id, IBAN: iban, Currency: cur, MaskedPAN: pan}
	}
	cases := []struct {
		name               string
		old, new           []*linkedAccount
		mapping            []AccountMatch
		unmatchedOld, uNew []string
	}{
		{"by iban",
			[]*linkedAccount{acct("o1", "DE1", "", ""), acct("o2", "DE2", "", "")},
			[]*linkedAccount{acct("n2", "DE2", "", ""), acct("n1", "DE1", "", "")},
			[]AccountMatch{{"o2", "n2", "iban"}, {"o1", "n1", "iban"}}, []string{}, []string{}},
		{"shared iban told apart by currency",
			[]*linkedAccount{acct("o1", "LT1", "EUR", ""), acct("o2", "LT1", "GBP", "")},
			[]*linkedAccount{acct("n1", "LT1", "GBP", ""), acct("n2", "LT1", "EUR", "")},
			[]AccountMatch{{"o2", "n1", "iban+currency"}, {"o1", "n2", "iban+currency"}}, []string{}, []string{}},
		{"card by masked pan and currency",
			[]*linkedAccount{acct("o1", "", "EUR", "4242********1234")},
			[]*linkedAccount{acct("n0", "", "USD", "4242********1234"), acct("n1", "", "EUR", "4242********1234")},
			[]AccountMatch{{"o1", "n1", "masked_pan+currency"}}, []string{}, []string{"n0"}},
		{"shared iban without currencies is not guessed",
			[]*linkedAccount{acct("o1", "LT1", "", "")},
			[]*linkedAccount{acct("n1", "LT1", "EUR", ""), acct("n2", "LT1", "GBP", "")},
			[]AccountMatch{}, []string{"o1"}, []string{"n1", "n2"}},
		{"two old claiming one new: neither",
			[]*linkedAccount{acct("o1", "", "EUR", "5555****1111"), acct("o2", "", "EUR", "5555****1111")},
			[]*linkedAccount{acct("n1", "", "EUR", "5555****1111")},
			[]AccountMatch{}, []string{"o1", "o2"}, []string{"n1"}},
		{"gone and new",
			[]*linkedAccount{acct("o1", "DE1", "", "")},
			[]*linkedAccount{acct("n9", "DE9", "", "")},
			[]AccountMatch{}, []string{"o1"}, []string{"n9"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := match("old", c.old, c.new)
			if !reflect.DeepEqual(rc.Mapping, c.mapping) || !reflect.DeepEqual(rc.UnmatchedOld, c.unmatchedOld) || !reflect.DeepEqual(rc.UnmatchedNew, c.uNew) {
				t.Errorf("match = %+v, want mapping %v, unmatched old %v new %v", rc, c.mapping, c.unmatchedOld, c.uNew)
			}
		})
	}
	if !needKeys([]*linkedAccount{acct("o", "", "", "")}, nil) || needKeys([]*linkedAccount{acct("o", "DE1", "", "")}, []*linkedAccount{acct("n", "DE1", "", "")}) ||
		!needKeys([]*linkedAccount{acct("o", "DE1", "", "")}, []*linkedAccount{acct("n", "DE1", "", ""), acct("m", "DE1", "", "")}) {
		t.Error("needKeys: details are needed exactly for an old account without IBAN or a shared IBAN")
	}
}

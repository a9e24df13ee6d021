package pgtest

import (
	"context"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

func TestServerAnswers(t *testing.T) {
	url := DB(t)
	conn := Connect(t, url)
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT 40 + 2").Scan(&n); err != nil || n != 42 {
		t.Fatalf("SELECT 40 + 2 = %d, %v", n, err)
	}
}

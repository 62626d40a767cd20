// This test runs the Hasher on the real salt store, storage.(*Store).Salt. It builds once the
// store has that method: remove the build constraint above when it lands.

package visitor_test

import (
	"context"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/prawnhq/prawn/internal/pgtest"
	"github.com/prawnhq/prawn/internal/storage"
	"github.com/prawnhq/prawn/internal/visitor"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// The store must satisfy the interface the Hasher asks for.
var _ visitor.SaltSource = (*storage.Store)(nil)

func TestHasherOnStore(t *testing.T) {
	store := pgtest.Store(t)
	ctx := context.Background()
	addr := netip.MustParseAddr("198.51.100.9")
	const ua = "Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0"

	now := time.Now().UTC()
	at := func(t time.Time) func() time.Time { return func() time.Time { return t } }

	// Two processes (two Hashers on one database) agree on today's id: the salt is shared.
	a, err := visitor.New(store, at(now)).ID(ctx, "example.com", addr, ua)
	if err != nil || a == 0 {
		t.Fatalf("first process: id %d, err %v", a, err)
	}
	b, err := visitor.New(store, at(now)).ID(ctx, "example.com", addr, ua)
	if err != nil || b != a {
		t.Fatalf("second process: id %d, err %v; want %d", b, err, a)
	}

	// Tomorrow (a day that has not ended) has its own salt, so another id.
	c, err := visitor.New(store, at(now.Add(24*time.Hour))).ID(ctx, "example.com", addr, ua)
	if err != nil || c == 0 || c == a {
		t.Fatalf("next day: id %d, err %v; want a new non-zero id (today's is %d)", c, err, a)
	}

	// A day that ended more than an hour ago gets no salt: no id, an error, and no failure of the view.
	old, err := visitor.New(store, at(now.Add(-72*time.Hour))).ID(ctx, "example.com", addr, ua)
	if old != 0 || err == nil {
		t.Fatalf("three days ago: id %d, err %v; want 0 and an error", old, err)
	}
}

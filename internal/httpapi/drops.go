package httpapi

import (
	"sync/atomic"
	"time"

	"github.com/prawnhq/prawn/gen/api"
)

// Drops counts, by reason, the views this process did not count since it started. The counters
// live in memory: they restart at zero with the process, and each instance has its own.
type Drops struct {
	since                                                      time.Time
	rateLimited, bot, prefetch, foreignHost, invalid, tooLarge atomic.Int64
}

// NewDrops starts counting now.
func NewDrops() *Drops { return &Drops{since: time.Now().UTC()} }

// Snapshot is the counters as the API shows them.
func (d *Drops) Snapshot() api.Dropped {
	return api.Dropped{
		Since:       d.since,
		RateLimited: d.rateLimited.Load(),
		Bot:         d.bot.Load(),
		Prefetch:    d.prefetch.Load(),
		ForeignHost: d.foreignHost.Load(),
		Invalid:     d.invalid.Load(),
		TooLarge:    d.tooLarge.Load(),
	}
}

func (d *Drops) notCounted(r NotCounted) {
	switch r {
	case NotCountedBot:
		d.bot.Add(1)
	case NotCountedPrefetch:
		d.prefetch.Add(1)
	case NotCountedForeignHost:
		d.foreignHost.Add(1)
	}
}

package pageview

import (
	"hash/maphash"
	"net/url"
	"sync"
	"time"
)

// OtherPath is the path a view is counted under when its host has gained as many new paths in
// the day as its Budget allows. It is a valid path, so it can be read like any other
// (GET /api/stats?path=/(other)).
const OtherPath = "/(other)"

// Budget bounds what a flood of new values can cost: each distinct path of a host is a rollup row
// per hour and per day, kept for ever, and a read that ranks paths reads them, so without a bound
// anyone could grow the rollups (and the cost of reads) without end by viewing made-up paths. The
// same holds for referrers, referrer hosts and campaign values, each a breakdown row per day.
//
// A host may gain at most MaxNew values of each of these in a UTC day that it did not have the
// day before (as far as this process saw), and have at most allFactor times that many in the day
// in all. Beyond it a view still counts for its host (totals, series, the other dimensions stay
// exact), under OtherPath instead of its path, with its referrer reduced to the referrer's origin
// (or unknown), with unknown campaign values. Values the host had the day before keep counting as
// themselves, so a flood that starts at midnight does not push a site's regular pages out.
//
// The state is in memory, per process (each Lambda instance has its own): a restart forgets it,
// and n instances admit up to n times as much. It holds at most maxEntries values a day.
type Budget struct {
	maxNew int
	now    func() time.Time
	seed   maphash.Seed

	mu        sync.Mutex
	day       time.Time
	today     map[uint64]struct{}
	yesterday map[uint64]struct{}
	counts    map[budgetKey]*budgetCount
}

// allFactor bounds all the values of a host and dimension in a day: allFactor × MaxNew.
const allFactor = 10

// maxEntries bounds the values a Budget remembers for one day, over every host.
const maxEntries = 200_000

type budgetKey struct {
	host string
	dim  byte
}

type budgetCount struct{ fresh, all int }

// Dimensions a Budget bounds.
const (
	dimPath byte = iota + 1
	dimReferrer
	dimRefHost
	dimUTMSource
	dimUTMMedium
	dimUTMCampaign
)

// NewBudget bounds each host to maxNew new values a UTC day; maxNew <= 0 means no bound (nil).
// now is the clock (nil: time.Now).
func NewBudget(maxNew int, now func() time.Time) *Budget {
	if maxNew <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &Budget{maxNew: maxNew, now: now, seed: maphash.MakeSeed()}
}

// Cap returns v as it may be recorded: values beyond the host's budget replaced as Budget says.
// A nil Budget returns v unchanged.
func (b *Budget) Cap(v View) View {
	if b == nil {
		return v
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.turnDay()
	if v.Path != OtherPath && !b.admit(v.Host, dimPath, v.Path) {
		v.Path = OtherPath
	}
	if v.RefHost != "" && !b.admit(v.Host, dimRefHost, v.RefHost) {
		v.Referrer, v.RefHost = "", ""
	}
	if v.Referrer != "" && !b.admit(v.Host, dimReferrer, v.Referrer) {
		v.Referrer = origin(v.Referrer) // one per referrer host, which the budget bounds already
	}
	for _, c := range []struct {
		dim byte
		val *string
	}{{dimUTMSource, &v.UTMSource}, {dimUTMMedium, &v.UTMMedium}, {dimUTMCampaign, &v.UTMCampaign}} {
		if *c.val != "" && !b.admit(v.Host, c.dim, *c.val) {
			*c.val = ""
		}
	}
	return v
}

// turnDay starts a new day when the UTC day changed: today's values become yesterday's.
func (b *Budget) turnDay() {
	day := b.now().UTC().Truncate(24 * time.Hour)
	if day.Equal(b.day) {
		return
	}
	if day.Sub(b.day) == 24*time.Hour {
		b.yesterday = b.today
	} else {
		b.yesterday = nil
	}
	b.day, b.today, b.counts = day, map[uint64]struct{}{}, map[budgetKey]*budgetCount{}
}

// admit reports whether value may be recorded as itself for host, and counts it in.
func (b *Budget) admit(host string, dim byte, value string) bool {
	var h maphash.Hash
	h.SetSeed(b.seed)
	h.WriteString(host)
	h.WriteByte(0)
	h.WriteByte(dim)
	h.WriteString(value)
	key := h.Sum64()
	if _, ok := b.today[key]; ok {
		return true
	}
	k := budgetKey{host, dim}
	c := b.counts[k]
	_, known := b.yesterday[key]
	if len(b.today) >= maxEntries || (c != nil && (c.all >= allFactor*b.maxNew || (!known && c.fresh >= b.maxNew))) {
		return false
	}
	if c == nil { // at most one per host and dimension with a value in today: bounded by maxEntries
		c = &budgetCount{}
		b.counts[k] = c
	}
	b.today[key] = struct{}{}
	c.all++
	if !known {
		c.fresh++
	}
	return true
}

// origin is a normalised referrer's scheme://host, "" when it has none.
func origin(referrer string) string {
	u, err := url.Parse(referrer)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

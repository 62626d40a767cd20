package pageview

import (
	"fmt"
	"testing"
	"time"
)

// TestBudgetBoundsNewValues: a host gains at most MaxNew new paths, referrers and campaign values
// a UTC day; beyond, the view keeps counting under OtherPath, its referrer's origin and unknown
// campaign values; the values it had the day before keep counting as themselves.
func TestBudgetBoundsNewValues(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	b := NewBudget(3, func() time.Time { return now })
	path := func(host, p string) string { return b.Cap(View{Host: host, Path: p}).Path }
	for i := range 3 {
		if got := path("a.example", fmt.Sprintf("/p%d", i)); got != fmt.Sprintf("/p%d", i) {
			t.Fatalf("path %d within the budget = %q", i, got)
		}
	}
	if got := path("a.example", "/p3"); got != OtherPath {
		t.Errorf("a fourth new path = %q, want %q", got, OtherPath)
	}
	if got := path("a.example", "/p1"); got != "/p1" {
		t.Errorf("a path seen today = %q, want itself", got)
	}
	if got := path("b.example", "/p3"); got != "/p3" {
		t.Errorf("another host's new path = %q, want itself (each host its own budget)", got)
	}
	if got := path("a.example", OtherPath); got != OtherPath {
		t.Errorf("OtherPath = %q", got)
	}
	// The next day: yesterday's paths count as themselves, and 3 new ones are admitted.
	now = now.Add(24 * time.Hour)
	for i := range 3 {
		if got := path("a.example", fmt.Sprintf("/p%d", i)); got != fmt.Sprintf("/p%d", i) {
			t.Errorf("yesterday's path %d = %q, want itself", i, got)
		}
	}
	for i := range 4 {
		want := fmt.Sprintf("/q%d", i)
		if i == 3 {
			want = OtherPath
		}
		if got := path("a.example", fmt.Sprintf("/q%d", i)); got != want {
			t.Errorf("new path %d on the second day = %q, want %q", i, got, want)
		}
	}
	// /p3 was OtherPath yesterday, so it is new today and over the budget.
	if got := path("a.example", "/p3"); got != OtherPath {
		t.Errorf("a path refused yesterday = %q, want %q", got, OtherPath)
	}
	// After a day without views, nothing is carried over.
	now = now.Add(48 * time.Hour)
	path("a.example", "/x1")
	path("a.example", "/x2")
	path("a.example", "/x3")
	if got := path("a.example", "/p0"); got != OtherPath {
		t.Errorf("a path of three days ago = %q, want %q", got, OtherPath)
	}
}

func TestBudgetBoundsReferrersAndCampaigns(t *testing.T) {
	b := NewBudget(2, nil)
	view := func(ref, campaign string) View {
		return b.Cap(View{Host: "a.example", Path: "/", Referrer: ref, RefHost: RefHost(ref), UTMCampaign: campaign})
	}
	view("https://r1.example/a", "c1")
	view("https://r1.example/b", "c2")
	v := view("https://r1.example/c", "c3")
	if v.Referrer != "https://r1.example" || v.RefHost != "r1.example" || v.UTMCampaign != "" {
		t.Errorf("over the referrer and campaign budget: %+v; want the referrer's origin and no campaign", v)
	}
	v = view("https://r2.example/a", "c1")
	if v.Referrer != "https://r2.example" || v.RefHost != "r2.example" || v.UTMCampaign != "c1" {
		t.Errorf("a second referrer host, its referrer over the budget: %+v; want its origin", v)
	}
	v = view("https://r3.example/a", "")
	if v.Referrer != "" || v.RefHost != "" {
		t.Errorf("a third referrer host over the budget: %+v; want no referrer", v)
	}
	if got := (*Budget)(nil).Cap(View{Path: "/a"}); got.Path != "/a" {
		t.Errorf("nil budget changed the view: %+v", got)
	}
	if NewBudget(0, nil) != nil {
		t.Error("NewBudget(0) is a bound")
	}
}

// TestBudgetBoundsAllValues: even values known from the day before stop at allFactor × MaxNew a
// day, so a flood replayed every day cannot grow the rows without end.
func TestBudgetBoundsAllValues(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	b := NewBudget(2, func() time.Time { return now })
	for day := range allFactor + 2 {
		for i := range 2 * (day + 1) {
			b.Cap(View{Host: "a.example", Path: fmt.Sprintf("/p%d", i)})
		}
		now = now.Add(24 * time.Hour)
	}
	seen := 0
	for i := range 100 {
		if b.Cap(View{Host: "a.example", Path: fmt.Sprintf("/p%d", i)}).Path != OtherPath {
			seen++
		}
	}
	if seen != allFactor*2 {
		t.Errorf("%d distinct paths admitted in a day, want %d", seen, allFactor*2)
	}
}

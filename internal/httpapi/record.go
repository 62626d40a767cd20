package httpapi

import (
	"context"
	"slices"

	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/useragent"
)

// record commits v, as every recording operation does, unless it is not to be counted: the edge
// found a bot or a prefetch, the client said it is a bot (bot), or v's host is not one of
// s.Sites. It reports why a view was not counted ("" when it was), after tallying it in Drops,
// and the view as recorded: with its visitor id and dimensions (see identify), and under
// pageview.OtherPath when its host is out of new paths for the day (s.Budget).
func (s *Server) record(ctx context.Context, v pageview.View, bot bool) (pageview.View, NotCounted, error) {
	why := viewerFrom(ctx).notCounted
	if why == "" && bot {
		why = NotCountedBot
	}
	if why == "" && !s.countsHost(v.Host) {
		why = NotCountedForeignHost
	}
	if why != "" {
		s.Drops.notCounted(why)
		return v, why, nil
	}
	s.identify(ctx, &v)
	v = s.Budget.Cap(v)
	return v, "", s.Recorder.Record(ctx, v)
}

// countsHost reports whether views of host count: every host when Sites is empty, else the
// default site ("") and the hosts listed.
func (s *Server) countsHost(host string) bool {
	return host == "" || len(s.Sites) == 0 || slices.Contains(s.Sites, host)
}

// identify fills in v's visitor id (from the client's address and User-Agent and v's host), its
// browser, operating system and device class (from the User-Agent) and its country (from the
// trusted header the edge read). Without the day's salt the id is 0 (no visitor) and the view
// still counts: the failure is logged once, when it starts, and its end once too. Neither the
// address nor the User-Agent is kept or logged.
func (s *Server) identify(ctx context.Context, v *pageview.View) {
	c := viewerFrom(ctx)
	ua := useragent.Parse(c.userAgent)
	v.Browser, v.OS, v.Device, v.Country = ua.Browser, ua.OS, ua.Device, c.country
	if s.Visitors == nil {
		return
	}
	id, err := s.Visitors.ID(ctx, v.Host, c.addr, c.userAgent)
	v.Visitor = id
	switch {
	case err != nil && s.saltFailing.CompareAndSwap(false, true):
		s.Log.WarnContext(ctx, "views are recorded without visitor ids until the day's salt can be read", "err", err)
	case err == nil && s.saltFailing.CompareAndSwap(true, false):
		s.Log.InfoContext(ctx, "visitor ids are back: the day's salt was read")
	}
}

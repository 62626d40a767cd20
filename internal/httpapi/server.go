// Package httpapi is prawn's HTTP edge: it implements the generated strict server interface from
// api/openapi.yaml, maps domain errors to problem+json answers and builds the one http.Handler
// that serves locally and inside Lambda.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	openapi "github.com/prawnhq/prawn/api"
	"github.com/prawnhq/prawn/gen/api"
	"github.com/prawnhq/prawn/internal/badge"
	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/stats"
	"github.com/prawnhq/prawn/internal/transfer"
	"github.com/prawnhq/prawn/internal/visitor"
)

// Server answers the API's operations.
type Server struct {
	Recorder pageview.Recorder
	Stats    *stats.Service
	// Ready reports whether the database answers.
	Ready func(context.Context) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
	// Drops counts the views not counted; NewHandler sets it when nil.
	Drops *Drops
	// Visitors makes the visitor ids of views; nil records views without one.
	Visitors *visitor.Hasher
	// Sites are the hosts whose views count (normalised); empty counts every host. Views of the
	// default site always count.
	Sites []string

	saltFailing atomic.Bool // the last visitor id failed for want of a salt (see identify)
	// Queue, when set, is where the Recorder queues views (queue ingest): recording answers 202
	// once a view is queued, and GET /api/stats reports the queue's depth.
	Queue pageview.Queue
	// Budget bounds the new paths (and referrers, campaign values) a host gains a day; nil: no
	// bound.
	Budget *pageview.Budget
	// Exporter and Importer move history out and in (GET /api/export, POST /api/import).
	Exporter transfer.Exporter
	Importer transfer.Importer
}

var _ api.StrictServerInterface = (*Server)(nil)

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// RecordView records one view and answers once it is committed. The recorder honours ctx (the
// edge's DBTimeout) while the view waits to be written, and once the view is in a batch it
// reports that batch's real outcome within its commit timeout, so a 503 never hides a view that
// was committed (unless the database's answer to the COMMIT itself is lost).
func (s *Server) RecordView(ctx context.Context, req api.RecordViewRequestObject) (api.RecordViewResponseObject, error) {
	b := req.JSONBody
	if b == nil && req.TextBody != nil {
		// The edge hands text/plain bodies on as JSON (checkBodyType); read one anyway.
		b = new(api.ViewInput)
		if err := json.Unmarshal([]byte(*req.TextBody), b); err != nil {
			return nil, &pageview.RuleError{Rule: "the text/plain body must be a view as a JSON object"}
		}
	}
	if b == nil {
		return nil, &pageview.RuleError{Rule: "the request has no body; send a view as a JSON object"}
	}
	if b.Url == nil && b.Path == nil {
		return nil, &pageview.RuleError{Rule: "give the page's url (or its path)"}
	}
	v, err := pageview.Parse(pageview.Input{URL: deref(b.Url), Host: deref(b.Host), Path: deref(b.Path),
		Referrer: deref(b.Referrer), UTMSource: deref(b.UtmSource), UTMMedium: deref(b.UtmMedium), UTMCampaign: deref(b.UtmCampaign)})
	if err != nil {
		return nil, err
	}
	v, why, err := s.record(ctx, v, b.Bot != nil && *b.Bot)
	if err != nil {
		return nil, err
	}
	if why != "" {
		reason := api.NotCountedReason(why)
		return api.RecordView200JSONResponse{Host: v.Host, Path: v.Path, Counted: false, Reason: &reason}, nil
	}
	if s.Queue != nil {
		return api.RecordView202JSONResponse{Host: v.Host, Path: v.Path, Counted: true}, nil
	}
	return api.RecordView201JSONResponse{Host: v.Host, Path: v.Path, Counted: true}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// GetHome records a view of "/" of the default site (with its visitor and dimensions) and
// answers the site's all-time count (of every host), that view included. It reads before it records: a read that fails leaves nothing
// recorded, so a 503 never hides a view that was committed (a client that retries it does not
// count twice), and the count is the snapshot's plus this view.
func (s *Server) GetHome(ctx context.Context, _ api.GetHomeRequestObject) (api.GetHomeResponseObject, error) {
	n, err := s.Stats.Total(ctx, stats.Scope{})
	if err != nil {
		return nil, err
	}
	_, why, err := s.record(ctx, pageview.View{Path: "/"}, false)
	if err != nil {
		return nil, err
	}
	counted := why == ""
	if counted {
		n++
	}
	return api.GetHome200JSONResponse{PageViews: n, Counted: &counted}, nil
}

// GetStats answers the totals and a series of a path or a whole site, of one host or all.
func (s *Server) GetStats(ctx context.Context, req api.GetStatsRequestObject) (api.GetStatsResponseObject, error) {
	p := req.Params
	var bucket, tz string
	if p.Bucket != nil {
		bucket = string(*p.Bucket)
	}
	if p.Tz != nil {
		tz = *p.Tz
	}
	sc, err := stats.NewScope(p.Host, p.Path)
	if err != nil {
		return nil, err
	}
	q, err := stats.NewQuery(sc, p.From, p.To, bucket, tz, s.now())
	if err != nil {
		return nil, err
	}
	res, err := s.Stats.Stats(ctx, q)
	if err != nil {
		return nil, err
	}
	series := make([]api.Bucket, len(res.Series))
	for i, pt := range res.Series {
		series[i] = api.Bucket{Start: pt.Start, Views: pt.Views, Visitors: pt.Visitors}
	}
	tzName := q.Loc.String()
	var dropped *api.Dropped
	if showsOperatorFigures(ctx) { // private stats: admin tokens only
		d := s.Drops.Snapshot()
		dropped = &d
	}
	var queued *api.Queued
	if s.Queue != nil {
		if d, err := s.Queue.Depth(ctx); err == nil {
			queued = &api.Queued{ApproximateWaiting: d.Waiting, ApproximateInFlight: d.InFlight, ReadAt: d.ReadAt}
		}
	}
	return api.GetStats200JSONResponse{
		Dropped:       dropped,
		Queued:        queued,
		Host:          q.Host,
		Path:          q.Path,
		Total:         res.Total.Views,
		TotalVisitors: res.Total.Visitors,
		Views:         res.Range.Views,
		Visitors:      res.Range.Visitors,
		AsOf:          res.AsOf,
		Pending:       &res.Pending,
		Bucket:        api.StatsBucket(q.Bucket),
		Tz:            &tzName,
		From:          q.From,
		To:            q.To,
		Series:        series,
	}, nil
}

// ListPages answers the most viewed paths in a range.
func (s *Server) ListPages(ctx context.Context, req api.ListPagesRequestObject) (api.ListPagesResponseObject, error) {
	var limit *int
	if req.Params.Limit != nil {
		l := int(*req.Params.Limit)
		limit = &l
	}
	sc, err := stats.NewScope(req.Params.Host, nil)
	if err != nil {
		return nil, err
	}
	q, err := stats.NewPagesQuery(sc, req.Params.From, req.Params.To, limit, s.now())
	if err != nil {
		return nil, err
	}
	pages, err := s.Stats.TopPages(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]api.PageCount, len(pages))
	for i, p := range pages {
		out[i] = api.PageCount{Host: p.Host, Path: p.Path, Views: p.Views, Visitors: p.Visitors}
	}
	return api.ListPages200JSONResponse{Host: q.Host, From: q.From, To: q.To, Pages: out}, nil
}

// ListHosts answers every host with views.
func (s *Server) ListHosts(ctx context.Context, _ api.ListHostsRequestObject) (api.ListHostsResponseObject, error) {
	hosts, err := s.Stats.Hosts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.HostCount, len(hosts))
	for i, h := range hosts {
		out[i] = api.HostCount{Host: h.Host, Views: h.Views, Visitors: h.Visitors}
	}
	return api.ListHosts200JSONResponse{Hosts: out}, nil
}

// GetBreakdown answers the most viewed values of one dimension.
func (s *Server) GetBreakdown(ctx context.Context, req api.GetBreakdownRequestObject) (api.GetBreakdownResponseObject, error) {
	p := req.Params
	var limit *int
	if p.Limit != nil {
		l := int(*p.Limit)
		limit = &l
	}
	sc, err := stats.NewScope(p.Host, p.Path)
	if err != nil {
		return nil, err
	}
	q, err := stats.NewBreakdownQuery(sc, string(p.By), p.From, p.To, limit, s.now())
	if err != nil {
		return nil, err
	}
	res, err := s.Stats.Breakdown(ctx, q)
	if err != nil {
		return nil, err
	}
	values := make([]api.ValueCount, len(res.Values))
	for i, v := range res.Values {
		values[i] = api.ValueCount{Value: v.Value, Views: v.Views, Visitors: v.Visitors}
	}
	return api.GetBreakdown200JSONResponse{
		By: p.By, Host: q.Host, Path: q.Path, From: q.From, To: q.To, Values: values,
		Others:  api.Counts{Views: res.Others.Views, Visitors: res.Others.Visitors},
		Unknown: api.Counts{Views: res.Unknown.Views, Visitors: res.Unknown.Visitors},
	}, nil
}

// GetOpenAPI serves the contract itself.
func (s *Server) GetOpenAPI(context.Context, api.GetOpenAPIRequestObject) (api.GetOpenAPIResponseObject, error) {
	return api.GetOpenAPI200ApplicationyamlResponse{Body: bytes.NewReader(openapi.YAML), ContentLength: int64(len(openapi.YAML))}, nil
}

// GetHealth says the process is up.
func (s *Server) GetHealth(context.Context, api.GetHealthRequestObject) (api.GetHealthResponseObject, error) {
	return api.GetHealth200JSONResponse{Status: "ok"}, nil
}

// readyTimeout bounds /readyz's ping, so that even a silent database is reported within a second.
const readyTimeout = 800 * time.Millisecond

// GetReady says whether the database answers within readyTimeout.
func (s *Server) GetReady(ctx context.Context, _ api.GetReadyRequestObject) (api.GetReadyResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		s.Log.WarnContext(ctx, "not ready", "err", err)
		return api.GetReady503ApplicationProblemPlusJSONResponse{UnavailableApplicationProblemPlusJSONResponse: api.UnavailableApplicationProblemPlusJSONResponse{
			Body:    problem(http.StatusServiceUnavailable, "the database is unreachable"),
			Headers: api.UnavailableResponseHeaders{RetryAfter: 1},
		}}, nil
	}
	return api.GetReady200JSONResponse{Status: "ok"}, nil
}

// errorStatus maps an error from the domain to a status and a detail fit for the client.
func errorStatus(err error) (int, string) {
	switch {
	case errors.Is(err, pageview.ErrInvalid), errors.Is(err, stats.ErrInvalid), errors.Is(err, badge.ErrInvalid), errors.Is(err, transfer.ErrInvalid):
		return http.StatusBadRequest, err.Error()
	case errors.As(err, new(*tooLargeError)):
		return http.StatusRequestEntityTooLarge, err.Error()
	case errors.Is(err, pageview.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "the database is unavailable; try again shortly"
	case errors.Is(err, stats.ErrBacklog):
		return http.StatusServiceUnavailable, stats.ErrBacklog.Error()
	case errors.Is(err, pageview.ErrOverloaded):
		return http.StatusServiceUnavailable, "too many views in flight; try again shortly"
	case errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, "the request was cancelled"
	}
	return http.StatusInternalServerError, ""
}

package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"strings"

	"github.com/prawnhq/prawn/gen/api"
	"github.com/prawnhq/prawn/internal/badge"
	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/stats"
)

// The answers of the operations that embed prawn in other pages: the pixel and the badges.
const (
	gifType = "image/gif"
	svgType = "image/svg+xml"
	// svgCSP is the policy of every SVG answer: a badge needs nothing (no script, no style
	// element, no font, no link; its look is presentation attributes), so it may load, run and
	// be framed by nothing, even when opened on its own as a document.
	svgCSP = apiCSP
	// showCache is how long a badge that does not record may be kept (browsers, camo, CDNs).
	showCache = "public, max-age=300"
	// recordCache makes every showing of a recording badge reach prawn: caches may keep it but
	// must revalidate it each time (GitHub's camo then asks again on every view).
	recordCache = "no-cache"
	// shieldsCacheSeconds is the cacheSeconds of GET /api/badge.json: shields.io's least.
	shieldsCacheSeconds = 300
)

// pixelGIF is a 1×1 transparent GIF (43 bytes).
var pixelGIF = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

type requestKey struct{}

// requestFacts are the headers of a request that operations read beyond their parameters.
type requestFacts struct {
	referer     string // the page showing the pixel
	ifNoneMatch string // the badge a client holds
}

// withRequestFacts is the strict server's middleware that hands the operations requestFacts.
func withRequestFacts(f api.StrictHandlerFunc, _ string) api.StrictHandlerFunc {
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request, req any) (any, error) {
		facts := requestFacts{referer: r.Header.Get("Referer"), ifNoneMatch: r.Header.Get("If-None-Match")}
		return f(context.WithValue(ctx, requestKey{}, facts), w, r, req)
	}
}

func factsFrom(ctx context.Context) requestFacts {
	f, _ := ctx.Value(requestKey{}).(requestFacts)
	return f
}

// RecordPixel records a view of a path of the host given, or else of the page that shows the
// image (its Referer's host), or else of the default site, and answers the transparent pixel.
func (s *Server) RecordPixel(ctx context.Context, req api.RecordPixelRequestObject) (api.RecordPixelResponseObject, error) {
	host := refererHost(factsFrom(ctx).referer)
	if req.Params.Host != nil {
		host = *req.Params.Host
	}
	v, err := pageview.Parse(pageview.Input{Host: host, Path: req.Params.Path})
	if err != nil {
		return nil, err
	}
	if _, _, err := s.record(ctx, v, false); err != nil {
		return nil, err
	}
	noStore := "no-store"
	return api.RecordPixel200ImagegifResponse{Body: bytes.NewReader(pixelGIF), ContentLength: int64(len(pixelGIF)),
		Headers: api.RecordPixel200ResponseHeaders{CacheControl: &noStore}}, nil
}

// refererHost is the host of the page a Referer names, normalised; "" when there is none (no
// Referer, or one that is no http(s) URL with a valid host).
func refererHost(referer string) string {
	u, err := url.Parse(referer)
	if referer == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	h, err := pageview.NormalizeHost(u.Hostname())
	if err != nil {
		return ""
	}
	return h
}

// badgeRequest is a badge's parameters, checked.
type badgeRequest struct {
	scope pageview.View // the host and path counted
	label string
	color badge.Color
	style badge.Style
}

// parseBadge checks a badge's parameters, as GET /api/badge.svg and /api/badge.json take them.
func parseBadge(host *string, path string, label, color *string, style *string) (badgeRequest, error) {
	var b badgeRequest
	var err error
	if b.scope, err = pageview.Parse(pageview.Input{Host: derefOr(host, ""), Path: path}); err != nil {
		return b, err
	}
	b.label = derefOr(label, badge.DefaultLabel)
	if err := badge.CheckLabel(b.label); err != nil {
		return b, err
	}
	b.color = badge.DefaultColor
	if color != nil {
		if b.color, err = badge.ParseColor(*color); err != nil {
			return b, err
		}
	}
	if b.style, err = badge.ParseStyle(derefOr(style, "")); err != nil {
		return b, err
	}
	return b, nil
}

func derefOr(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

// total is the all-time views of the badge's path.
func (s *Server) total(ctx context.Context, b badgeRequest) (int64, error) {
	return s.Stats.Total(ctx, stats.Scope{Host: &b.scope.Host, Path: &b.scope.Path})
}

// GetBadge answers an SVG badge of a path's all-time views. With record=true it records a view
// of the path first, after reading the count (a read that fails leaves nothing recorded, so a
// 503 never hides a committed view), and the count includes the view. A recording request always
// records before its answer is chosen: its Cache-Control (no-cache) makes every cache ask again,
// and it is answered 304 only when the client holds the very badge it would get (one more view
// often leaves the abbreviated count, 1.2k, as it was): the view is counted either way.
func (s *Server) GetBadge(ctx context.Context, req api.GetBadgeRequestObject) (api.GetBadgeResponseObject, error) {
	p := req.Params
	var style *string
	if p.Style != nil {
		v := string(*p.Style)
		style = &v
	}
	b, err := parseBadge(p.Host, p.Path, p.Label, p.Color, style)
	if err != nil {
		return nil, err
	}
	n, err := s.total(ctx, b)
	if err != nil {
		return nil, err
	}
	recording := p.Record != nil && *p.Record
	cache := showCache
	if recording {
		cache = recordCache
		_, why, err := s.record(ctx, b.scope, false)
		if err != nil {
			return nil, err
		}
		if why == "" {
			n++
		}
	}
	svg := badge.Badge{Label: b.label, Message: badge.Count(n), Color: b.color, Style: b.style}.SVG()
	h := fnv.New64a()
	h.Write(svg)
	etag := fmt.Sprintf(`"%x"`, h.Sum64())
	return badgeAnswer{svg: svg, etag: etag, cache: cache, notModified: etagMatches(factsFrom(ctx).ifNoneMatch, etag)}, nil
}

// badgeAnswer is an SVG badge with its caching headers, or 304 when the client holds it.
type badgeAnswer struct {
	svg         []byte
	etag, cache string
	notModified bool
}

// VisitGetBadgeResponse writes the badge.
func (a badgeAnswer) VisitGetBadgeResponse(w http.ResponseWriter) error {
	h := w.Header()
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", a.cache)
	if a.notModified {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Security-Policy", svgCSP)
	return api.GetBadge200ImagesvgXmlResponse{Body: bytes.NewReader(a.svg), ContentLength: int64(len(a.svg)),
		Headers: api.GetBadge200ResponseHeaders{CacheControl: &a.cache, ETag: &a.etag}}.VisitGetBadgeResponse(w)
}

// etagMatches is If-None-Match's weak comparison of header with etag: "*", or etag among the
// listed tags, W/ or not.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// GetBadgeEndpoint answers a path's all-time views in shields.io's endpoint-badge schema. It never
// records: shields.io fetches it from its own servers and keeps it for cacheSeconds.
func (s *Server) GetBadgeEndpoint(ctx context.Context, req api.GetBadgeEndpointRequestObject) (api.GetBadgeEndpointResponseObject, error) {
	p := req.Params
	b, err := parseBadge(p.Host, p.Path, p.Label, p.Color, nil)
	if err != nil {
		return nil, err
	}
	n, err := s.total(ctx, b)
	if err != nil {
		return nil, err
	}
	return api.GetBadgeEndpoint200JSONResponse{SchemaVersion: api.N1, Label: b.label, Message: badge.Count(n),
		Color: b.color.Name(), CacheSeconds: shieldsCacheSeconds}, nil
}

package httpapi

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/text/language"

	"github.com/prawnhq/prawn/internal/bots"
)

type viewerKey struct{}

// viewer is what the edge learnt about the client of a recording request: whether its view
// counts, and what the view's visitor id and dimensions are made from. The address and the
// User-Agent are only ever hashed and parsed (Server.identify), never stored or logged.
type viewer struct {
	notCounted NotCounted
	addr       netip.Addr // the client's address (see identifyClient); the zero Addr when unknown
	userAgent  string
	country    string // ISO 3166-1 alpha-2, upper case; "" when unknown
}

func viewerFrom(ctx context.Context) viewer {
	v, _ := ctx.Value(viewerKey{}).(viewer)
	return v
}

// viewerOf describes the client of r, a request to op. An image proxy that fetches for a person
// viewing a page (GitHub's camo) is a viewer of the operations that answer images, not a bot.
func (e *edge) viewerOf(op *operation, r *http.Request) viewer {
	ua := r.Header.Get("User-Agent")
	v := viewer{notCounted: notCounted(r), addr: clientFrom(r.Context()).addr, userAgent: ua}
	if v.notCounted == NotCountedBot && op.errorImage != "" && bots.ImageProxy(ua) {
		v.notCounted = ""
	}
	if e.CountryHeader != "" && fromTrustedHop(r.Context()) {
		v.country = countryCode(r.Header.Get(e.CountryHeader))
	}
	return v
}

// countryCode is v as a country: two letters (any case) that name a country or territory in
// ISO 3166-1 alpha-2 (golang.org/x/text/language's table, which also knows XK, Kosovo, as CDNs
// send it), upper case; "" for anything else (Cloudflare's XX and T1, EU, a junk value).
func countryCode(v string) string {
	v = strings.TrimSpace(v)
	if len(v) != 2 || !isLetter(v[0]) || !isLetter(v[1]) {
		return ""
	}
	r, err := language.ParseRegion(v)
	if err != nil || !r.IsCountry() {
		return ""
	}
	return r.String()
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// asksToRecord reports whether a request to an operation whose recording is optional asks for
// it: any value of param but one that reads as false (a malformed or repeated one is then refused
// under the recording rules, and counted among the invalid views).
func asksToRecord(r *http.Request, param string) bool {
	vs, ok := r.URL.Query()[param]
	if !ok {
		return false
	}
	if len(vs) != 1 {
		return true
	}
	b, err := strconv.ParseBool(vs[0])
	return err != nil || b
}

// anyOrigin lets every origin's pages read an operation's answers (public reads), without
// credentials: Access-Control-Allow-Origin: * is the same for every origin, so caches need no
// Vary.
func anyOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", "Retry-After, X-Request-Id")
		next.ServeHTTP(w, r)
	})
}

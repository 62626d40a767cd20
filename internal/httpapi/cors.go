package httpapi

import (
	"fmt"
	"net/http"
	"slices"
)

// corsPath is the one operation other sites call from their pages.
const corsPath = "/api/views"

// withCORS lets pages on the allowed origins ("*" for any) post views: it answers preflight
// requests for POST /api/views and marks the allowed origins' POSTs readable. Other origins get
// no CORS headers (a refused preflight is a 403 problem), so browsers stop them.
func withCORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	anyOrigin := slices.Contains(origins, "*")
	allowed := func(o string) bool { return anyOrigin || slices.Contains(origins, o) }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != corsPath {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			method := r.Header.Get("Access-Control-Request-Method")
			switch {
			case !allowed(origin):
				writeProblem(w, http.StatusForbidden, fmt.Sprintf("origin %q may not post views here", origin))
			case method != http.MethodPost:
				writeProblem(w, http.StatusForbidden, fmt.Sprintf("only POST is allowed across origins on %s, not %s", corsPath, method))
			default:
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Methods", "POST")
				h.Set("Access-Control-Allow-Headers", "Content-Type")
				h.Set("Access-Control-Max-Age", "86400")
				w.WriteHeader(http.StatusNoContent)
			}
			return
		}
		if origin != "" && r.Method == http.MethodPost && allowed(origin) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "Retry-After, X-Request-Id")
		}
		next.ServeHTTP(w, r)
	})
}

package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// corsPolicy lets pages on the allowed origins ("*" for any) call the operations whose kind allows
// CORS (corsConfigured): it answers their preflight requests and marks the allowed origins'
// requests readable. Other origins get no CORS headers (a refused preflight is a 403 problem), so
// browsers stop them.
type corsPolicy struct {
	origins   []string
	anyOrigin bool
}

func newCORSPolicy(origins []string) *corsPolicy {
	return &corsPolicy{origins: origins, anyOrigin: slices.Contains(origins, "*")}
}

func (c *corsPolicy) allowed(origin string) bool {
	return c.anyOrigin || slices.Contains(c.origins, origin)
}

// preflight answers OPTIONS on path, where methods are those of the path's operations open to
// other origins and allow all the methods the path serves (for 405). An OPTIONS that is no
// preflight (no Origin or no Access-Control-Request-Method) is a 405 like any other method the
// path does not serve.
func (c *corsPolicy) preflight(path string, methods []string, allow string) http.Handler {
	allowMethods := strings.Join(methods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		method := r.Header.Get("Access-Control-Request-Method")
		if origin == "" || method == "" {
			h.Set("Allow", allow)
			writeProblem(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow))
			return
		}
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		switch {
		case !c.allowed(origin):
			writeProblem(w, http.StatusForbidden, fmt.Sprintf("origin %q may not post views here", origin))
		case !slices.Contains(methods, method):
			writeProblem(w, http.StatusForbidden, fmt.Sprintf("only %s is allowed across origins on %s, not %s", allowMethods, path, method))
		default:
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", allowMethods)
			h.Set("Access-Control-Allow-Headers", "Content-Type")
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

// actual marks the allowed origins' requests to an operation readable by their pages.
func (c *corsPolicy) actual(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		if origin := r.Header.Get("Origin"); origin != "" && c.allowed(origin) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "Retry-After, X-Request-Id")
		}
		next.ServeHTTP(w, r)
	})
}

package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// router routes each request once. It is the BaseRouter of the generated code: each route the
// generated code registers is an operation of the contract, registered with what its kind asks
// of the edge. When no route matches, the ServeMux's own answers (404, 405 with Allow, 400 for
// a request target of *) become problems.
type router struct {
	mux  *http.ServeMux
	spec *contract
	edge *edge
	seen map[string]bool // the patterns of the operations registered
}

func newRouter(spec *contract, e *edge) *router {
	return &router{mux: http.NewServeMux(), spec: spec, edge: e, seen: map[string]bool{}}
}

// HandleFunc registers the generated handler of the operation at pattern.
func (rt *router) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	op, ok := rt.spec.ops[pattern]
	if !ok {
		panic(fmt.Sprintf("route %q is not an operation of api/openapi.yaml: run make generate", pattern))
	}
	rt.seen[pattern] = true
	rt.handle(pattern, rt.edge.operation(op, http.HandlerFunc(h)))
}

// complete checks that every operation of the contract has its route, and adds the CORS
// preflights of the paths whose operations other origins may call: those of the configured
// origins (recording), or of any origin (public reads).
func (rt *router) complete() error {
	byPath := map[string][]*operation{}
	for pattern, op := range rt.spec.ops {
		if !rt.seen[pattern] {
			return fmt.Errorf("operation %s (%s) has no generated route: run make generate", op.id, pattern)
		}
		byPath[op.path] = append(byPath[op.path], op)
	}
	for path, ops := range byPath {
		var cross, public, all []string
		for _, op := range ops {
			method, _, _ := strings.Cut(op.pattern, " ")
			all = append(all, method)
			if method == http.MethodGet {
				all = append(all, http.MethodHead) // as the ServeMux's Allow says
			}
			switch policies[op.kind].cors {
			case corsConfigured:
				cross = append(cross, method)
			case corsAnyOrigin:
				public = append(public, method)
			}
		}
		slices.Sort(all)
		switch {
		case len(cross) > 0 && rt.edge.cors != nil:
			slices.Sort(cross)
			rt.handle(http.MethodOptions+" "+path, rt.edge.cors.preflight(path, cross, strings.Join(all, ", ")))
		case len(cross) == 0 && len(public) > 0:
			slices.Sort(public)
			rt.handle(http.MethodOptions+" "+path, newCORSPolicy([]string{"*"}).preflight(path, public, strings.Join(all, ", ")))
		}
	}
	return nil
}

// handle registers h at pattern as a route, whose answers the router leaves as they are.
func (rt *router) handle(pattern string, h http.Handler) {
	rt.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rw, ok := w.(*routingWriter); ok {
			rw.routed = true
			w = rw.ResponseWriter
		}
		h.ServeHTTP(w, r)
	}))
}

// ServeHTTP routes r: one lookup in the ServeMux.
func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt.mux.ServeHTTP(&routingWriter{ResponseWriter: w, r: r, rt: rt}, r)
}

// apiPath reports whether p (as sent, or where the ServeMux would redirect it) is the API's: under
// /api or an operation's path. Such paths are matched as sent: the ServeMux's redirects to a
// cleaned path (/api//views, /api/../api/home, /api) are not followed for them.
func (rt *router) apiPath(p string) bool {
	if p == "/api" || strings.HasPrefix(p, "/api/") {
		return true
	}
	for _, op := range rt.spec.ops {
		if op.path == p {
			return true
		}
	}
	return false
}

// routingWriter turns the ServeMux's own error answers into problems, and its redirects of API
// paths and of methods other than GET and HEAD into 404 problems that name the path meant; a
// route unwraps it.
type routingWriter struct {
	http.ResponseWriter
	r       *http.Request
	rt      *router
	routed  bool
	replied bool // the problem is written: drop the ServeMux's plain text
}

func (rw *routingWriter) WriteHeader(code int) {
	r := rw.r
	if !rw.routed && !rw.replied && code >= 300 && code < 400 {
		loc := rw.Header().Get("Location")
		locPath, _, _ := strings.Cut(loc, "?")
		if rw.rt.apiPath(r.URL.Path) || rw.rt.apiPath(locPath) || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			rw.replied = true
			rw.Header().Del("Location")
			writeProblem(rw.ResponseWriter, http.StatusNotFound, fmt.Sprintf("nothing at %s: paths are matched as sent; did you mean %s?", r.URL.Path, locPath))
			return
		}
	}
	if rw.routed || rw.replied || code < 400 {
		rw.ResponseWriter.WriteHeader(code)
		return
	}
	rw.replied = true
	target := r.URL.Path
	if target == "" {
		target = r.RequestURI // CONNECT host:port
	}
	switch code {
	case http.StatusMethodNotAllowed:
		writeProblem(rw.ResponseWriter, code, fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, target, rw.Header().Get("Allow")))
	case http.StatusNotFound:
		writeProblem(rw.ResponseWriter, code, fmt.Sprintf("nothing at %s", target))
	default:
		writeProblem(rw.ResponseWriter, code, fmt.Sprintf("%s %s is not a request this server answers", r.Method, r.RequestURI))
	}
}

func (rw *routingWriter) Write(b []byte) (int, error) {
	if rw.replied {
		return len(b), nil
	}
	return rw.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (rw *routingWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

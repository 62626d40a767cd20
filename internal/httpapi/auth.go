package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/prawnhq/prawn/internal/auth"
)

// Extensions of api/openapi.yaml that say which token an operation needs.
const (
	// scopeExtension names the scope (read, export, admin) an operation that takes a token needs.
	scopeExtension = "x-prawn-scope"
	// publicTotalExtension marks an operation that shows one all-time total: with
	// Edge.PublicTotals it needs no token even when stats are private.
	publicTotalExtension = "x-prawn-public-total"
	// tokenScheme is the contract's security scheme of API tokens.
	tokenScheme = "token"
)

// authRule is which token an operation needs, read from its security in the contract.
type authRule struct {
	use         tokenUse
	scope       auth.Scope // the scope needed, when use is not tokensNever
	publicTotal bool
}

// parseAuth reads the token an operation needs from its security (or the document's) and
// x-prawn-scope, and refuses a declaration its kind does not allow.
func parseAuth(doc *openapi3.T, op *openapi3.Operation, o *operation) (authRule, error) {
	reqs := doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	var optional, token bool
	for _, req := range reqs {
		if len(req) == 0 {
			optional = true
		}
		for name := range req {
			if name != tokenScheme {
				return authRule{}, fmt.Errorf("api/openapi.yaml: operation %s (%s) names security scheme %q: want %q", o.id, o.pattern, name, tokenScheme)
			}
			token = true
		}
	}
	var rule authRule
	switch {
	case !token:
		rule.use = tokensNever
	case optional:
		rule.use = tokensWhenPrivate
	default:
		rule.use = tokensAlways
	}
	raw, _ := op.Extensions[scopeExtension].(string)
	if rule.use == tokensNever {
		if raw != "" {
			return authRule{}, fmt.Errorf("api/openapi.yaml: operation %s (%s) has %s but takes no token (security)", o.id, o.pattern, scopeExtension)
		}
	} else {
		s, err := auth.ParseScope(raw)
		if err != nil {
			return authRule{}, fmt.Errorf("api/openapi.yaml: operation %s (%s) takes a token: its %s: %w", o.id, o.pattern, scopeExtension, err)
		}
		rule.scope = s
	}
	rule.publicTotal, _ = op.Extensions[publicTotalExtension].(bool)
	if rule.publicTotal && rule.use != tokensWhenPrivate {
		return authRule{}, fmt.Errorf("api/openapi.yaml: operation %s (%s) has %s but does not take a token only when stats are private", o.id, o.pattern, publicTotalExtension)
	}
	if policies[o.kind].tokens&rule.use == 0 {
		return authRule{}, fmt.Errorf("api/openapi.yaml: operation %s (%s) of kind %s declares a security its kind does not allow", o.id, o.pattern, o.kind)
	}
	return rule, nil
}

// grant is what the edge let a request do, for the operations that show more to stronger
// tokens (the drop counters of GET /api/stats).
type grant struct {
	scope   auth.Scope
	private bool // stats are private
}

type grantKey struct{}

func grantFrom(ctx context.Context) grant {
	g, _ := ctx.Value(grantKey{}).(grant)
	return g
}

// showsOperatorFigures reports whether the request may see the operator's figures (the drop
// counters): always when stats are public, to admin tokens when they are private.
func showsOperatorFigures(ctx context.Context) bool {
	g := grantFrom(ctx)
	return !g.private || g.scope.Allows(auth.ScopeAdmin)
}

// authTimeout bounds a token check's database lookup when Edge.DBTimeout is not set.
const authTimeout = 800 * time.Millisecond

// authorize answers 401 or 403 unless r carries the token op needs. An operation that needs a
// token only when stats are private lets every request through while they are public (a token
// it carries is not even looked at), and so does one marked x-prawn-public-total when
// Edge.PublicTotals is set. Tokens are never logged.
func (e *edge) authorize(op *operation, next http.Handler) http.Handler {
	rule := op.auth
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := grant{private: e.PrivateStats}
		header := r.Header.Get("Authorization")
		needed := rule.use == tokensAlways || (rule.use == tokensWhenPrivate && e.PrivateStats && !(rule.publicTotal && e.PublicTotals))
		if needed {
			scope, err := e.checkToken(r.Context(), header)
			switch {
			case errors.Is(err, auth.ErrMissing):
				w.Header().Set("WWW-Authenticate", `Bearer realm="prawn"`)
				writeProblem(w, http.StatusUnauthorized, fmt.Sprintf(
					"this operation needs a token of scope %s: send Authorization: Bearer <token>; the operator makes one with `prawn token create --name NAME --scope %s`",
					rule.scope, rule.scope))
				return
			case errors.Is(err, auth.ErrInvalid):
				w.Header().Set("WWW-Authenticate", `Bearer realm="prawn", error="invalid_token"`)
				writeProblem(w, http.StatusUnauthorized,
					"the token is not valid: check that it was sent whole as Authorization: Bearer <token>, or ask the operator for a new one (`prawn token create`)")
				return
			case err != nil:
				e.log.WarnContext(r.Context(), "token check failed", "err", err, "path", r.URL.Path, "request_id", requestID(r))
				w.Header().Set("Retry-After", "1")
				writeProblem(w, http.StatusServiceUnavailable, "the database is unavailable; try again shortly")
				return
			case !scope.Allows(rule.scope):
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="prawn", error="insufficient_scope", scope=%q`, rule.scope.String()))
				writeProblem(w, http.StatusForbidden, fmt.Sprintf(
					"this token's scope is %s; this operation needs %s (admin ⊇ export ⊇ read): use a token of that scope", scope, rule.scope))
				return
			default:
				g.scope = scope
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), grantKey{}, g)))
	})
}

// checkToken looks the request's token up, bounded by the database timeout.
func (e *edge) checkToken(ctx context.Context, header string) (auth.Scope, error) {
	if header == "" {
		return auth.ScopeNone, auth.ErrMissing
	}
	if e.Tokens == nil {
		return auth.ScopeNone, auth.ErrInvalid // no token store: no token is valid
	}
	d := e.DBTimeout
	if d <= 0 {
		d = authTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return auth.Check(ctx, e.Tokens, header)
}

// keepFlowing lets a long answer or request body outlive the server's WriteTimeout and
// ReadTimeout as long as bytes keep moving: every write and read pushes its deadline a timeout
// further (at most once a second). A stalled client still times out.
func keepFlowing(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		fw := &flowingWriter{ResponseWriter: w, rc: rc}
		if r.Body != nil {
			r.Body = &flowingBody{ReadCloser: r.Body, rc: rc}
		}
		next.ServeHTTP(fw, r)
	})
}

// flowingWriter moves the write deadline on as the answer is written.
type flowingWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	last time.Time
}

func (f *flowingWriter) Write(b []byte) (int, error) {
	if now := time.Now(); now.Sub(f.last) > time.Second {
		f.last = now
		_ = f.rc.SetWriteDeadline(now.Add(WriteTimeout)) // not every writer has deadlines (Lambda)
	}
	return f.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (f *flowingWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// flowingBody moves the read deadline on as the body is read.
type flowingBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	last time.Time
}

func (f *flowingBody) Read(b []byte) (int, error) {
	if now := time.Now(); now.Sub(f.last) > time.Second {
		f.last = now
		_ = f.rc.SetReadDeadline(now.Add(ReadTimeout))
	}
	return f.ReadCloser.Read(b)
}

package httpapi

import "net/http"

// apiCSP is the Content-Security-Policy of every answer that does not set its own: API answers
// are data, never documents, so they may load, run and be framed by nothing. The page's policy
// is decided by internal/web, which sets it on the HTML it serves.
const apiCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// hsts is sent when HSTS is on: a year, subdomains included.
const hsts = "max-age=31536000; includeSubDomains"

// securityHeaders are set on every answer. The values are shared, read-only slices with no spare
// capacity (an Add appends to a copy), so setting them costs no allocation per request.
var securityHeaders = []struct {
	key   string
	value []string
}{
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"Referrer-Policy", []string{"no-referrer"}},
	{"X-Frame-Options", []string{"DENY"}},
	{"Permissions-Policy", []string{"accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=(), browsing-topics=()"}},
	{"Cross-Origin-Opener-Policy", []string{"same-origin"}},
}

var (
	hstsValue = []string{hsts}
	cspValue  = []string{apiCSP}
)

// withSecurityHeaders sets the headers every answer carries: no MIME sniffing, no referrer
// leaking, no framing, no powerful browser features, a process of its own; a CSP unless the
// handler set one; and Strict-Transport-Security when on (configured, or the request came over
// TLS).
func withSecurityHeaders(hstsOn bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, kv := range securityHeaders {
			h[kv.key] = kv.value
		}
		if hstsOn || r.TLS != nil {
			h["Strict-Transport-Security"] = hstsValue
		}
		next.ServeHTTP(&cspWriter{ResponseWriter: w}, r)
	})
}

// cspWriter adds the API's CSP to an answer whose handler set none.
type cspWriter struct {
	http.ResponseWriter
	done bool
}

func (c *cspWriter) WriteHeader(code int) {
	if !c.done {
		c.done = true
		if h := c.Header(); len(h["Content-Security-Policy"]) == 0 {
			h["Content-Security-Policy"] = cspValue
		}
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *cspWriter) Write(b []byte) (int, error) {
	if !c.done {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *cspWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

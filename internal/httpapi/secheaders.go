package httpapi

import "net/http"

// apiCSP is the Content-Security-Policy of every answer that does not set its own: API answers
// are data, never documents, so they may load, run and be framed by nothing. The page's policy
// is decided by internal/web, which sets it on the HTML it serves.
const apiCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// hsts is sent when HSTS is on: a year, subdomains included.
const hsts = "max-age=31536000; includeSubDomains"

// withSecurityHeaders sets the headers every answer carries: no MIME sniffing, no referrer
// leaking, no framing, no powerful browser features, a process of its own; a CSP unless the
// handler set one; and Strict-Transport-Security when on (configured, or the request came over
// TLS).
func withSecurityHeaders(hstsOn bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Permissions-Policy", "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=(), browsing-topics=()")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if hstsOn || r.TLS != nil {
			h.Set("Strict-Transport-Security", hsts)
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
		if c.Header().Get("Content-Security-Policy") == "" {
			c.Header().Set("Content-Security-Policy", apiCSP)
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

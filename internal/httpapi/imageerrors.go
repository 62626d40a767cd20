package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/prawnhq/prawn/internal/badge"
)

// acceptsImages reports whether the client asks for images: its Accept names an image type, as
// every browser's <img> does (and GitHub's camo, which passes it on or asks for image/*). API
// clients (curl's */*, fetch's default) do not.
func acceptsImages(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(strings.ToLower(v), "image/") {
			return true
		}
	}
	return false
}

// imageErrors answers the errors of an operation that answers with an image (the pixel, the
// badge) with an image too when the client accepts images: a page or a README then shows a
// transparent pixel or an error badge instead of a broken image. The status stays the error's,
// and the problem's detail becomes the badge's title. Every error is a problem where it is made
// (by any layer: the rate limit, the input checks, the operation); this rewrites it on the way out.
func imageErrors(mediaType string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !acceptsImages(r) {
			next.ServeHTTP(w, r)
			return
		}
		iw := &imageErrorWriter{ResponseWriter: w}
		next.ServeHTTP(iw, r)
		if iw.status != 0 {
			writeErrorImage(w, mediaType, iw.status, iw.detail())
		}
	})
}

// imageErrorWriter holds back a problem answer (status and body) for imageErrors to rewrite.
type imageErrorWriter struct {
	http.ResponseWriter
	wrote  bool
	status int // the problem's status; 0 when the answer is no problem
	body   bytes.Buffer
}

func (iw *imageErrorWriter) WriteHeader(code int) {
	if iw.wrote {
		return
	}
	iw.wrote = true
	if code >= 400 && iw.Header().Get("Content-Type") == problemType {
		iw.status = code
		return
	}
	iw.ResponseWriter.WriteHeader(code)
}

func (iw *imageErrorWriter) Write(b []byte) (int, error) {
	if !iw.wrote {
		iw.WriteHeader(http.StatusOK)
	}
	if iw.status != 0 {
		if iw.body.Len() < 4096 {
			iw.body.Write(b)
		}
		return len(b), nil
	}
	return iw.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (iw *imageErrorWriter) Unwrap() http.ResponseWriter { return iw.ResponseWriter }

// detail is the held problem's detail, or its title.
func (iw *imageErrorWriter) detail() string {
	var p struct{ Title, Detail string }
	_ = json.Unmarshal(iw.body.Bytes(), &p)
	if p.Detail != "" {
		return p.Detail
	}
	return p.Title
}

// writeErrorImage answers status with an image: the transparent pixel, or a badge saying what
// went wrong in a word (its title says it in full). Like every error, it may not be cached.
func writeErrorImage(w http.ResponseWriter, mediaType string, status int, detail string) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", mediaType)
	body := pixelGIF
	if mediaType == svgType {
		h.Set("Content-Security-Policy", svgCSP)
		word := errorWord(status)
		color := badge.Color{}
		if status < 500 && status != http.StatusTooManyRequests {
			color, _ = badge.ParseColor("red")
		} else {
			color, _ = badge.ParseColor("lightgrey")
		}
		body = badge.Badge{Label: "prawn", Message: word, Color: color, Title: "prawn: " + word + ": " + detail}.SVG()
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorWord is what an error badge says.
func errorWord(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid"
	case http.StatusRequestEntityTooLarge, http.StatusRequestHeaderFieldsTooLarge:
		return "too large"
	case http.StatusTooManyRequests:
		return "rate limited"
	case http.StatusServiceUnavailable:
		return "unavailable"
	case http.StatusInternalServerError:
		return "error"
	}
	return strings.ToLower(http.StatusText(status))
}

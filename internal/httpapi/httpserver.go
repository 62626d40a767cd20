package httpapi

import (
	"log/slog"
	"net/http"
	"time"
)

// Timeouts of the HTTP server against slow or idle clients.
const (
	// ReadHeaderTimeout is how long a client may take to send its request's headers.
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout is how long a client may take to send a whole request, body included.
	ReadTimeout = 10 * time.Second
	// WriteTimeout is how long an answer may take from the end of the request's headers.
	WriteTimeout = 30 * time.Second
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes caps a request's headers.
	MaxHeaderBytes = 16 << 10
)

// NewHTTPServer is the http.Server `prawn serve` runs h on, with timeouts that drop slow
// clients (slowloris) and a cap on header size.
func NewHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

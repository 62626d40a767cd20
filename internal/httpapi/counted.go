package httpapi

import (
	"net/http"
	"strings"

	"github.com/prawnhq/prawn/internal/bots"
)

// NotCounted says why a valid view is not counted; "" means it counts.
type NotCounted string

// Reasons for not counting a view.
const (
	NotCountedBot      NotCounted = "bot"
	NotCountedPrefetch NotCounted = "prefetch"
	// NotCountedForeignHost is a view of a host the server does not count (Server.Sites).
	NotCountedForeignHost NotCounted = "foreignHost"
)

// notCounted classifies a recording request: a prefetch or prerender (Sec-Purpose, Purpose,
// X-Purpose or X-Moz headers), a known bot, or "" for a view that counts.
func notCounted(r *http.Request) NotCounted {
	// HEAD asks about a page without fetching it (link checkers, monitors): a look-ahead, not a view.
	if r.Method == http.MethodHead {
		return NotCountedPrefetch
	}
	for _, h := range []string{"Sec-Purpose", "Purpose", "X-Purpose", "X-Moz"} {
		v := strings.ToLower(r.Header.Get(h))
		if strings.Contains(v, "prefetch") || strings.Contains(v, "prerender") || strings.Contains(v, "preview") {
			return NotCountedPrefetch
		}
	}
	if bots.Match(r.Header.Get("User-Agent")) {
		return NotCountedBot
	}
	return ""
}

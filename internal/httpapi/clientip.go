package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/netip"
	"strings"
)

// Headers of the CDN in front of prawn on AWS (see docs/aws.md).
const (
	// OriginVerifyHeader carries the origin secret that CloudFront adds to every request it
	// forwards (PRAWN_ORIGIN_SECRET).
	OriginVerifyHeader = "X-Origin-Verify"
	// ViewerAddressHeader is the viewer's address as CloudFront saw it: "ip:port", IPv6 without
	// brackets.
	ViewerAddressHeader = "CloudFront-Viewer-Address"
)

// client is who the edge believes a request comes from. It is decided once per request, by
// edge.identify, and kept in the request's context.
type client struct {
	// addr is the client's address: the peer's, or the one a trusted hop vouches for; the zero
	// Addr when unknown.
	addr netip.Addr
	// trusted reports that the request came through a trusted hop: the CDN (it carried the
	// origin secret) or a peer in TrustedProxies. Only then are headers that hops set about the
	// viewer (address, country) believed.
	trusted bool
	// direct reports that addr is the peer itself and the peer is not a trusted proxy, so that
	// the loopback exemption (RateExemptLoopback) may apply.
	direct bool
}

type clientKey struct{}

// clientFrom is the client the edge decided on for this request; the zero client outside the
// edge (tests that call a handler without it).
func clientFrom(ctx context.Context) client {
	c, _ := ctx.Value(clientKey{}).(client)
	return c
}

// fromTrustedHop reports whether the request came through a trusted hop (the CDN with the origin
// secret, or a peer in PRAWN_TRUSTED_PROXIES): the one decision behind every header about the
// viewer that prawn believes (CloudFront-Viewer-Address, X-Forwarded-For, the country header).
func fromTrustedHop(ctx context.Context) bool { return clientFrom(ctx).trusted }

// secretMatches compares the request's origin secret with the configured one in constant time
// (both hashed first, so not even the length is compared early).
func secretMatches(got string, want [sha256.Size]byte) bool {
	g := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(g[:], want[:]) == 1
}

// identifyClient decides who r comes from. trustedCDN says the request carried the origin
// secret. Then:
//   - from the CDN with a valid CloudFront-Viewer-Address, that address (only the CDN, which
//     replaces a viewer's copy, sets it: a proxy of PRAWN_TRUSTED_PROXIES may pass one through);
//   - from a trusted proxy, X-Forwarded-For read from the right, skipping trusted proxies: the
//     first address not trusted is the client;
//   - otherwise, and whenever the header is missing or malformed (an entry that is not an
//     address, such as "unknown" or "a b", or one that names loopback or no address at all),
//     the peer: a request never gains an exemption by what a header says or lacks.
func identifyClient(r *http.Request, trusted []netip.Prefix, trustedCDN bool) client {
	peer := parseAddr(r.RemoteAddr)
	viaProxy := peer.IsValid() && isTrusted(peer, trusted)
	c := client{addr: peer, trusted: trustedCDN || viaProxy, direct: !viaProxy}
	if !c.trusted {
		return c
	}
	if v := r.Header.Values(ViewerAddressHeader); trustedCDN && len(v) == 1 {
		if a := parseViewerAddr(v[0]); forwardable(a) {
			c.addr, c.direct = a, false
			return c
		}
	}
	if !viaProxy {
		return c // the CDN's request without a usable viewer address: limited by its peer
	}
	if a, ok := forwardedFor(r.Header.Values("X-Forwarded-For"), trusted); ok {
		c.addr = a
	}
	return c
}

// forwardedFor walks X-Forwarded-For from the right, skipping trusted proxies, and returns the
// first address that is not one; ok is false when the header is missing, malformed or names only
// trusted proxies, so the caller keeps the peer.
func forwardedFor(hops []string, trusted []netip.Prefix) (netip.Addr, bool) {
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a := parseAddr(strings.TrimSpace(parts[j]))
			if isTrusted(a, trusted) {
				continue
			}
			if !forwardable(a) {
				return netip.Addr{}, false
			}
			return a, true
		}
	}
	return netip.Addr{}, false
}

// forwardable reports whether a hop may name a as the client: a real address, not loopback or
// unspecified (which no proxy sees a remote client come from).
func forwardable(a netip.Addr) bool {
	return a.IsValid() && !a.IsLoopback() && !a.IsUnspecified()
}

// parseAddr reads "ip", "ip:port" or "[ipv6]:port", unmapping IPv4-in-IPv6 and dropping zones.
func parseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}

// parseViewerAddr reads CloudFront-Viewer-Address: "ip:port" where an IPv6 address has no
// brackets, so the port is after the last colon.
func parseViewerAddr(s string) netip.Addr {
	s = strings.TrimSpace(s)
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.Addr{}
	}
	for _, c := range s[i+1:] {
		if c < '0' || c > '9' {
			return netip.Addr{}
		}
	}
	if a, err := netip.ParseAddr(s[:i]); err == nil && a.Zone() == "" {
		return a.Unmap()
	}
	return netip.Addr{}
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

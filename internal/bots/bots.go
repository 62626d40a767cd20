// Package bots tells known bots and crawlers from browsers by their User-Agent, with the patterns
// of monperrus/crawler-user-agents less the generic HTTP clients that sites post views with.
package bots

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
	"unicode"
)

// crawlerList is monperrus/crawler-user-agents (MIT), vendored: see data/README.md.
//
//go:embed data/crawler-user-agents.json
var crawlerList []byte

// genericClients are the list's patterns for general-purpose HTTP clients and libraries. They are
// not bots here: sites post their views from their own back ends with them.
var genericClients = map[string]bool{
	"Go-http-client":     true,
	"^curl":              true,
	"[wW]get":            true,
	"python-requests":    true,
	"Python-urllib":      true,
	"aiohttp":            true,
	"httpx":              true,
	"libwww-perl":        true,
	"lwp-trivial":        true,
	"okhttp":             true,
	"^Apache-HttpClient": true,
	"HttpUrlConnection":  true,
	"axios":              true,
	"node-fetch":         true,
	`sindresorhus\/got`:  true,
	"^PHP-Curl-Class":    true,
	`^HTTPie\/`:          true,
	"http_get":           true,
}

// matcher tells bots from browsers by User-Agent. Most patterns are plain text, or expand to a
// few plain strings, found through an index of their first two bytes; the few real regular
// expressions (anchors, repetition) run one by one.
// Answers are cached, as a site sees few distinct User-Agents.
type matcher struct {
	byPrefix map[[2]byte][]string
	short    []string // literals shorter than two bytes (none today)
	regexps  []*regexp.Regexp

	mu    sync.Mutex
	cache map[string]bool
}

// maxCachedAgents bounds the cache; it is emptied when full.
const maxCachedAgents = 4096

// maxAgentLen is the longest User-Agent matched in full; longer ones are cut (no real one is).
const maxAgentLen = 512

var known = sync.OnceValue(func() *matcher {
	m, err := newMatcher(crawlerList, genericClients)
	if err != nil {
		panic(err) // the list is embedded and tested
	}
	return m
})

// Match reports whether userAgent belongs to a known bot or crawler (not a generic HTTP client).
func Match(userAgent string) bool { return known().match(userAgent) }

func newMatcher(list []byte, skip map[string]bool) (*matcher, error) {
	var crawlers []struct {
		Pattern string `json:"pattern"`
	}
	if err := json.Unmarshal(list, &crawlers); err != nil {
		return nil, fmt.Errorf("parse crawler list: %w", err)
	}
	m := &matcher{byPrefix: map[[2]byte][]string{}, cache: map[string]bool{}}
	for _, c := range crawlers {
		if skip[c.Pattern] || c.Pattern == "" {
			continue
		}
		re, err := syntax.Parse(c.Pattern, syntax.Perl)
		if err != nil {
			return nil, fmt.Errorf("crawler pattern %q: %w", c.Pattern, err)
		}
		if lits, ok := literals(re.Simplify()); ok {
			for _, lit := range lits {
				if len(lit) < 2 {
					m.short = append(m.short, lit)
					continue
				}
				k := [2]byte{lit[0], lit[1]}
				m.byPrefix[k] = append(m.byPrefix[k], lit)
			}
			continue
		}
		rx, err := regexp.Compile(c.Pattern)
		if err != nil {
			return nil, fmt.Errorf("crawler pattern %q: %w", c.Pattern, err)
		}
		m.regexps = append(m.regexps, rx)
	}
	return m, nil
}

// maxLiterals bounds how many plain strings one pattern may expand to.
const maxLiterals = 64

// literals expands a pattern made of text, small character classes ([cC]) and alternations into
// the plain strings it matches anywhere; ok is false for anything else (anchors, repetition).
func literals(re *syntax.Regexp) (out []string, ok bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase == 0 {
			return []string{string(re.Rune)}, true
		}
		out = []string{""}
		for _, r := range re.Rune {
			variants := []rune{r}
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				variants = append(variants, f)
			}
			if len(out)*len(variants) > maxLiterals {
				return nil, false
			}
			next := make([]string, 0, len(out)*len(variants))
			for _, a := range out {
				for _, v := range variants {
					next = append(next, a+string(v))
				}
			}
			out = next
		}
		return out, true
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if len(out) == maxLiterals {
					return nil, false
				}
				out = append(out, string(r))
			}
		}
		return out, true
	case syntax.OpCapture:
		return literals(re.Sub[0])
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			l, ok := literals(sub)
			if !ok || len(out)+len(l) > maxLiterals {
				return nil, false
			}
			out = append(out, l...)
		}
		return out, true
	case syntax.OpConcat:
		out = []string{""}
		for _, sub := range re.Sub {
			l, ok := literals(sub)
			if !ok || len(out)*len(l) > maxLiterals {
				return nil, false
			}
			next := make([]string, 0, len(out)*len(l))
			for _, a := range out {
				for _, b := range l {
					next = append(next, a+b)
				}
			}
			out = next
		}
		return out, true
	}
	return nil, false
}

func (m *matcher) match(ua string) bool {
	if ua == "" {
		return false
	}
	if len(ua) > maxAgentLen {
		ua = ua[:maxAgentLen]
	}
	m.mu.Lock()
	bot, ok := m.cache[ua]
	m.mu.Unlock()
	if ok {
		return bot
	}
	bot = m.scan(ua)
	m.mu.Lock()
	if len(m.cache) >= maxCachedAgents {
		clear(m.cache)
	}
	m.cache[strings.Clone(ua)] = bot
	m.mu.Unlock()
	return bot
}

func (m *matcher) scan(ua string) bool {
	for i := 0; i+1 < len(ua); i++ {
		for _, lit := range m.byPrefix[[2]byte{ua[i], ua[i+1]}] {
			if strings.HasPrefix(ua[i:], lit) {
				return true
			}
		}
	}
	for _, lit := range m.short {
		if strings.Contains(ua, lit) {
			return true
		}
	}
	for _, rx := range m.regexps {
		if rx.MatchString(ua) {
			return true
		}
	}
	return false
}

// imageProxies are the User-Agents of image proxies that fetch an image each time a person views
// the page that shows it: GitHub's camo, which serves every image of a README through itself. The
// crawler list names it (it is no browser), but for an image that counts a view it is the reader.
var imageProxies = []string{"github-camo"}

// ImageProxy reports whether userAgent is an image proxy fetching for a person viewing a page
// (GitHub's camo): an image that counts a view (a pixel, a badge) counts its requests.
func ImageProxy(userAgent string) bool {
	for _, p := range imageProxies {
		if strings.HasPrefix(userAgent, p) {
			return true
		}
	}
	return false
}

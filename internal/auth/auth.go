// Package auth is prawn's API tokens: how they are made, stored (only their SHA-256) and
// checked, and the scopes they grant. A token is "prawn_" and 43 characters of base64url (32
// random bytes); it is shown once, when `prawn token create` makes it, and sent as
// `Authorization: Bearer <token>`.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Scope is what a token may do. Each scope includes the ones below it: admin ⊇ export ⊇ read.
type Scope int

// The scopes, weakest first. ScopeNone is no token at all.
const (
	ScopeNone Scope = iota
	// ScopeRead reads counts (when PRAWN_STATS=private).
	ScopeRead
	// ScopeExport reads counts and exports the views and rollups.
	ScopeExport
	// ScopeAdmin also imports history and reads the operator figures (the drop counters) when
	// stats are private.
	ScopeAdmin
)

var scopeNames = []string{"none", "read", "export", "admin"}

// String is the scope's name.
func (s Scope) String() string {
	if s < 0 || int(s) >= len(scopeNames) {
		return fmt.Sprintf("Scope(%d)", int(s))
	}
	return scopeNames[s]
}

// Allows reports whether a token of scope s may do what need asks.
func (s Scope) Allows(need Scope) bool { return s >= need }

// ParseScope reads a scope by name: read, export or admin.
func ParseScope(name string) (Scope, error) {
	for i, n := range scopeNames[1:] {
		if n == name {
			return Scope(i + 1), nil
		}
	}
	return ScopeNone, fmt.Errorf("scope %q: want read, export or admin", name)
}

// Prefix starts every token, so that one found in a file or a log is recognised for what it is.
const Prefix = "prawn_"

// tokenBytes is the randomness of a token.
const tokenBytes = 32

// tokenLen is the length of a token: the prefix and 32 bytes in unpadded base64url.
var tokenLen = len(Prefix) + base64.RawURLEncoding.EncodedLen(tokenBytes)

// New makes a token, its SHA-256 (what is stored) and its hint (its last four characters, to
// tell tokens apart in `prawn token list`).
func New() (token string, hash []byte, hint string, err error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, "", fmt.Errorf("new token: %w", err)
	}
	token = Prefix + base64.RawURLEncoding.EncodeToString(b)
	return token, Hash(token), token[len(token)-4:], nil
}

// Hash is the SHA-256 of a token: what the database keeps and looks tokens up by.
func Hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// CheckName refuses a token name that is empty, longer than 100 bytes or holds control
// characters.
func CheckName(name string) error {
	if name == "" || len(name) > 100 {
		return errors.New("a token's name is 1 to 100 bytes")
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return errors.New("a token's name may not hold control characters or invalid UTF-8")
		}
	}
	return nil
}

// Store finds live tokens by their hash.
type Store interface {
	// TokenByHash returns the scope and stored hash of the live token with this hash; ok is
	// false when there is none.
	TokenByHash(ctx context.Context, hash []byte) (scope string, stored []byte, ok bool, err error)
}

// Errors of Check. Neither says whether a token exists: a token never issued and one revoked
// are both ErrInvalid.
var (
	// ErrMissing means the request carries no token.
	ErrMissing = errors.New("no token")
	// ErrInvalid means the request's token is malformed, unknown or revoked.
	ErrInvalid = errors.New("invalid token")
)

// Check authenticates the value of an Authorization header ("Bearer <token>") and returns the
// token's scope. Every token, well-formed or not, is hashed and looked up the same way, and the
// stored hash is compared in constant time, so the time of a check says nothing about how close
// a guess came. Errors of the store (the database is away) are returned as they are.
func Check(ctx context.Context, store Store, header string) (Scope, error) {
	if strings.TrimSpace(header) == "" {
		return ScopeNone, ErrMissing
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	wellFormed := strings.EqualFold(scheme, "Bearer") && len(token) == tokenLen && strings.HasPrefix(token, Prefix)
	sum := Hash(token)
	scope, stored, ok, err := store.TokenByHash(ctx, sum)
	if err != nil {
		return ScopeNone, err
	}
	if !ok || !wellFormed || subtle.ConstantTimeCompare(stored, sum) != 1 {
		return ScopeNone, ErrInvalid
	}
	s, err := ParseScope(scope)
	if err != nil {
		return ScopeNone, ErrInvalid
	}
	return s, nil
}

package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/prawnhq/prawn/gen/db"
)

// Token is an API token as stored: never the token itself, only its hash and last characters.
type Token struct {
	ID        int64
	Name      string
	Scope     string
	Hint      string // the token's last four characters
	CreatedAt time.Time
	RevokedAt *time.Time
}

// ErrTokenName means a live token already has that name.
var ErrTokenName = errors.New("a live token already has that name")

// CreateToken stores a token by its SHA-256 hash.
func (s *Store) CreateToken(ctx context.Context, name, scope string, hash []byte, hint string) (Token, error) {
	r, err := s.q.CreateToken(ctx, db.CreateTokenParams{Name: name, Scope: scope, Hash: hash, Hint: hint})
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "api_tokens_live_name_idx" {
			return Token{}, fmt.Errorf("%w: %q", ErrTokenName, name)
		}
		return Token{}, fmt.Errorf("create token: %w", classify(err))
	}
	return Token{ID: r.ID, Name: name, Scope: scope, Hint: hint, CreatedAt: r.CreatedAt}, nil
}

// Tokens lists every token, live ones first.
func (s *Store) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := s.q.ListTokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", classify(err))
	}
	out := make([]Token, len(rows))
	for i, r := range rows {
		out[i] = Token{ID: r.ID, Name: r.Name, Scope: r.Scope, Hint: r.Hint, CreatedAt: r.CreatedAt, RevokedAt: r.RevokedAt}
	}
	return out, nil
}

// RevokeToken revokes the live token with this id (when id > 0) or else this name; it reports
// whether there was one.
func (s *Store) RevokeToken(ctx context.Context, id int64, name string) (bool, error) {
	n, err := s.q.RevokeToken(ctx, db.RevokeTokenParams{ID: id, Name: name})
	if err != nil {
		return false, fmt.Errorf("revoke token: %w", classify(err))
	}
	return n > 0, nil
}

// TokenByHash returns the scope and stored hash of the live token whose SHA-256 is hash; ok is
// false when there is none (unknown or revoked: the caller cannot tell which).
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (scope string, stored []byte, ok bool, err error) {
	r, err := s.q.GetTokenByHash(ctx, hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("look up token: %w", classify(err))
	}
	return r.Scope, r.Hash, true, nil
}

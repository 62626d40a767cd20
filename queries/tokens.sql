-- API tokens (prawn token; the HTTP edge checks them). Only a token's SHA-256 is stored.

-- name: CreateToken :one
INSERT INTO api_tokens (name, scope, hash, hint)
VALUES (sqlc.arg(name)::text, sqlc.arg(scope)::text, sqlc.arg(hash)::bytea, sqlc.arg(hint)::text)
RETURNING id, created_at;

-- name: ListTokens :many
-- Every token, live ones first, newest first.
SELECT id, name, scope, hint, created_at, revoked_at
FROM api_tokens
ORDER BY revoked_at IS NOT NULL, created_at DESC, id DESC;

-- name: RevokeToken :execrows
-- Revokes the live token with this id (id > 0) or this name.
UPDATE api_tokens SET revoked_at = now()
WHERE revoked_at IS NULL AND (id = sqlc.arg(id)::bigint OR (sqlc.arg(id)::bigint = 0 AND name = sqlc.arg(name)::text));

-- name: GetTokenByHash :one
-- The live token with this hash (a unique-index lookup: its time says nothing about the token).
SELECT scope, hash FROM api_tokens WHERE hash = sqlc.arg(hash)::bytea AND revoked_at IS NULL;

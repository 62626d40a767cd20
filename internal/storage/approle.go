package storage

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// AppRole is the least-privilege PostgreSQL role that the api, rollup and consume handlers log in
// as: it may read and write prawn's tables and nothing more (no DDL, no other database objects).
type AppRole struct {
	// Name is the role's name (DB_APP_USER).
	Name string
	// Password, when set, becomes the role's password (stored as a SCRAM-SHA-256 verifier: the
	// password itself never reaches the server, nor its logs).
	Password string
	// IAM grants the role rds_iam (Amazon RDS IAM authentication); without it rds_iam is revoked
	// where it exists, since a role with rds_iam cannot log in with a password.
	IAM bool
}

// migrationsTable is goose's bookkeeping, which the app role may not touch.
const migrationsTable = "goose_db_version"

// ProvisionAppRole creates the role if it does not exist and brings its login and privileges to
// what AppRole says, in one transaction: LOGIN; on every table and view of the schema public
// SELECT, INSERT, UPDATE and DELETE, on its sequences USAGE and SELECT, except the migrations'
// table; CONNECT on this database and USAGE on public, whose CREATE is revoked from PUBLIC. Run it
// as a role that may create roles (the RDS master user), after migrating, so that every table
// exists. It refuses a role that already exists with more power (superuser, CREATEDB, CREATEROLE,
// REPLICATION, BYPASSRLS): such a role is not for the app.
func (s *Store) ProvisionAppRole(ctx context.Context, role AppRole) error {
	if role.Name == "" {
		return errors.New("app role: no name")
	}
	var verifier string
	if role.Password != "" {
		v, err := scramVerifier(role.Password)
		if err != nil {
			return fmt.Errorf("app role %s: %w", role.Name, err)
		}
		verifier = v
	}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		return provisionAppRole(ctx, tx, role, verifier)
	})
	if err != nil {
		return fmt.Errorf("app role %s: %w", role.Name, classify(err))
	}
	return nil
}

func provisionAppRole(ctx context.Context, tx pgx.Tx, role AppRole, verifier string) error {
	ident := pgx.Identifier{role.Name}.Sanitize()
	var exists bool
	var powers []string
	err := tx.QueryRow(ctx, `SELECT true, array_remove(ARRAY[
		    CASE WHEN rolsuper THEN 'SUPERUSER' END, CASE WHEN rolcreatedb THEN 'CREATEDB' END,
		    CASE WHEN rolcreaterole THEN 'CREATEROLE' END, CASE WHEN rolreplication THEN 'REPLICATION' END,
		    CASE WHEN rolbypassrls THEN 'BYPASSRLS' END], NULL)
		FROM pg_roles WHERE rolname = $1`, role.Name).Scan(&exists, &powers)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("look up the role: %w", err)
	}
	if len(powers) > 0 {
		return fmt.Errorf("the role exists with %s: it is not a least-privilege role; drop it or remove those attributes by hand", strings.Join(powers, ", "))
	}
	var database string
	if err := tx.QueryRow(ctx, `SELECT current_database()`).Scan(&database); err != nil {
		return fmt.Errorf("current database: %w", err)
	}
	var hasIAM, isMember bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam'),
		EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
		        WHERE g.rolname = 'rds_iam' AND r.rolname = $1)`, role.Name).Scan(&hasIAM, &isMember); err != nil {
		return fmt.Errorf("look up rds_iam: %w", err)
	}
	if role.IAM && !hasIAM {
		return errors.New("IAM authentication asks for the role rds_iam, which this server does not have (it is Amazon RDS's)")
	}
	stmts := []string{}
	if !exists {
		stmts = append(stmts, "CREATE ROLE "+ident+" LOGIN")
	} else {
		stmts = append(stmts, "ALTER ROLE "+ident+" LOGIN")
	}
	if verifier != "" {
		stmts = append(stmts, "ALTER ROLE "+ident+" PASSWORD "+quoteLiteral(verifier))
	}
	switch {
	case role.IAM && !isMember:
		stmts = append(stmts, "GRANT rds_iam TO "+ident)
	case !role.IAM && isMember:
		stmts = append(stmts, "REVOKE rds_iam FROM "+ident)
	}
	db := pgx.Identifier{database}.Sanitize()
	stmts = append(stmts,
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC",
		"GRANT CONNECT ON DATABASE "+db+" TO "+ident,
		"GRANT USAGE ON SCHEMA public TO "+ident,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "+ident,
		"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "+ident,
	)
	var gooseSeqs []string
	rows, err := tx.Query(ctx, `SELECT c.relkind::text, quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND (c.relname = $1 OR (c.relkind = 'S' AND c.relname LIKE $1 || '%'))`, migrationsTable)
	if err != nil {
		return fmt.Errorf("find the migrations' table: %w", err)
	}
	for rows.Next() {
		var kind, name string
		if err := rows.Scan(&kind, &name); err != nil {
			return err
		}
		if kind == "S" {
			gooseSeqs = append(gooseSeqs, "REVOKE ALL ON SEQUENCE "+name+" FROM "+ident)
		} else {
			gooseSeqs = append(gooseSeqs, "REVOKE ALL ON TABLE "+name+" FROM "+ident)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	stmts = append(stmts, gooseSeqs...)
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			// The statement holds no secret but the verifier, which is not the password.
			return fmt.Errorf("%s: %w", strings.SplitN(q, " PASSWORD ", 2)[0], err)
		}
	}
	return nil
}

// scramVerifier is PostgreSQL's SCRAM-SHA-256 verifier of password (RFC 5802, RFC 7677), as
// `ALTER ROLE ... PASSWORD` stores it when given one: the password itself is never sent.
func scramVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return scramVerifierWith(password, salt, 4096)
}

func scramVerifierWith(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("scram: %w", err)
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	server := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(server)), nil
}

// quoteLiteral quotes s as an SQL string literal (standard_conforming_strings, the default).
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

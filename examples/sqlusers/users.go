package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/oauth2kit/oauth2kit/oauth2"
	_ "modernc.org/sqlite" // registers the "sqlite" driver; pure Go, no cgo
)

// schema is the user table. The password is stored only as a hash from
// oauth2.HashPassword. subject is what tokens carry in sub: a stable id, so
// that a user may change username without becoming someone else. scopes
// lists, space-separated as OAuth writes them, the scopes the user may be
// granted; NULL leaves that to the client's allowed scopes.
const schema = `CREATE TABLE IF NOT EXISTS users (
	username      TEXT PRIMARY KEY,
	password_hash TEXT NOT NULL,
	subject       TEXT NOT NULL UNIQUE,
	scopes        TEXT
)`

// openUsers opens the SQLite database at path, creating the file and the
// user table if they do not exist.
func openUsers(ctx context.Context, path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("creating the users table in %s: %w", path, err)
	}
	return db, nil
}

// addUser stores a user unless the username is taken, and reports whether
// it did. scopes nil stores NULL (see schema).
func addUser(ctx context.Context, db *sql.DB, username, password, subject string, scopes []string) (bool, error) {
	hash, err := oauth2.HashPassword(password)
	if err != nil {
		return false, err
	}
	var scopeColumn sql.NullString
	if scopes != nil {
		scopeColumn = sql.NullString{String: oauth2.FormatScope(scopes), Valid: true}
	}
	res, err := db.ExecContext(ctx,
		`INSERT INTO users (username, password_hash, subject, scopes) VALUES (?, ?, ?, ?)
		 ON CONFLICT (username) DO NOTHING`,
		username, hash, subject, scopeColumn)
	if err != nil {
		return false, fmt.Errorf("adding user %q: %w", username, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("adding user %q: %w", username, err)
	}
	return n == 1, nil
}

// lookupUser reads one user per login for oauth2.NewPasswordAuthenticator,
// which does the rest: the password check, a dummy check of the same cost
// when there is no such user, and the bound on concurrent checks. The query
// runs under the request's context, so it stops when the client goes away.
func lookupUser(db *sql.DB) oauth2.UserLookupFunc {
	return func(ctx context.Context, username string) (*oauth2.User, string, error) {
		var (
			u      oauth2.User
			hash   string
			scopes sql.NullString
		)
		err := db.QueryRowContext(ctx,
			`SELECT subject, password_hash, scopes FROM users WHERE username = ?`,
			username).Scan(&u.Subject, &hash, &scopes)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			// The sentinel, not an error of our own: it is what makes the
			// authenticator answer as for a wrong password.
			return nil, "", oauth2.ErrUserNotFound
		case err != nil:
			// Any other failure is the server's: the token endpoint logs it
			// and answers server_error without it.
			return nil, "", fmt.Errorf("reading user %q: %w", username, err)
		}
		if scopes.Valid {
			parsed, ok := oauth2.ParseScope(scopes.String)
			if !ok {
				return nil, "", fmt.Errorf("user %q: malformed scopes column %q", username, scopes.String)
			}
			// An empty column means no scopes at all; nil would mean the
			// client's scopes decide.
			u.Scopes = append([]string{}, parsed...)
		}
		return &u, hash, nil
	}
}

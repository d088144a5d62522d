package oauth2

import (
	"context"
	"errors"
	"fmt"
)

// ErrInvalidCredentials is returned by a UserAuthenticator when the username
// or password is wrong. The token endpoint turns it into invalid_grant and
// does not say which of the two was wrong.
const ErrInvalidCredentials constError = "oauth2: invalid username or password"

// ErrUserNotFound is returned by a UserLookupFunc for an unknown username.
const ErrUserNotFound constError = "oauth2: user not found"

// User is a resource owner who authenticated.
type User struct {
	// Subject is the stable identifier put in the sub claim.
	Subject string
	// Scopes limits the scopes this user may be granted; nil means the
	// client's allowed scopes alone decide.
	Scopes []string
}

// UserAuthenticator checks a resource owner's credentials for the password
// grant. It returns ErrInvalidCredentials (possibly wrapped) for a wrong
// username or password, ErrOverloaded when it sheds load (answered with
// 503); any other error is a server failure. An error of CheckPassword's
// about a stored hash it cannot use is the exception: the client gets the
// answer a wrong password gets, since a different one would tell that the
// user exists, and the cause goes to IssuerConfig.Logger.
//
// For users kept in a table of your own, rather than implementing it,
// pass NewPasswordAuthenticator a UserLookupFunc that reads the table. That
// authenticator checks a dummy hash for unknown usernames, so that timing
// does not tell which exist, and bounds concurrent password checks, so that
// a flood of logins cannot exhaust memory; an implementation of your own
// that calls CheckPassword gets neither and has to do both itself.
// Implement UserAuthenticator for credentials the SDK cannot check, such
// as a directory that verifies passwords itself.
type UserAuthenticator interface {
	Authenticate(ctx context.Context, username, password string) (*User, error)
}

// UserLookupFunc finds a user and its password hash (see CheckPassword),
// returning ErrUserNotFound if there is no such user; any other error
// (a database failure, say) is a server failure, which the token endpoint
// answers with server_error without its cause. It is how a user table
// plugs into NewPasswordAuthenticator.
type UserLookupFunc func(ctx context.Context, username string) (user *User, passwordHash string, err error)

// PasswordAuthenticator is a UserAuthenticator over a lookup function. For
// an unknown user it still checks the password against a dummy hash of the
// same cost, so that response timing does not tell which usernames exist;
// so it does for a user whose stored hash CheckPassword cannot use, and
// returns ErrInvalidCredentials wrapping the hash's problem. Its checks
// share the package's bound on concurrent password checks, and it returns
// ErrOverloaded when that is reached.
type PasswordAuthenticator struct {
	lookup UserLookupFunc
	dummy  string
}

// NewPasswordAuthenticator returns a PasswordAuthenticator over lookup.
// sampleHash is any hash of the cost your users' hashes have (HashPassword
// of anything, say); it sets the cost of the dummy check for unknown users.
func NewPasswordAuthenticator(lookup UserLookupFunc, sampleHash string) (*PasswordAuthenticator, error) {
	dummy, err := dummyHashLike(sampleHash)
	if err != nil {
		return nil, err
	}
	return &PasswordAuthenticator{lookup: lookup, dummy: dummy}, nil
}

// Authenticate implements UserAuthenticator.
func (a *PasswordAuthenticator) Authenticate(ctx context.Context, username, password string) (*User, error) {
	u, hash, err := a.lookup(ctx, username)
	notFound := errors.Is(err, ErrUserNotFound)
	if err != nil && !notFound {
		return nil, fmt.Errorf("oauth2: looking up user: %w", err)
	}
	var unusable error
	if notFound {
		hash = a.dummy
	} else if unusable = usableHash(hash); unusable != nil {
		hash = a.dummy
	}
	err = checkPasswordContext(ctx, hash, password)
	if unusable == nil && isBadHash(err) {
		unusable = err
	}
	switch {
	case errors.Is(err, ErrOverloaded):
		return nil, err
	case unusable != nil:
		return nil, fmt.Errorf("%w: stored password hash of user %q: %w", ErrInvalidCredentials, username, unusable)
	case notFound, errors.Is(err, ErrPasswordMismatch):
		return nil, ErrInvalidCredentials
	case err != nil:
		return nil, err
	}
	return u, nil
}

// StaticUser is one user of the fixed list given to NewStaticUsers.
type StaticUser struct {
	Username     string   // what the user types; required and unique
	PasswordHash string   // from HashPassword, or a bcrypt hash (see CheckPassword)
	Subject      string   // defaults to Username
	Scopes       []string // limits the scopes the user may be granted, as User.Scopes does
}

// NewStaticUsers returns a UserAuthenticator over a fixed list of users,
// for examples, tests and small deployments. It refuses a user whose
// PasswordHash CheckPassword could not check a password against.
func NewStaticUsers(users ...StaticUser) (*PasswordAuthenticator, error) {
	if len(users) == 0 {
		return nil, errors.New("oauth2: NewStaticUsers needs at least one user")
	}
	byName := make(map[string]StaticUser, len(users))
	for _, u := range users {
		if u.Username == "" {
			return nil, errors.New("oauth2: static user with an empty username")
		}
		if _, dup := byName[u.Username]; dup {
			return nil, fmt.Errorf("oauth2: static user %q listed twice", u.Username)
		}
		if err := usableHash(u.PasswordHash); err != nil {
			return nil, fmt.Errorf("oauth2: static user %q: %w", u.Username, err)
		}
		if u.Subject == "" {
			u.Subject = u.Username
		}
		byName[u.Username] = u
	}
	lookup := func(_ context.Context, username string) (*User, string, error) {
		u, ok := byName[username]
		if !ok {
			return nil, "", ErrUserNotFound
		}
		return &User{Subject: u.Subject, Scopes: u.Scopes}, u.PasswordHash, nil
	}
	return NewPasswordAuthenticator(lookup, users[0].PasswordHash)
}

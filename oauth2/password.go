package oauth2

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// ErrPasswordMismatch is returned by CheckPassword when the password does
// not match the hash.
const ErrPasswordMismatch constError = "oauth2: password does not match"

// Argon2Params are the argon2id cost parameters of HashPassword.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // degree of parallelism
}

// DefaultArgon2Params returns the parameters HashPassword uses, which follow
// the OWASP password storage recommendation for argon2id: 19 MiB, 2 passes,
// 1 thread. It is a function, not a variable, so that no importer can lower
// them for everyone else in the program.
func DefaultArgon2Params() Argon2Params {
	return Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}
}

const (
	argon2SaltLen = 16
	argon2KeyLen  = 32
	// Limits on parameters read from a stored hash, so a corrupt or hostile
	// hash cannot make one check take unbounded memory or time.
	argon2MaxMemory  = 256 << 10 // 256 MiB in KiB
	argon2MaxTime    = 16
	argon2MaxThreads = 16
	bcryptMaxCost    = 14
)

// bcryptMaxPassword is how many bytes of a password bcrypt reads.
const bcryptMaxPassword = 72

// ErrOverloaded is returned by PasswordAuthenticator (and so by the
// authenticator NewStaticUsers returns) when too many password checks are
// already running: each costs tens of megabytes and milliseconds of CPU, so
// unauthenticated requests must not be able to start them without bound.
// The bound is shared by those authenticators and by the Issuer's client
// authentication, which answers 503 temporarily_unavailable when it is
// reached, as the token endpoint does for ErrOverloaded. CheckPassword
// itself is not bounded.
const ErrOverloaded constError = "oauth2: too many password checks in progress"

// hashSlots bounds concurrent password checks; hashWait is how long a check
// waits for a slot before giving up with ErrOverloaded.
var (
	hashSlots = make(chan struct{}, max(4, 2*runtime.GOMAXPROCS(0)))
	hashWait  = 2 * time.Second
)

// checkPasswordContext is CheckPassword behind the concurrency bound.
func checkPasswordContext(ctx context.Context, hash, password string) error {
	timer := time.NewTimer(hashWait)
	defer timer.Stop()
	select {
	case hashSlots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("oauth2: waiting to check a password: %w", ctx.Err())
	case <-timer.C:
		return ErrOverloaded
	}
	defer func() { <-hashSlots }()
	return CheckPassword(hash, password)
}

func (p Argon2Params) valid() bool {
	return p.Memory > 0 && p.Time > 0 && p.Threads > 0 &&
		p.Memory <= argon2MaxMemory && p.Time <= argon2MaxTime && p.Threads <= argon2MaxThreads
}

// HashPassword hashes password with argon2id and DefaultArgon2Params, in
// the PHC string format ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
func HashPassword(password string) (string, error) {
	return HashPasswordWith(password, DefaultArgon2Params())
}

// HashPasswordWith hashes password with argon2id and the parameters given.
func HashPasswordWith(password string, p Argon2Params) (string, error) {
	if !p.valid() {
		return "", fmt.Errorf("oauth2: invalid argon2 parameters %+v", p)
	}
	salt := make([]byte, argon2SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("oauth2: generating salt: %w", err)
	}
	sum := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, argon2KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)), nil
}

// CheckPassword reports whether password matches hash, an argon2id hash in
// PHC format or a bcrypt hash ($2a$, $2b$, $2y$). It returns nil on a match,
// an error wrapping ErrPasswordMismatch on a mismatch, and another error if
// hash is not a hash it understands. The comparison takes constant time.
// It runs at once, outside the bound on concurrent checks that
// PasswordAuthenticator and client authentication observe (see
// ErrOverloaded), and knows nothing of unknown users: for logins against a
// user table, NewPasswordAuthenticator gives both.
//
// A password longer than 72 bytes never matches a bcrypt hash: bcrypt reads
// only the first 72, so the longer password cannot be the one hashed, and
// accepting it would let any suffix of the real password pass.
func CheckPassword(hash, password string) error {
	switch {
	case isArgon2(hash):
		p, salt, want, err := parseArgon2(hash)
		if err != nil {
			return err
		}
		got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			return ErrPasswordMismatch
		}
		return nil
	case isBcrypt(hash):
		if err := checkBcrypt(hash); err != nil {
			return err
		}
		// The check runs on what bcrypt reads even when the length already
		// decides, so that neither a known user's answer nor an unknown
		// user's dummy check is quicker for a long password.
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password[:min(len(password), bcryptMaxPassword)]))
		switch {
		case err != nil && !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return &badHashError{fmt.Errorf("oauth2: bad bcrypt hash: %w", err)}
		case err != nil, len(password) > bcryptMaxPassword:
			return ErrPasswordMismatch
		}
		return nil
	default:
		return errUnrecognisedHash
	}
}

// badHashError is CheckPassword's error for a stored hash it cannot check
// any password against. That is a fault of the server's data, never of the
// password presented, so callers answer it as they would a wrong password
// and log it for the operator.
type badHashError struct{ err error }

func (e *badHashError) Error() string { return e.err.Error() }
func (e *badHashError) Unwrap() error { return e.err }

// isBadHash reports whether err comes from a stored hash CheckPassword
// cannot use.
func isBadHash(err error) bool {
	_, ok := errors.AsType[*badHashError](err)
	return ok
}

var errUnrecognisedHash = &badHashError{errors.New("oauth2: unrecognised password hash format")}

func isArgon2(hash string) bool { return strings.HasPrefix(hash, "$argon2id$") }

func isBcrypt(hash string) bool {
	return strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")
}

// usableHash returns the error CheckPassword would give for hash whatever
// the password, or nil if hash can be checked against: it reads the hash
// without paying for a check.
func usableHash(hash string) error {
	switch {
	case isArgon2(hash):
		_, _, _, err := parseArgon2(hash)
		return err
	case isBcrypt(hash):
		return checkBcrypt(hash)
	default:
		return errUnrecognisedHash
	}
}

// bcryptAlphabet is bcrypt's base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// checkBcrypt rejects a bcrypt hash whose cost is above the cap or that is
// not "$2x$NN$" and 53 characters of salt and digest: the bcrypt package
// reads some such hashes and then fails on the salt, or compares a digest
// of the wrong length that nothing ever matches.
func checkBcrypt(hash string) error {
	cost, err := bcrypt.Cost([]byte(hash))
	switch {
	case err != nil, cost > bcryptMaxCost:
		return &badHashError{fmt.Errorf("oauth2: bad bcrypt hash: cost above %d or unreadable", bcryptMaxCost)}
	case len(hash) != 60 || strings.Trim(hash[7:], bcryptAlphabet) != "":
		return &badHashError{errors.New("oauth2: bad bcrypt hash: malformed salt or digest")}
	}
	return nil
}

func parseArgon2(hash string) (p Argon2Params, salt, sum []byte, err error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	parts := strings.Split(hash, "$")
	bad := func(what string) error { return &badHashError{fmt.Errorf("oauth2: bad argon2id hash: %s", what)} }
	if len(parts) != 6 {
		return p, nil, nil, bad("wrong number of fields")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, bad("unsupported version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, bad("parameters")
	}
	if !p.valid() {
		return p, nil, nil, bad("parameters out of range")
	}
	if salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, bad("salt")
	}
	if sum, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(sum) < 16 || len(sum) > 64 {
		return p, nil, nil, bad("hash")
	}
	return p, salt, sum, nil
}

// defaultDummyTemplate has the parameters of DefaultArgon2Params(); only its
// cost matters.
const defaultDummyTemplate = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

// dummyHashLike returns a hash of a random password with the same
// algorithm and cost as hash, so that checking it takes as long as checking
// a real one. It is what unknown users and clients are checked against.
func dummyHashLike(hash string) (string, error) {
	secret := make([]byte, 24)
	if _, err := rand.Read(secret); err != nil {
		return "", fmt.Errorf("oauth2: generating dummy secret: %w", err)
	}
	pw := base64.RawURLEncoding.EncodeToString(secret)
	// A sample CheckPassword could not use would give a dummy of another
	// cost than the real check, or none.
	if err := usableHash(hash); err != nil {
		return "", err
	}
	if isBcrypt(hash) {
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return "", err
		}
		b, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
		return string(b), err
	}
	p, _, _, err := parseArgon2(hash)
	if err != nil {
		return "", err
	}
	return HashPasswordWith(pw, p)
}

package oauth2

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// ErrPasswordMismatch is returned by CheckPassword when the password does
// not match the hash.
var ErrPasswordMismatch = errors.New("oauth2: password does not match")

// Argon2Params are the argon2id cost parameters of HashPassword.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultArgon2Params follow the OWASP password storage recommendation for
// argon2id: 19 MiB, 2 passes, 1 thread.
var DefaultArgon2Params = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	argon2SaltLen = 16
	argon2KeyLen  = 32
	// Limits on parameters read from a stored hash, so a corrupt or hostile
	// hash cannot make a check allocate without bound.
	argon2MaxMemory = 1 << 20 // 1 GiB in KiB
	argon2MaxTime   = 64
)

// HashPassword hashes password with argon2id and DefaultArgon2Params, in
// the PHC string format ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
func HashPassword(password string) (string, error) {
	return HashPasswordWith(password, DefaultArgon2Params)
}

// HashPasswordWith hashes password with argon2id and the parameters given.
func HashPasswordWith(password string, p Argon2Params) (string, error) {
	if p.Memory == 0 || p.Time == 0 || p.Threads == 0 || p.Memory > argon2MaxMemory || p.Time > argon2MaxTime {
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
func CheckPassword(hash, password string) error {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		p, salt, want, err := parseArgon2(hash)
		if err != nil {
			return err
		}
		got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			return ErrPasswordMismatch
		}
		return nil
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return ErrPasswordMismatch
		}
		if err != nil {
			return fmt.Errorf("oauth2: bad bcrypt hash: %w", err)
		}
		return nil
	default:
		return errors.New("oauth2: unrecognised password hash format")
	}
}

func parseArgon2(hash string) (p Argon2Params, salt, sum []byte, err error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	parts := strings.Split(hash, "$")
	bad := func(what string) error { return fmt.Errorf("oauth2: bad argon2id hash: %s", what) }
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
	if p.Memory == 0 || p.Time == 0 || p.Threads == 0 || p.Memory > argon2MaxMemory || p.Time > argon2MaxTime {
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

// defaultDummyTemplate has the parameters of DefaultArgon2Params; only its
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
	if strings.HasPrefix(hash, "$2") {
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return "", fmt.Errorf("oauth2: bad bcrypt hash: %w", err)
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

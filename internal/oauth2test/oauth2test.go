// Package oauth2test holds what the SDK's own tests share, so that they
// read as one codebase: the clients and the user every test fixture knows,
// the cheap password-hashing parameters they all use, the plain records
// (tokens, sessions) the adapters' tests and benchmarks store, and Store, a
// wrapper that makes any store.Store fail the way a backend does.
//
// It imports package store only, never oauth2, so that the white-box tests
// inside package oauth2 can use it as well as the black-box ones.
package oauth2test

// The clients and the user of every fixture.
const (
	// ConfidentialID is a confidential client allowed both grants. Its
	// secret holds characters that RFC 6749 §2.3.1 form-encodes inside
	// Basic credentials, so both sides of that encoding are exercised.
	ConfidentialID     = "web-app"
	ConfidentialSecret = "s3cr3t+/ :&="

	// PublicID is a public client: it authenticates by client_id alone.
	PublicID = "mobile-app"

	// PasswordOnlyID is a confidential client allowed the password grant
	// only, so it gets no refresh token.
	PasswordOnlyID     = "batch-job"
	PasswordOnlySecret = "batch-secret"

	// Username and Password are the resource owner's credentials, and
	// Subject the sub claim of the tokens issued to them.
	Username = "alice"
	Password = "correct horse battery staple"
	Subject  = "user-0001"
)

// Cheap argon2id parameters for the fixtures' hashes: the tests exercise
// the flows, not the cost, and the library's defaults are slow under -race.
// Build an oauth2.Argon2Params of them.
const (
	Argon2Memory  = 64 // KiB
	Argon2Time    = 1
	Argon2Threads = 1
)

package oauth2_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/oauth2kit/oauth2kit/oauth2"
)

// Users from a table of your own: a UserLookupFunc reads one row and
// returns ErrUserNotFound when there is none, and NewPasswordAuthenticator
// does the rest. Here a map stands in for the table; examples/sqlusers in
// the repository does the same over database/sql.
func ExampleNewPasswordAuthenticator() {
	type row struct{ subject, passwordHash string }
	hash, err := oauth2.HashPasswordWith("wonderland", fastArgon2)
	if err != nil {
		log.Fatal(err)
	}
	table := map[string]row{"alice": {subject: "user-1", passwordHash: hash}}

	lookup := func(_ context.Context, username string) (*oauth2.User, string, error) {
		r, ok := table[username]
		if !ok {
			return nil, "", oauth2.ErrUserNotFound
		}
		return &oauth2.User{Subject: r.subject}, r.passwordHash, nil
	}
	// The sample hash gives the cost of the dummy check made for unknown
	// usernames; any hash made as the table's are will do.
	users, err := oauth2.NewPasswordAuthenticator(lookup, hash)
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	u, err := users.Authenticate(ctx, "alice", "wonderland")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.Subject)
	// A wrong password and an unknown user get the same error.
	_, err = users.Authenticate(ctx, "alice", "looking-glass")
	fmt.Println(errors.Is(err, oauth2.ErrInvalidCredentials), err)
	_, err = users.Authenticate(ctx, "mallory", "wonderland")
	fmt.Println(errors.Is(err, oauth2.ErrInvalidCredentials), err)
	// Output:
	// user-1
	// true oauth2: invalid username or password
	// true oauth2: invalid username or password
}

package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/oauth2kit/oauth2kit/oauth2"
)

// endpoints are the URLs the printed commands call.
type endpoints struct {
	token, revoke, introspect, jwks, metadata, api, sessions, logoutAll string
}

// endpointsOf derives the URLs from the issuer's own metadata, so that the
// commands follow an -issuer with a path exactly as Issuer.Handler does.
func endpointsOf(meta oauth2.Metadata) endpoints {
	u, err := url.Parse(meta.Issuer)
	if err != nil { // cannot happen: parseFlags checked the issuer
		u = &url.URL{}
	}
	origin := u.Scheme + "://" + u.Host
	return endpoints{
		token:      meta.TokenEndpoint,
		revoke:     meta.RevocationEndpoint,
		introspect: meta.IntrospectionEndpoint,
		jwks:       meta.JWKSURI,
		// RFC 8414 §3.1: the well-known segment goes before the issuer's path.
		metadata:  origin + oauth2.MetadataPath + strings.TrimSuffix(u.Path, "/"),
		api:       origin + "/api/me",
		sessions:  origin + "/api/sessions",
		logoutAll: origin + "/api/logout-all",
	}
}

// printCommands writes the banner and the curl walk-through. Every command
// must work as printed when pasted into a POSIX shell: TestPrintedCommands
// runs them.
func printCommands(w io.Writer, meta oauth2.Metadata, storeURL string) {
	e := endpointsOf(meta)
	q := shellQuote
	basic := "-u " + demoClientID + ":" + demoClientSecret
	extract := `ACCESS=$(printf '%s' "$TOKENS" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'); ` +
		`REFRESH=$(printf '%s' "$TOKENS" | sed -n 's/.*"refresh_token":"\([^"]*\)".*/\1/p')`

	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	lifetime := "tokens survive a restart"
	if _, persistent := persistentStore(storeURL); !persistent {
		lifetime = "tokens are lost on restart"
	}
	line("oauth2kit example server: issuer %s, store %s (%s).", meta.Issuer, redactURL(storeURL), lifetime)
	line("Clients: %s (secret %s) and the public %s. User: %s (password %s), allowed scopes profile and email.",
		demoClientID, demoClientSecret, demoPublicClientID, demoUsername, demoPassword)
	line("Try it from another terminal; each step uses the shell variables the steps before it set.")
	line("")
	line("# 1. Password grant: alice logs in through demo-client, which authenticates with HTTP Basic.")
	line(`TOKENS=$(curl -sS %s -d grant_type=password -d username=%s -d password=%s --data-urlencode 'scope=profile email' %s); echo "$TOKENS"`,
		basic, demoUsername, demoPassword, q(e.token))
	line("%s", extract)
	line("")
	line("# 2. Call the API, which requires scope profile.")
	line(`curl -sS -H "Authorization: Bearer $ACCESS" %s`, q(e.api))
	line("")
	line("# 3. Asking for a scope alice may not have is invalid_scope.")
	line(`curl -sS %s -d grant_type=password -d username=%s -d password=%s -d scope=admin %s`,
		basic, demoUsername, demoPassword, q(e.token))
	line("")
	line("# 4. Refresh: the refresh token is rotated; presenting the old one again would revoke the grant.")
	line(`TOKENS=$(curl -sS %s -d grant_type=refresh_token -d "refresh_token=$REFRESH" %s); echo "$TOKENS"`, basic, q(e.token))
	line("%s", extract)
	line("")
	line("# 5. Introspect the new access token (RFC 7662).")
	line(`curl -sS %s -d "token=$ACCESS" %s`, basic, q(e.introspect))
	line("")
	line("# 6. Revoke the refresh token (RFC 7009): its grant and the grant's access tokens die with it.")
	line(`curl -sS %s -d "token=$REFRESH" -w '%%{http_code}\n' %s`, basic, q(e.revoke))
	line("")
	line("# 7. The access token is now refused: 401 invalid_token.")
	line(`curl -sS -i -H "Authorization: Bearer $ACCESS" %s`, q(e.api))
	line("")
	line("# 8. The public signing keys (JWKS) and the server metadata (RFC 8414).")
	line(`curl -sS %s`, q(e.jwks))
	line(`curl -sS %s`, q(e.metadata))
	line("")
	line("# 9. Sessions: alice logs in through demo-client and demo-public, then lists her sessions; the one of the token asking is current.")
	line(`TOKENS=$(curl -sS %s -d grant_type=password -d username=%s -d password=%s %s); echo "$TOKENS"`, basic, demoUsername, demoPassword, q(e.token))
	line("%s", extract)
	line(`OTHER=$(curl -sS -d client_id=%s -d grant_type=password -d username=%s -d password=%s %s | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')`,
		demoPublicClientID, demoUsername, demoPassword, q(e.token))
	line(`curl -sS -H "Authorization: Bearer $OTHER" %s`, q(e.sessions))
	line("")
	line("# 10. Sign out everywhere: every session ends, and the other session's access token is refused at once.")
	line(`curl -sS -X POST -H "Authorization: Bearer $OTHER" -w '%%{http_code}\n' %s`, q(e.logoutAll))
	line(`curl -sS -o /dev/null -H "Authorization: Bearer $ACCESS" -w '%%{http_code}\n' %s`, q(e.api))
	line("")
	line("# 11. Brute force: after five wrong passwords from one address, even the right one waits: 429 slow_down.")
	line(`for i in 1 2 3 4 5; do curl -sS -o /dev/null -w '%%{http_code} ' %s -d grant_type=password -d username=%s -d password=guess$i %s; done; echo`,
		basic, demoUsername, q(e.token))
	line(`curl -sS -i %s -d grant_type=password -d username=%s -d password=%s %s`, basic, demoUsername, demoPassword, q(e.token))
	line("")
	_, _ = io.WriteString(w, b.String())
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

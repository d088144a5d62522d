package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/oauth2kit/oauth2kit/oauth2"
)

// config is the command line, validated.
type config struct {
	addr string
	// issuer is the issuer identifier. Unless issuerSet, it is derived from
	// addr, and derived again from the address actually bound, so that
	// -addr 127.0.0.1:0 still yields an issuer clients can reach.
	issuer    string
	issuerSet bool
	storeURL  string
	// kek is the key-encryption key from the environment (kekEnv), nil if
	// unset. Without it, allowUnencryptedKeys must be set for a store the
	// keys would leave the process for.
	kek                  []byte
	allowUnencryptedKeys bool
	// alg is the algorithm of the signing keys generated; empty means
	// EdDSA, as in oauth2.SharedKeysConfig.
	alg string

	accessTTL  time.Duration
	refreshTTL time.Duration
	leeway     time.Duration
	// refreshGrace is oauth2.IssuerConfig.RefreshGrace: 0, strict
	// rotation, unless -refresh-grace says otherwise.
	refreshGrace time.Duration
	// trustedProxies are the reverse proxies whose X-Forwarded-For gives
	// the client address brute-force throttling counts by.
	trustedProxies []netip.Prefix
	// throttleDelay is oauth2.ThrottleConfig.Delay.
	throttleDelay time.Duration
}

const defaultAddr = "127.0.0.1:8080"

// defaultLeeway is the clock skew the verifier tolerates on exp, nbf and
// iat: enough for servers whose clocks NTP keeps close, short next to the
// access-token lifetime.
const defaultLeeway = 30 * time.Second

// parseFlags parses args (without the program name). Like the flag package,
// it reports every problem on stderr with the usage and returns an error;
// exitCode maps that error to 2, or to 0 for -h.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{
		addr:       defaultAddr,
		storeURL:   "memory://",
		accessTTL:  oauth2.DefaultAccessTokenTTL,
		refreshTTL: oauth2.DefaultRefreshTokenTTL,
		leeway:     defaultLeeway,
		alg:        oauth2.EdDSA,

		throttleDelay: oauth2.DefaultThrottleDelay,
	}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: go run ./examples/server [flags]\n\n"+
			"Runs an oauth2kit authorization server with a protected /api/me route on\n"+
			"demo clients and users, and prints curl commands to try it.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.Var(&addrFlag{&cfg.addr}, "addr", "`host:port` to listen on")
	fs.Var(&issuerFlag{&cfg.issuer, &cfg.issuerSet}, "issuer", "issuer identifier, an http(s) `URL` (default \"http://\" + the listening address)")
	fs.Var(&storeFlag{&cfg.storeURL}, "store", "storage `URL`: memory://, redis://host:port/db, postgres://user:pass@host:port/db or sqlite://path/to/file.db (both migrated on start)")
	fs.Var(&durationFlag{p: &cfg.accessTTL}, "access-ttl", "access-token lifetime, a Go `duration`")
	fs.Var(&durationFlag{p: &cfg.refreshTTL}, "refresh-ttl", "refresh-token lifetime, a Go `duration`")
	fs.Var(&durationFlag{p: &cfg.refreshGrace, zeroOK: true}, "refresh-grace", "how long after a rotation the same client may present the old refresh token again\nand get the same successor, a Go `duration`; 0 (the default) is strict rotation")
	fs.Var(&durationFlag{p: &cfg.leeway, zeroOK: true, max: oauth2.MaxLeeway}, "leeway", "clock skew the verifier allows on exp, nbf and iat, a Go `duration` of at most "+oauth2.MaxLeeway.String())
	fs.Var(&algFlag{&cfg.alg}, "alg", "signing `algorithm`: EdDSA, ES256 or RS256; ES256 and RS256 suit clients without EdDSA,\n"+
		"such as python-jose. On Redis, PostgreSQL or SQLite it applies when the store holds no key yet:\n"+
		"a key already there keeps signing, whatever its algorithm, as this server never rotates")
	fs.Var(&prefixesFlag{&cfg.trustedProxies}, "trusted-proxies", "comma-separated `CIDRs` of reverse proxies whose X-Forwarded-For names the client address\n(brute-force throttling counts failures per address; by default the connection's)")
	fs.Var(&durationFlag{p: &cfg.throttleDelay}, "throttle-delay", "how long a username waits after five failed attempts from one address, a Go `duration`;\neach further failure doubles it, up to 15 minutes")
	fs.BoolVar(&cfg.allowUnencryptedKeys, "allow-unencrypted-keys", false, "on Redis, PostgreSQL or SQLite without "+kekEnv+", store the private signing keys\nunencrypted, so that anyone who can read the store can sign tokens")
	if err := fs.Parse(args); err != nil {
		return config{}, usageError{err}
	}
	// Problems the flag package cannot see are reported the way it reports
	// its own.
	fail := func(err error) (config, error) {
		fmt.Fprintln(fs.Output(), err)
		fs.Usage()
		return config{}, usageError{err}
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	var err error
	if cfg.kek, err = keyEncryptionKey(); err != nil {
		return fail(err)
	}
	// Checked here, before the store is opened: a refusal after it would
	// come too late, since opening PostgreSQL already migrates the schema.
	if scheme, persistent := persistentStore(cfg.storeURL); persistent && cfg.kek == nil && !cfg.allowUnencryptedKeys {
		return fail(fmt.Errorf("refusing to keep the private signing keys unencrypted in the %s store: "+
			"set %s to 32 random bytes, base64-encoded (head -c32 /dev/urandom | base64), "+
			"or pass -allow-unencrypted-keys to accept that anyone who can read the store can sign tokens",
			scheme+"://", kekEnv))
	}
	if !cfg.issuerSet {
		cfg.issuer = defaultIssuer(cfg.addr)
	}
	return cfg, nil
}

// usageError is a command-line error, already reported with the usage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// defaultIssuer is the issuer for a server listening on addr. A wildcard
// host is replaced by localhost: "http://:8080" identifies nothing.
func defaultIssuer(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

type addrFlag struct{ p *string }

func (f *addrFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}

func (f *addrFlag) Set(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want host:port, such as %s or :8080", defaultAddr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	*f.p = s
	return nil
}

type issuerFlag struct {
	p   *string
	set *bool
}

func (f *issuerFlag) String() string { return "" }

// Set checks the URL against RFC 8414 §2: an http(s) URL with a host and no
// query or fragment. Plain http is allowed for local development.
func (f *issuerFlag) Set(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("want an http:// or https:// URL, such as http://127.0.0.1:8080")
	case u.Host == "":
		return errors.New("the URL has no host")
	case u.User != nil:
		return errors.New("the URL must not carry credentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return errors.New("the URL must have no query or fragment")
	}
	*f.p, *f.set = s, true
	return nil
}

type storeFlag struct{ p *string }

func (f *storeFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}

func (f *storeFlag) Set(s string) error {
	if err := checkStoreURL(s); err != nil {
		return err
	}
	*f.p = s
	return nil
}

// checkStoreURL accepts the store URLs openStore can open.
func checkStoreURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || !strings.Contains(s, "://") {
		return errors.New("want a URL such as memory://")
	}
	switch u.Scheme {
	case "memory":
		if u.Host != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return errors.New("memory:// takes no host, path or options")
		}
		return nil
	case "redis", "rediss":
		if _, err := redis.ParseURL(s); err != nil {
			return fmt.Errorf("bad Redis URL: %v (want redis://[:password@]host:port/db)", err)
		}
		return nil
	case "postgres", "postgresql":
		if _, err := pgxpool.ParseConfig(s); err != nil {
			return fmt.Errorf("bad PostgreSQL URL: %v (want postgres://user:password@host:port/db)", err)
		}
		return nil
	case "sqlite":
		if _, err := sqlitePath(s); err != nil {
			return err
		}
		return nil
	default:
		return fmt.Errorf("unsupported store %q: want memory://, redis://, postgres:// or sqlite://", u.Scheme+"://")
	}
}

// sqlitePath is the database file a sqlite:// URL names: everything after
// the scheme, so that sqlite://oauth2kit.db is relative to the working
// directory and sqlite:///var/lib/oauth2kit.db absolute.
func sqlitePath(s string) (string, error) {
	path, _ := strings.CutPrefix(s, "sqlite://")
	switch {
	case path == "":
		return "", errors.New("sqlite:// needs a file path (sqlite://oauth2kit.db or sqlite:///abs/path.db)")
	case strings.ContainsAny(path, "?#"):
		return "", errors.New("sqlite:// takes a file path and no options")
	}
	return path, nil
}

// persistentStore reports whether the store at rawURL, which checkStoreURL
// accepted, keeps what it stores outside this process, and its scheme. The
// scheme, not the URL, is what error messages may name: the URL can carry a
// password.
func persistentStore(rawURL string) (scheme string, persistent bool) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", true
	}
	return u.Scheme, u.Scheme != "memory"
}

// redactURL is a store URL without the parts that may hold a secret (the
// user info, and the query, where pgx also takes a password), for the
// banner and the log.
func redactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// prefixesFlag is a comma-separated list of CIDR prefixes; a bare address
// is a prefix of one.
type prefixesFlag struct{ p *[]netip.Prefix }

func (f *prefixesFlag) String() string {
	if f.p == nil {
		return ""
	}
	s := make([]string, len(*f.p))
	for i, p := range *f.p {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (f *prefixesFlag) Set(s string) error {
	var out []netip.Prefix
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return fmt.Errorf("%q is neither a CIDR prefix nor an address", part)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	*f.p = out
	return nil
}

type algFlag struct{ p *string }

func (f *algFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}

// Set admits the asymmetric algorithms only: clients verify with the
// server's JWKS, and an HS256 key, which verifies and signs alike, must
// never be published there (oauth2 leaves it out, so they could not verify).
func (f *algFlag) Set(s string) error {
	switch s {
	case oauth2.EdDSA, oauth2.ES256, oauth2.RS256:
		*f.p = s
		return nil
	case oauth2.HS256:
		return errors.New("HS256 keys are shared secrets, which a JWKS must not publish: want EdDSA, ES256 or RS256")
	default:
		return errors.New("want EdDSA, ES256 or RS256")
	}
}

type durationFlag struct {
	p      *time.Duration
	zeroOK bool
	max    time.Duration // 0: no limit
}

func (f *durationFlag) String() string {
	if f.p == nil {
		return ""
	}
	return f.p.String()
}

func (f *durationFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return errors.New("want a Go duration such as 30s, 15m or 336h")
	case d < 0:
		return errors.New("must not be negative")
	case d == 0 && !f.zeroOK:
		return errors.New("must be positive")
	case f.max > 0 && d > f.max:
		return fmt.Errorf("must be at most %s", f.max)
	}
	*f.p = d
	return nil
}

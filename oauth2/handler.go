package oauth2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Paths at which Handler serves the endpoints. Every one but MetadataPath
// goes after the issuer's own path; MetadataPath goes before it (RFC 8414
// §3.1).
const (
	TokenPath         = "/oauth2/token"
	RevocationPath    = "/oauth2/revoke"
	IntrospectionPath = "/oauth2/introspect"
	JWKSPath          = "/.well-known/jwks.json"
	MetadataPath      = "/.well-known/oauth-authorization-server"
)

// MaxFormBytes is the largest request body the endpoints read; a larger one
// is answered with 413.
const MaxFormBytes = 32 << 10

// Handler returns an http.Handler serving every endpoint: token,
// revocation, introspection and JWKS at the issuer URL's path followed by
// TokenPath, RevocationPath, IntrospectionPath and JWKSPath, and the
// authorization server metadata (RFC 8414) at MetadataPath followed by the
// issuer URL's path (RFC 8414 §3.1). For the issuer
// https://example.com/auth, the token endpoint is /auth/oauth2/token and
// the metadata is at /.well-known/oauth-authorization-server/auth; for an
// issuer without a path, both go at the root. A trailing slash of the
// issuer URL is ignored.
//
// Handler matches the whole request path, so mount it without stripping
// anything. For an issuer without a path, mux.Handle("/", h), or a route
// for each path it serves. For https://example.com/auth, either
// mux.Handle("/", h), or routes for "/auth/" and for
// MetadataPath+"/auth": the metadata lies outside the issuer's path, so
// that prefix alone does not reach it. With chi, r.Mount("/auth", h) and
// r.Handle(MetadataPath+"/auth", h); Mount passes the request path on
// whole. Behind http.StripPrefix, or a proxy that removes the issuer's path
// before the request reaches the application, Handler finds nothing to
// serve: mount TokenHandler, RevocationHandler, IntrospectionHandler and
// JWKSHandler at the paths the requests arrive with (TokenPath and so on),
// and MetadataHandler at the metadata's. The issuer URL, which the
// metadata's endpoint URLs start with, must be the one clients use.
func (i *Issuer) Handler() http.Handler {
	base := strings.TrimSuffix(i.issuerPath(), "/")
	mux := http.NewServeMux()
	mux.Handle(base+TokenPath, i.TokenHandler())
	mux.Handle(base+RevocationPath, i.RevocationHandler())
	mux.Handle(base+IntrospectionPath, i.IntrospectionHandler())
	mux.Handle(base+JWKSPath, i.JWKSHandler())
	// RFC 8414 §3.1: the well-known segment goes before the issuer's path.
	mux.Handle(MetadataPath+base, i.MetadataHandler())
	return mux
}

// issuerPath is the path of the issuer URL as it appears in the URL, still
// escaped: ServeMux unescapes a pattern segment by segment, as it does a
// request path, so an escaped slash stays inside its segment. The decoded
// path would split it in two and match no request.
func (i *Issuer) issuerPath() string {
	u, err := url.Parse(i.cfg.Issuer)
	if err != nil {
		return ""
	}
	return u.EscapedPath()
}

// TokenHandler serves the token endpoint (RFC 6749 §3.2): the password and
// refresh_token grants. A scope of more distinct tokens than
// IssuerConfig.ScopesSupported lists (256 when that is not set) is answered
// with invalid_scope before the client is authenticated.
func (i *Issuer) TokenHandler() http.Handler {
	// No scope longer than the supported set can be granted. Refusing it
	// before client authentication, which runs a deliberately slow hash,
	// keeps one cheap request from buying a large parse and a hash.
	scopeLimit := maxScopeTokens
	if len(i.cfg.ScopesSupported) > 0 {
		scopeLimit = countDistinct(i.cfg.ScopesSupported)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, req := i.tel.startRequest(r, spanToken)
		defer i.tel.endTokenRequest(r.Context(), req)
		form, ok := readForm(w, r)
		if !ok {
			return
		}
		grantType := form.Get("grant_type")
		clientID, secret := clientCredentials(r, form)
		req.grantType, req.clientID = grantType, clientID
		if grantType == "" {
			i.writeError(w, r, newError(ErrInvalidRequest, "grant_type is required", nil))
			return
		}
		scope, res := parseScope(form.Get("scope"), scopeLimit)
		switch res {
		case scopeMalformed:
			i.writeError(w, r, newError(ErrInvalidScope, "malformed scope", nil))
			return
		case scopeTooMany:
			i.writeError(w, r, newError(ErrInvalidScope, "more scopes than the server supports", nil))
			return
		}
		if i.throttle != nil {
			// One store round trip for every count this request is under,
			// before any password hash runs.
			r = i.withClientAddr(r)
			ctx, err := i.throttle.prefetch(r.Context(), i.requestCounters(form, grantType, clientID, secret, clientAddrFrom(r.Context())))
			if err != nil {
				i.throttledEvent(ctx, err, slog.String("client_id", clientID),
					slog.String("user", form.Get("username")), addrAttr(ctx))
				i.writeError(w, r, err)
				return
			}
			r = r.WithContext(ctx)
		}
		c, err := i.authenticateRequest(r, form)
		if err != nil {
			i.writeError(w, r, err)
			return
		}
		var resp *TokenResponse
		switch grantType {
		case GrantPassword:
			resp, err = i.PasswordGrant(r.Context(), c, form.Get("username"), form.Get("password"), scope)
		case GrantRefreshToken:
			resp, err = i.RefreshGrant(r.Context(), c, form.Get("refresh_token"), scope)
		default:
			err = newError(ErrUnsupportedGrantType, "unsupported grant_type", nil)
		}
		if err != nil {
			i.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

// clientCredentials is the client id and secret a request presents, in
// Basic credentials or the form, unchecked.
func clientCredentials(r *http.Request, form url.Values) (id, secret string) {
	if basicID, basicSecret, ok, err := basicCredentials(r); ok && err == nil {
		return basicID, basicSecret
	}
	return form.Get("client_id"), form.Get("client_secret")
}

// withClientAddr returns r carrying its client's address, which the
// throttle counts attempts by, unless it carries one already.
func (i *Issuer) withClientAddr(r *http.Request) *http.Request {
	if i.throttle == nil || r.Context().Value(clientAddrKey{}) != nil {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), clientAddrKey{}, i.throttle.clientAddr(r)))
}

// requestCounters are the throttled counts a token request is under: its
// client id's, when it presents a secret, and for the password grant its
// username's, from addr.
func (i *Issuer) requestCounters(form url.Values, grantType, id, secret, addr string) []counter {
	var cs []counter
	if secret != "" {
		cs = append(cs, i.throttle.clientCounters(id, addr)...)
	}
	if username := form.Get("username"); grantType == GrantPassword && username != "" {
		cs = append(cs, i.throttle.passwordCounters(username, addr)...)
	}
	return cs
}

// RevocationHandler serves the revocation endpoint (RFC 7009).
func (i *Issuer) RevocationHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, req := i.tel.startRequest(r, spanRevocation)
		defer i.tel.endRequest(req)
		form, c, ok := i.clientForm(w, r)
		if !ok {
			return
		}
		if err := i.Revoke(r.Context(), c, form.Get("token"), form.Get("token_type_hint")); err != nil {
			i.writeError(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	})
}

// IntrospectionHandler serves the introspection endpoint (RFC 7662). Only
// confidential clients may introspect.
func (i *Issuer) IntrospectionHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, req := i.tel.startRequest(r, spanIntrospection)
		defer i.tel.endRequest(req)
		form, c, ok := i.clientForm(w, r)
		if !ok {
			return
		}
		if c.Public() {
			i.writeError(w, r, newError(ErrInvalidClient, "introspection requires client authentication", nil))
			return
		}
		token := form.Get("token")
		if token == "" {
			i.writeError(w, r, newError(ErrInvalidRequest, "token is required", nil))
			return
		}
		in, err := i.Introspect(r.Context(), c, token, form.Get("token_type_hint"))
		if err != nil {
			i.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, in)
	})
}

// clientForm reads the form of a request to an endpoint that requires
// client authentication and authenticates the client, answering the request
// itself and returning false if either fails.
func (i *Issuer) clientForm(w http.ResponseWriter, r *http.Request) (url.Values, *Client, bool) {
	form, ok := readForm(w, r)
	if !ok {
		return nil, nil, false
	}
	c, err := i.authenticateRequest(r, form)
	if err != nil {
		i.writeError(w, r, err)
		return nil, nil, false
	}
	return form, c, true
}

// JWKSHandler serves the public signing keys as a JWK Set (RFC 7517).
func (i *Issuer) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowGet(w, r) {
			return
		}
		keys, err := i.cfg.Keys.Keys(r.Context())
		var body []byte
		if err == nil {
			body, err = jwks(keys)
		}
		if err != nil {
			i.logf(r, fmt.Errorf("serving the JWKS: %w", err))
			http.Error(w, "signing keys unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		// Short enough that a rotation is picked up soon; verifiers also
		// refetch on an unknown kid.
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(body)
	})
}

// Metadata is the authorization server metadata (RFC 8414 §2).
type Metadata struct {
	Issuer                                    string   `json:"issuer"`                                        // the issuer identifier
	TokenEndpoint                             string   `json:"token_endpoint"`                                // URL of the token endpoint
	JWKSURI                                   string   `json:"jwks_uri"`                                      // URL of the JWK Set with the signing keys
	ScopesSupported                           []string `json:"scopes_supported,omitempty"`                    // IssuerConfig.ScopesSupported; omitted when empty
	ResponseTypesSupported                    []string `json:"response_types_supported,omitempty"`            // always empty, hence omitted: there is no authorization endpoint
	GrantTypesSupported                       []string `json:"grant_types_supported"`                         // password (when Users is set) and refresh_token
	TokenEndpointAuthMethodsSupported         []string `json:"token_endpoint_auth_methods_supported"`         // client_secret_basic, client_secret_post and none
	RevocationEndpoint                        string   `json:"revocation_endpoint"`                           // URL of the revocation endpoint (RFC 7009)
	RevocationEndpointAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`    // as for the token endpoint
	IntrospectionEndpoint                     string   `json:"introspection_endpoint"`                        // URL of the introspection endpoint (RFC 7662)
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"` // client_secret_basic and client_secret_post: public clients may not introspect
}

// Metadata returns the server's metadata document.
func (i *Issuer) Metadata() Metadata {
	base := strings.TrimSuffix(i.cfg.Issuer, "/")
	grants := []string{GrantRefreshToken}
	if i.cfg.Users != nil {
		grants = []string{GrantPassword, GrantRefreshToken}
	}
	auth := []string{"client_secret_basic", "client_secret_post", "none"}
	// response_types_supported is omitted. §2 calls it REQUIRED, but it
	// lists what the authorization endpoint answers, and this server has
	// none; §3.2 says a claim with zero elements MUST be omitted, and
	// metadata validators (authlib's among them) reject the empty array.
	return Metadata{
		Issuer:                                 i.cfg.Issuer,
		TokenEndpoint:                          base + TokenPath,
		JWKSURI:                                base + JWKSPath,
		ScopesSupported:                        i.cfg.ScopesSupported,
		GrantTypesSupported:                    grants,
		TokenEndpointAuthMethodsSupported:      auth,
		RevocationEndpoint:                     base + RevocationPath,
		RevocationEndpointAuthMethodsSupported: auth,
		IntrospectionEndpoint:                  base + IntrospectionPath,
		IntrospectionEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
	}
}

// MetadataHandler serves the metadata document (RFC 8414 §3).
func (i *Issuer) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowGet(w, r) {
			return
		}
		writeJSON(w, http.StatusOK, i.Metadata())
	})
}

func allowGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeJSONError(w, &Error{Code: ErrInvalidRequest, Description: "method not allowed", Status: http.StatusMethodNotAllowed})
	return false
}

// readForm reads a POSTed application/x-www-form-urlencoded body (RFC 6749
// §3.2), answering the request itself and returning false when it is not
// one: wrong method (405), too large (413), wrong media type, malformed, or
// with a parameter repeated (400 invalid_request, §3.2). Parameters sent
// without a value count as omitted (§3.1), which url.Values.Get gives.
func readForm(w http.ResponseWriter, r *http.Request) (_ url.Values, ok bool) {
	defer func() {
		if !ok { // every refusal below is invalid_request
			refused(r.Context(), ErrInvalidRequest, http.StatusBadRequest)
		}
	}()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeJSONError(w, &Error{Code: ErrInvalidRequest, Description: "method not allowed", Status: http.StatusMethodNotAllowed})
		return nil, false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		writeJSONError(w, newError(ErrInvalidRequest, "the body must be application/x-www-form-urlencoded", nil))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxFormBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeJSONError(w, &Error{Code: ErrInvalidRequest, Description: "request body too large", Status: http.StatusRequestEntityTooLarge})
		return nil, false
	}
	if err != nil {
		writeJSONError(w, newError(ErrInvalidRequest, "cannot read the request body", nil))
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeJSONError(w, newError(ErrInvalidRequest, "malformed form body", nil))
		return nil, false
	}
	for name, values := range form {
		if len(values) > 1 {
			writeJSONError(w, newError(ErrInvalidRequest, "parameter "+strconvQuote(name)+" is repeated", nil))
			return nil, false
		}
	}
	return form, true
}

// strconvQuote quotes a client-supplied name for an error description,
// keeping only characters safe to echo.
func strconvQuote(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	b := []byte(s)
	for j, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[j] = '?'
		}
	}
	return "'" + string(b) + "'"
}

// errBasicAndPost explains an invalid_request for two authentication
// methods in one request (RFC 6749 §2.3).
var errBasicAndPost = errors.New("more than one client authentication method")

// authenticateRequest authenticates the client of a request by HTTP Basic
// (client_secret_basic, RFC 6749 §2.3.1), by client_id and client_secret in
// the body (client_secret_post), or, for a public client, by client_id
// alone.
func (i *Issuer) authenticateRequest(r *http.Request, form url.Values) (*Client, error) {
	// Every endpoint's client authentication is counted by the client's
	// address, not only the token endpoint's.
	r = i.withClientAddr(r)
	id, secret := form.Get("client_id"), form.Get("client_secret")
	basicID, basicSecret, basic, err := basicCredentials(r)
	if err != nil {
		return nil, newError(ErrInvalidClient, "malformed Basic credentials", err)
	}
	if basic {
		if secret != "" {
			return nil, newError(ErrInvalidRequest, errBasicAndPost.Error(), nil)
		}
		if id != "" && id != basicID {
			return nil, newError(ErrInvalidRequest, "client_id does not match the Basic credentials", nil)
		}
		return i.AuthenticateClient(r.Context(), basicID, basicSecret)
	}
	if id == "" {
		return nil, newError(ErrInvalidClient, "client authentication required", nil)
	}
	return i.AuthenticateClient(r.Context(), id, secret)
}

func usesBasic(r *http.Request) bool {
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.EqualFold(scheme, "Basic")
}

// basicCredentials decodes client_secret_basic credentials; RFC 6749
// §2.3.1 form-urlencodes both parts before Basic encoding.
func basicCredentials(r *http.Request) (id, secret string, ok bool, err error) {
	if !usesBasic(r) {
		return "", "", false, nil
	}
	rawID, rawSecret, ok := r.BasicAuth()
	if !ok {
		return "", "", true, errors.New("undecodable Basic header")
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", true, err
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", true, err
	}
	if id == "" {
		return "", "", true, errors.New("empty client id")
	}
	return id, secret, true, nil
}

// writeError answers with err as an OAuth error. Every error response of
// the Issuer's handlers that can be a 401 goes through it (readForm and
// allowGet answer only 400, 405 and 413), so that every 401 carries a
// challenge: RFC 9110 §15.5.2 requires one on any 401, whether the client
// tried Basic, sent its secret in the body or sent nothing, and Basic is the
// one HTTP authentication scheme the endpoints take (RFC 6749 §5.2).
// Server-side failures are logged with their cause and answered
// generically.
func (i *Issuer) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = newError(ErrServerError, "", err)
	}
	refused(r.Context(), e.Code, e.Status)
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth2kit", charset="UTF-8"`)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	if e.Status >= 500 {
		i.logf(r, e)
		if e.Description == "" {
			e = &Error{Code: e.Code, Status: e.Status, Description: "internal error"}
		}
	}
	writeJSONError(w, e)
}

func (i *Issuer) logf(r *http.Request, err error) {
	i.logger().ErrorContext(r.Context(), "oauth2: request failed", "path", r.URL.Path, "err", err)
}

// errorBody is the JSON of an error response (RFC 6749 §5.2).
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

func writeJSONError(w http.ResponseWriter, e *Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, errorBody{Error: string(e.Code), ErrorDescription: e.Description})
}

// writeJSON writes v with the headers every OAuth response carries: token
// material must not be cached (RFC 6749 §5.1).
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

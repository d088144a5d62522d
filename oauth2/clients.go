package oauth2

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Grant types a client may be allowed.
const (
	GrantPassword     = "password"
	GrantRefreshToken = "refresh_token"
)

// ErrClientNotFound is returned by a ClientRegistry for an unknown client.
const ErrClientNotFound constError = "oauth2: client not found"

// Client is a registered OAuth 2.0 client.
type Client struct {
	// ID is the client_id.
	ID string
	// SecretHash is the hash of a confidential client's secret (see
	// HashPassword); empty for a public client, which authenticates by
	// client_id alone.
	SecretHash string
	// GrantTypes lists the grants the client may use (GrantPassword,
	// GrantRefreshToken). A client is issued refresh tokens only if it may
	// use GrantRefreshToken.
	GrantTypes []string
	// Scopes lists the scopes the client may request.
	Scopes []string
	// DefaultScopes is granted when a request names no scope.
	DefaultScopes []string
	// ResourceServer lets a confidential client introspect access tokens
	// issued to any client, as a resource server checking the tokens
	// presented to it does. Other clients introspect only their own tokens.
	ResourceServer bool
}

// Public reports whether the client has no secret.
func (c *Client) Public() bool { return c.SecretHash == "" }

// AllowsGrant reports whether the client may use the grant type.
func (c *Client) AllowsGrant(grantType string) bool { return slices.Contains(c.GrantTypes, grantType) }

// ClientRegistry finds clients by id. It returns ErrClientNotFound
// (possibly wrapped) for an unknown id; any other error is a server failure.
type ClientRegistry interface {
	LookupClient(ctx context.Context, id string) (*Client, error)
}

// StaticClients is a ClientRegistry over a fixed list.
type StaticClients struct {
	byID map[string]*Client
}

// NewStaticClients validates the clients and returns a registry of them.
func NewStaticClients(clients ...Client) (*StaticClients, error) {
	s := &StaticClients{byID: make(map[string]*Client, len(clients))}
	for _, c := range clients {
		if c.ID == "" {
			return nil, errors.New("oauth2: client with an empty ID")
		}
		if _, dup := s.byID[c.ID]; dup {
			return nil, fmt.Errorf("oauth2: client %q listed twice", c.ID)
		}
		if !c.Public() {
			if err := usableHash(c.SecretHash); err != nil {
				return nil, fmt.Errorf("oauth2: client %q: %w", c.ID, err)
			}
		}
		if !subset(c.DefaultScopes, c.Scopes) {
			return nil, fmt.Errorf("oauth2: client %q has default scopes it is not allowed", c.ID)
		}
		for _, g := range c.GrantTypes {
			if g != GrantPassword && g != GrantRefreshToken {
				return nil, fmt.Errorf("oauth2: client %q: unsupported grant type %q", c.ID, g)
			}
		}
		c := c
		s.byID[c.ID] = &c
	}
	return s, nil
}

// LookupClient implements ClientRegistry. It returns a copy, so a caller
// cannot change the registered client.
func (s *StaticClients) LookupClient(_ context.Context, id string) (*Client, error) {
	c, ok := s.byID[id]
	if !ok {
		return nil, ErrClientNotFound
	}
	cp := *c
	return &cp, nil
}

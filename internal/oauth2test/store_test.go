package oauth2test_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oauth2kit/oauth2kit/adapters/memstore"
	"github.com/oauth2kit/oauth2kit/internal/oauth2test"
	"github.com/oauth2kit/oauth2kit/store"
)

func TestStoreFaults(t *testing.T) {
	inner := memstore.New()
	s := oauth2test.New(inner)
	exp := time.Now().Add(time.Hour)

	if err := s.RevokeGrant(t.Context(), "g1", exp); err != nil {
		t.Fatalf("RevokeGrant(no fault) error = %v", err)
	}
	s.Set(oauth2test.Fail)
	if _, err := s.IsRevoked(t.Context(), "", "g1"); !errors.Is(err, oauth2test.ErrDown) {
		t.Errorf("IsRevoked(Fail) error = %v, want %v", err, oauth2test.ErrDown)
	}
	if err := s.RevokeGrant(t.Context(), "g2", exp); !errors.Is(err, oauth2test.ErrDown) {
		t.Errorf("RevokeGrant(Fail) error = %v, want %v", err, oauth2test.ErrDown)
	}
	if revoked, _ := inner.IsRevoked(t.Context(), "", "g2"); revoked {
		t.Error("Got(a failed write) in the wrapped store, want it not to reach it")
	}

	s.Set(oauth2test.None)
	s.Set(oauth2test.LoseReply, "RevokeGrant")
	if err := s.RevokeGrant(t.Context(), "g3", exp); !errors.Is(err, oauth2test.ErrReplyLost) {
		t.Errorf("RevokeGrant(LoseReply) error = %v, want %v", err, oauth2test.ErrReplyLost)
	}
	if revoked, err := s.IsRevoked(t.Context(), "", "g3"); err != nil || !revoked {
		t.Errorf("IsRevoked(after a lost reply) = %v, %v, want true: the write took effect", revoked, err)
	}

	s.Set(oauth2test.Hang, "GetRefreshToken")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.GetRefreshToken(ctx, []byte("h")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GetRefreshToken(Hang) error = %v, want %v", err, context.DeadlineExceeded)
	}

	if got := s.Calls("RevokeGrant"); got != 3 {
		t.Errorf("Calls(RevokeGrant) = %d, want 3", got)
	}
}

func TestDownFailsEverything(t *testing.T) {
	s := oauth2test.Down()
	if err := s.CreateRefreshToken(t.Context(), store.RefreshToken{}); !errors.Is(err, oauth2test.ErrDown) {
		t.Errorf("CreateRefreshToken() error = %v, want %v", err, oauth2test.ErrDown)
	}
	if _, err := s.GetRefreshToken(t.Context(), nil); !errors.Is(err, oauth2test.ErrDown) {
		t.Errorf("GetRefreshToken() error = %v, want %v", err, oauth2test.ErrDown)
	}
}

func TestSetRefusesUnknownMethods(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Set(\"IsRevokd\") did not panic, want a panic for a misspelt method")
		}
	}()
	oauth2test.New(nil).Set(oauth2test.Fail, "IsRevokd")
}

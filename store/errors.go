package store

import "errors"

// Sentinel errors. Adapters may wrap them (fmt.Errorf("...: %w", ErrNotFound));
// callers test them with errors.Is.
var (
	// ErrNotFound reports that no unexpired record matches: it never
	// existed, it expired, or it was removed.
	ErrNotFound = errors.New("store: not found")

	// ErrReused reports that RotateRefreshToken was asked to consume a
	// refresh token that had already been consumed.
	ErrReused = errors.New("store: refresh token already consumed")

	// ErrAlreadyExists reports that a record with the same key is already
	// stored.
	ErrAlreadyExists = errors.New("store: already exists")

	// ErrConflict reports that a compare-and-swap lost: the record changed
	// since the version the caller read.
	ErrConflict = errors.New("store: conflicting update")
)

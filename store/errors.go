package store

// Sentinel errors. Adapters may wrap them (fmt.Errorf("...: %w", ErrNotFound));
// callers test them with errors.Is. They are constants, so that no importer
// can change what they match.
const (
	// ErrNotFound reports that no unexpired record matches: it never
	// existed, it expired, or it was removed.
	ErrNotFound constError = "store: not found"

	// ErrReused reports that RotateRefreshToken was asked to consume a
	// refresh token that had already been consumed.
	ErrReused constError = "store: refresh token already consumed"

	// ErrAlreadyExists reports that a record with the same key is already
	// stored.
	ErrAlreadyExists constError = "store: already exists"

	// ErrConflict reports that a compare-and-swap lost: the record changed
	// since the version the caller read.
	ErrConflict constError = "store: conflicting update"
)

// constError is the type of the sentinel errors: a string constant.
type constError string

func (e constError) Error() string { return string(e) }

package pgstore

import "context"

// Internals that the tests of package pgstore_test reach, which share the
// package's one server.

// WithDeleteBatch lets a test see DeleteExpired work through several
// batches without storing thousands of rows.
var WithDeleteBatch = withDeleteBatch

// MigrationVersions returns the versions of the embedded migrations.
func MigrationVersions() ([]int, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	versions := make([]int, len(ms))
	for i, m := range ms {
		versions[i] = m.version
	}
	return versions, nil
}

// Retry runs f under the Store's retry policy.
func (s *Store) Retry(ctx context.Context, f func() error) error {
	return s.retry.do(ctx, "test", f)
}

// MigrateTo applies the embedded migrations up to version and no further, as
// a release that shipped no later ones did, so that a test can migrate
// forward from that schema.
func (s *Store) MigrateTo(ctx context.Context, version int) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return s.migrate(ctx, ms[:version])
}

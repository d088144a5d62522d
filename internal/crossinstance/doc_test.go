// Package crossinstance measures what crosses between instances of an
// authorization server sharing one real store: how long a revocation made
// through one instance takes to reach another instance's verifier. It has
// only tests, so nothing imports it; it may import every adapter and oauth2,
// which the adapters themselves must not.
package crossinstance_test

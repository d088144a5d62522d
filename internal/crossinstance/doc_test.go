// Package crossinstance runs the SDK's flows on real stores: how long a
// revocation made through one instance of an authorization server takes to
// reach another instance's verifier, and what the refresh grant costs on
// Redis and PostgreSQL. It has only tests, so nothing imports it; it may
// import every adapter and oauth2, which the adapters themselves must not.
package crossinstance_test

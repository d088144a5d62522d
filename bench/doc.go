// Package bench compares oauth2kit with two other Go OAuth 2.0 server
// libraries, github.com/go-oauth2/oauth2/v4 and github.com/ory/fosite, on
// the same workloads over real HTTP, and proves with tests some of the
// checks the others leave out.
//
// It is a module of its own, so the SDK never depends on the libraries it
// is compared with; the repository's test command runs its tests through
// the workspace. Run the benchmarks from this directory:
//
//	go test -run '^$' -bench . -count 5 | tee results/peers.txt
//	benchstat -col /peer results/peers.txt
//
// README.md records the set-up choices, the figures and what each peer
// skips.
package bench

// Package bench holds spinport's benchmarks (`make bench`). Results go in
// the README's performance section with the command that produced them.
//
// kvops_test.go counts KV operations per API request (a count, not a
// time) at 10, 1,000 and 100,000 apps: the figure that decides latency on
// Redis, where each operation is a round trip. Host latency and
// deploy-to-Ready benchmarks need the .wasm and the cluster, so they live
// in the end-to-end tests' module (e2e/).
package bench

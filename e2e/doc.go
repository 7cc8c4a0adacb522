// Package e2e holds spinport's end-to-end tests: they run spinport's real
// .wasm in the spinhost test host against real neighbours (Redis, an OpenID
// provider, the loopback Kubernetes cluster, ...). It is a module of its own
// (github.com/spinport/spinport/e2e, spinhost replaced by ../spinhost),
// apart from the test host's own tests in spinhost/.
// The tests need SPINPORT_WASM and SPINPORT_MANIFEST (`make test-e2e` sets
// them); without them they skip, or fail when CI is set.
package e2e

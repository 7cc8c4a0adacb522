// Package e2e holds end-to-end tests that run spinport's real .wasm in the
// spinhost test host against real neighbours (an OpenID provider, ...).
// The tests need SPINPORT_WASM and SPINPORT_MANIFEST (`make test-host` sets
// them); without them they skip, or fail when CI is set.
package e2e

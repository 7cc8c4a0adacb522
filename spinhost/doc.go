// Package spinhost is a test host for Spin applications whose components
// use the Spin 1 ABI, the ABI the Spin Go SDK v2 (TinyGo) produces. It runs
// the real .wasm on wazero the way spin up would, so spinport's end-to-end
// tests (the repository's e2e/, a module of their own; this module's own
// tests test the host) exercise the same module that Spin and SpinKube run.
//
// # What it does like Spin
//
//   - Reads spin.toml (manifest version 2): [application], [variables],
//     [[trigger.http]], [component.<id>] with source, key_value_stores,
//     allowed_outbound_hosts, environment and variables.
//   - Compiles each component once and instantiates it afresh for every
//     request, running _initialize (or TinyGo's _start) before
//     handle-http-request. Nothing survives between requests except what
//     the guest stores through the host.
//   - Linear memories come from a pool of reserved slots, as with the
//     pooling instance allocator Spin enables in wasmtime: memory.grow
//     never copies, and a slot is reset to zeros before the next instance
//     gets it (memory_pool.go; Linux only, elsewhere wazero's default
//     memory, which copies on growth).
//   - Routes like Spin's HTTP trigger (exact beats wildcard, longest prefix
//     wins, :name segments, duplicate routes: last wins), answers
//     /.well-known/spin/health and /info itself, and passes the spin-full-url,
//     spin-path-info, spin-matched-route, spin-component-route,
//     spin-raw-component-route, spin-base-path and spin-client-addr headers
//     (and spin-path-match-<name>) with Spin's values (see
//     SpinRequestHeaders). As in Spin's prepare_request_headers
//     (fermyon/spin crates/trigger-http/src/headers.rs), these runtime
//     headers come after every client header and never replace one: a
//     client that sends its own spin-full-url gives the guest two values,
//     the client's first, so the Go SDK (Header.Get) sees the client's,
//     as on Spin.
//   - Provides the Spin 1 host interfaces with wit-bindgen 0.2's memory
//     layouts: key-value, spin-config, wasi-outbound-http and
//     outbound-redis, plus WASI preview 1 from wazero. Every pointer and
//     length the guest passes is bounds-checked; a bad one traps that
//     request (HTTP 500), it never crashes the host.
//   - Resolves variables as spin up does: --variable values
//     (Options.Variables), then SPIN_VARIABLE_<NAME>, then the default; a
//     required variable without a value stops startup with a message that
//     names it.
//   - Enforces allowed_outbound_hosts with Spin's parser and matcher
//     (schemes, *, *.domain, CIDRs, port ranges, default ports, "self",
//     {{ variable }} templates) for both outbound HTTP and Redis.
//   - Key-value stores come from the runtime config file: by default SQLite
//     at <app>/.spin/sqlite_key_value.db with Spin's exact table, or Redis
//     with Spin's layout (plain string keys, the label ignored, get-keys =
//     KEYS *). Data written here is readable by spin up and vice versa.
//   - Outbound TLS trusts exactly the system roots, as Spin's does: its
//     Spin 1 outbound HTTP is a default reqwest client on the system roots
//     (spinframework/spin#2604) and its Redis clients use native-tls, the
//     system's OpenSSL. Runtime config [[client_tls]] is parsed and checked
//     with Spin's rules (see ClientTLSConfig: component_ids and hosts
//     required and not empty, unknown keys refused, the PEM files relative
//     to the runtime config file and read at startup) and, as in Spin,
//     not applied to Spin 1 outbound HTTP (Spin applies it to wasi-http
//     only); startup logs a warning saying so. On SpinKube the system
//     bundle is the SpinAppExecutor's caCertSecret, mounted as
//     /etc/ssl/certs/ca-certificates.crt, so a private CA (spinport's API
//     server) goes there (docs/aks.md). Here the system roots are Go's
//     (crypto/x509.SystemCertPool: on Linux SSL_CERT_FILE and SSL_CERT_DIR,
//     when set, in place of the distribution's file and directories, as
//     for OpenSSL), and
//     Options.CABundleFile (-ca-bundle) replaces them with a PEM bundle,
//     the way caCertSecret does: tests give it the system roots plus a
//     test cluster's CA. It applies to outbound HTTPS and rediss://
//     (outbound Redis and the Redis key-value store). No client
//     certificate is presented.
//   - Outbound HTTP decodes gzip like Spin's reqwest client, which Spin
//     builds with reqwest's gzip feature: Accept-Encoding: gzip is added
//     when the guest sent no Accept-Encoding (and no Range), a response
//     whose Content-Encoding is exactly "gzip" is decoded whatever the
//     guest asked for (not when its Content-Length is 0), and its
//     Content-Encoding and Content-Length headers are removed; a body that
//     does not decode is runtime-error. Accept: */* (reqwest's default
//     header) is added when the guest sent no Accept; no User-Agent is.
//   - outbound-redis execute maps replies as the Spin version chosen by
//     Options.RedisReplies (-redis-replies) does: RedisRepliesSpin35
//     ("spin-3.5", the default: Spin 3.5 and later, containerd-shim-spin
//     v0.22 and later; v0.24 embeds Spin 3.6.3) returns a nil reply as a
//     nil result and "+OK" as the status "OK"; RedisRepliesSpin34
//     ("spin-3.4": Spin up to 3.4) drops both, so SET and SET NX answer an
//     empty list whether or not they set the key. Both flatten arrays
//     (nested ones too) into the result list and fail the call on an
//     error inside one. The typed functions (get, set, incr, ...) are the
//     same in both.
//   - No timeouts of its own on the Redis key-value store, outbound Redis
//     or outbound HTTP, as in Spin (redis-rs without timeouts or retries,
//     a default reqwest client): a call to a paused Redis or a stalled
//     server waits until it answers or the incoming request's client goes
//     away, which cancels the call. See Options.StoreTimeout and
//     Options.OutboundHTTPTimeout for the knobs tests use.
//
// # Where it differs from Spin
//
//   - Only Spin 1 ABI core modules: no component model, so no wasi-http
//     (incoming-handler) components and no Spin 2/3 WIT interfaces
//     (fermyon:spin/key-value@2.0.0, wasi:keyvalue, ...).
//   - Only the HTTP trigger and the Spin executor: no Redis trigger, no
//     Wagi, no service chaining (*.spin.internal), no private-endpoint
//     calls; remote component sources ({ url, digest }) are rejected.
//   - No SQLite database, PostgreSQL, MySQL, MQTT or LLM host interfaces; a
//     component importing them is refused at startup. files, sqlite_databases
//     and ai_models in the manifest, and sqlite_database, llm_compute,
//     variables providers and log_dir in the runtime config, are ignored
//     with a warning.
//   - No isolation between stores beyond the label: every type = "spin"
//     label shares the spin_key_value table (as in Spin), and there is no
//     per-app namespacing on Redis (as in Spin).
//   - Variables are resolved once at startup, not on every get; changing
//     SPIN_VARIABLE_* needs a restart. The .env file Spin's environment
//     provider can read is not read.
//   - Outbound HTTP goes through Go's net/http: header names in responses
//     are lower-cased as with Spin's reqwest client (proxy variables are
//     honoured by both), HTTPS is HTTP/1.1 (as far as Spin's Cargo
//     features show, its reqwest uses native-tls without ALPN and does not
//     offer h2 either), and error details differ. Only gzip is decoded
//     (Spin's crates enable no other reqwest decoder).
//     Transport failures map to runtime-error as in
//     Spin 2/3 (Spin 1 returned request-error); request-error is used for
//     a URL whose scheme is neither http nor https. Redirects are followed
//     without re-checking allowed_outbound_hosts, as reqwest does.
//   - outbound-redis speaks RESP2 on a new connection per call (Spin also
//     connects per call on this interface); TLS (rediss://) trusts the
//     system roots or Options.CABundleFile.
//   - An invalid key-value handle is the invalid-store error, as the Spin 1
//     WIT documents; current Spin traps the instance instead.
//   - No instance memory limit or per-request timeout beyond the client's
//     connection: a request whose client goes away is cancelled.
//   - Timeout knobs Spin does not have (Spin has no per-call timeout on the
//     Redis key-value store, outbound Redis or Spin 1 outbound HTTP, and
//     spinhost defaults to the same): Options.StoreTimeout (-store-timeout)
//     bounds each key-value and outbound-Redis call, connecting included,
//     and a call that runs out is the key-value io error or the
//     outbound-redis error; Options.OutboundHTTPTimeout (-outbound-timeout)
//     bounds each outbound HTTP request, headers and body, and running out
//     is runtime-error. Tests set them so a paused Redis or a stalled
//     server gives the guest an error instead of hanging the request.
//   - The guest sees the client's headers with host first and the rest
//     sorted by name (net/http does not keep the order they were sent in);
//     Spin passes them in the client's order, grouped by name. Either way
//     the runtime's spin-* headers follow all of them.
//   - Wherever spinhost logs or returns a Redis URL (the key-value summary
//     at startup, invalid-URL and outbound-redis errors), its user info
//     (the password) shows as REDACTED.
//   - Guest stdout/stderr go to the host logger prefixed with
//     "[<component>] ", not to .spin/logs files.
package spinhost

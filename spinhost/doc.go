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
//   - [[client_tls]] (runtime config; ClientTLSConfig) is parsed with
//     Spin's rules: component_ids and hosts are required and not empty,
//     unknown keys are refused, ca_roots_file, client_cert_file and
//     client_private_key_file are PEM files relative to the runtime config
//     file (certificate and key both or neither), ca_use_webpki_roots
//     defaults to true unless ca_roots_file is given, and for a (component,
//     host) pair the first entry listing both wins; other HTTPS requests
//     use the default roots. Differences: (1) Spin applies client_tls only
//     to wasi-http requests; the Spin 1 send-request this host implements
//     uses the system roots in Spin (spinframework/spin#2604), while
//     spinhost applies client_tls to it, so tests can trust a private CA
//     such as a test cluster's. On Spin and SpinKube, spinport's API server
//     CA must be in the system bundle (the executor's caCertSecret, see
//     docs/aks.md). (2) hosts may be "host" (any port; what Spin 3 accepts)
//     or "host:port" (that port only, 443 when the URL has none; Spin 2.7
//     keyed entries by host:port, Spin 3 rejects ports). (3) The "webpki"
//     public roots are the system roots (Mozilla's list on Debian).
//   - No isolation between stores beyond the label: every type = "spin"
//     label shares the spin_key_value table (as in Spin), and there is no
//     per-app namespacing on Redis (as in Spin).
//   - Variables are resolved once at startup, not on every get; changing
//     SPIN_VARIABLE_* needs a restart. The .env file Spin's environment
//     provider can read is not read.
//   - Outbound HTTP goes through Go's net/http: header names in responses
//     are lower-cased and no User-Agent or Accept-Encoding is added, as with
//     Spin's reqwest client (proxy variables are honoured by both), but
//     HTTP/2 negotiation and error details differ. Transport failures map to runtime-error as in
//     Spin 2/3 (Spin 1 returned request-error); request-error is used for
//     a URL whose scheme is neither http nor https. Redirects are followed
//     without re-checking allowed_outbound_hosts, as reqwest does.
//   - outbound-redis speaks RESP2 on a new connection per call (Spin also
//     connects per call on this interface); TLS (rediss://) works but
//     client_tls is not applied.
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

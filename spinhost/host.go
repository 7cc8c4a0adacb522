package spinhost

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Options configures a Host. Only ManifestPath is required.
type Options struct {
	// ManifestPath is the spin.toml to run.
	ManifestPath string
	// WasmPath, if set, replaces the source of every component (spinport
	// has one), like running a freshly built .wasm without editing the
	// manifest.
	WasmPath string
	// RuntimeConfigPath is the file spin up --runtime-config-file would
	// read; "" means none (default SQLite key-value store in .spin/).
	RuntimeConfigPath string
	// StateDir overrides the state directory (spin up --state-dir);
	// default <manifest dir>/.spin.
	StateDir string
	// Variables are variable values with the highest priority, like
	// spin up --variable name=value.
	Variables map[string]string
	// LookupEnv reads SPIN_VARIABLE_* overrides; nil means os.LookupEnv.
	// Tests can inject a map without touching the process environment.
	LookupEnv func(string) (string, bool)
	// Listen is the address Start listens on; default 127.0.0.1:3000 like
	// spin up. Use 127.0.0.1:0 for a free port.
	Listen string
	// CompilationCacheDir, if set, keeps wazero's compiled code on disk
	// across runs; the module is compiled once per Host either way.
	CompilationCacheDir string
	// Logger receives host messages and guest stdout/stderr; default
	// stderr.
	Logger *log.Logger
	// OnRequest, if set, is called after each request the component
	// answered, with what it cost (tests and benchmarks measure memory).
	OnRequest func(RequestStats)
	// StoreTimeout bounds each key-value and outbound-Redis call; 0 = none,
	// as in Spin; tests set it so a paused Redis answers an error instead
	// of hanging. It covers connecting, sending and reading the reply (for
	// outbound Redis also AUTH and SELECT); a call that runs out fails with
	// the key-value io error or the outbound-redis error, the request goes
	// on. With or without it, a call ends when the incoming request's
	// client goes away.
	StoreTimeout time.Duration
	// OutboundHTTPTimeout bounds each wasi-outbound-http request, headers
	// and body; 0 = none, as Spin's Spin-1 outbound HTTP (a default reqwest
	// client) has none. A request that runs out is the runtime-error the
	// guest gets for other transport failures. With or without it, a
	// request ends when the incoming request's client goes away.
	OutboundHTTPTimeout time.Duration
	// CABundleFile is a PEM file of CA certificates that the guest's
	// runtime trusts instead of the host's system roots: what
	// SSL_CERT_FILE is to Spin's OpenSSL, and what the SpinAppExecutor's
	// caCertSecret (mounted as /etc/ssl/certs/ca-certificates.crt) is on
	// SpinKube. It applies to outbound HTTPS (Spin 1 outbound HTTP, which
	// in Spin trusts exactly the system roots) and to rediss:// (outbound
	// Redis and the Redis key-value store). It replaces the system roots,
	// so a bundle that should also reach public servers must contain the
	// public roots too. "" means the host's system roots, as
	// crypto/x509.SystemCertPool finds them: on Linux SSL_CERT_FILE and
	// SSL_CERT_DIR when set, else the distribution's bundle.
	CABundleFile string
	// RedisReplies is how outbound-redis execute turns a reply into
	// results: RedisRepliesSpin35 (the default, for "") or
	// RedisRepliesSpin34. See RedisRepliesSpin34.
	RedisReplies string
}

// RequestStats describes one request a component answered.
type RequestStats struct {
	Method, Path string
	Status       int
	// Memory is the instance's linear memory when it answered, in bytes:
	// its peak, since linear memory never shrinks (and TinyGo's leaking
	// GC, which spinport uses, never reuses it within the request).
	Memory uint64
}

// Host runs one Spin application in-process.
type Host struct {
	opts     Options
	manifest *Manifest
	rc       *RuntimeConfig
	router   *Router
	log      *log.Logger

	runtime    wazero.Runtime
	cache      wazero.CompilationCache
	memory     *memoryPool // instances' linear memories, pooled as in Spin
	components map[string]*component
	kv         *kvManager
	// client sends every component's outbound HTTP; roots is the CA
	// bundle it and rediss:// trust, nil for the system roots.
	client *http.Client
	roots  *x509.CertPool

	mu         sync.Mutex
	listener   net.Listener
	server     *http.Server
	selfOrigin string
	serveDone  chan struct{}
	closed     bool
}

// New loads the manifest and runtime configuration, resolves variables
// and compiles every component. It does not listen; see Start, Serve and
// ServeHTTP.
func New(ctx context.Context, opts Options) (_ *Host, err error) {
	if opts.ManifestPath == "" {
		return nil, errors.New("spinhost: Options.ManifestPath is required")
	}
	if opts.StoreTimeout < 0 || opts.OutboundHTTPTimeout < 0 {
		return nil, errors.New("spinhost: Options.StoreTimeout and Options.OutboundHTTPTimeout must not be negative (0 means no timeout)")
	}
	switch opts.RedisReplies {
	case "":
		opts.RedisReplies = RedisRepliesSpin35
	case RedisRepliesSpin34, RedisRepliesSpin35:
	default:
		return nil, fmt.Errorf("spinhost: Options.RedisReplies is %q: use %q or %q", opts.RedisReplies, RedisRepliesSpin35, RedisRepliesSpin34)
	}
	h := &Host{opts: opts, log: opts.Logger, components: map[string]*component{}}
	if h.log == nil {
		h.log = log.New(os.Stderr, "", log.LstdFlags)
	}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()

	if h.manifest, err = LoadManifest(opts.ManifestPath); err != nil {
		return nil, err
	}
	m := h.manifest
	if opts.WasmPath != "" {
		wasm, err := filepath.Abs(opts.WasmPath)
		if err != nil {
			return nil, err
		}
		for _, c := range m.Components {
			c.Source = wasm
		}
	}
	for _, w := range m.Warnings {
		h.log.Printf("warning: %s", w)
	}
	for _, name := range UnknownOverrides(m, opts.Variables) {
		h.log.Printf("warning: variable %q given on the command line is not declared in [variables] and is ignored", name)
	}

	values, err := ResolveVariables(m, VariableSources{Overrides: opts.Variables, LookupEnv: opts.LookupEnv})
	if err != nil {
		return nil, err
	}

	if h.rc, err = LoadRuntimeConfig(opts.RuntimeConfigPath, m.Dir, opts.StateDir); err != nil {
		return nil, err
	}
	for _, w := range h.rc.Warnings {
		h.log.Printf("warning: %s", w)
	}
	if opts.CABundleFile != "" {
		var n int
		if h.roots, n, err = loadCABundle(opts.CABundleFile); err != nil {
			return nil, err
		}
		h.log.Printf("Trusting the %d CA certificates of %s instead of the system roots for outbound HTTPS and rediss://", n, opts.CABundleFile)
	}

	if n := len(h.rc.ClientTLS); n > 0 {
		// Spin applies client_tls to wasi-http only; its Spin 1 outbound
		// HTTP trusts the system roots (spinframework/spin#2604).
		h.log.Printf("warning: runtime config: [[client_tls]] (%d entries) is not applied to Spin 1 outbound HTTP (wasi-outbound-http), as in Spin: HTTPS requests trust the system roots (%s)", n, h.rootsSummary())
	}

	if h.router, err = NewRouter(m.Triggers); err != nil {
		return nil, err
	}

	// Per-component configuration, validated before anything is compiled
	// so configuration mistakes fail fast.
	var comps []*component
	for _, id := range m.ComponentIDs {
		spec := m.Components[id]
		c := &component{id: id, source: spec.Source, env: spec.Environment, kvAllowed: map[string]bool{}}
		if c.variables, err = ComponentVariables(spec, m, values); err != nil {
			return nil, err
		}
		if c.allowed, err = ParseAllowedHosts(spec.AllowedOutboundHosts, values); err != nil {
			return nil, fmt.Errorf("component %q: %w", id, err)
		}
		for _, label := range spec.KeyValueStores {
			if _, ok := h.rc.KeyValueStores[label]; !ok {
				return nil, fmt.Errorf("unknown key_value_stores label %q for component %q: define [key_value_store.%s] in the runtime config file", label, id, label)
			}
			c.kvAllowed[label] = true
		}
		comps = append(comps, c)
	}

	if h.kv, err = newKVManager(h.rc.KeyValueStores, opts.StoreTimeout, h.roots); err != nil {
		return nil, err
	}

	rtCfg := wazero.NewRuntimeConfig().WithCloseOnContextDone(true)
	if opts.CompilationCacheDir != "" {
		if h.cache, err = wazero.NewCompilationCacheWithDir(opts.CompilationCacheDir); err != nil {
			return nil, fmt.Errorf("compilation cache: %w", err)
		}
		rtCfg = rtCfg.WithCompilationCache(h.cache)
	}
	h.runtime = wazero.NewRuntimeWithConfig(ctx, rtCfg)
	h.memory = newMemoryPool()
	if _, err = wasi_snapshot_preview1.Instantiate(ctx, h.runtime); err != nil {
		return nil, err
	}
	if err = instantiateHostModules(ctx, h.runtime); err != nil {
		return nil, err
	}
	for _, c := range comps {
		if err := compileComponent(ctx, h.runtime, c); err != nil {
			return nil, err
		}
		h.components[c.id] = c
	}

	h.client = &http.Client{Transport: newOutboundTransport(h.roots)}
	return h, nil
}

// rootsSummary names the CA certificates outbound TLS trusts, for logs.
func (h *Host) rootsSummary() string {
	if h.opts.CABundleFile != "" {
		return "the CA bundle " + h.opts.CABundleFile + ", Options.CABundleFile"
	}
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		return "SSL_CERT_FILE=" + f
	}
	return "set a CA bundle with Options.CABundleFile, -ca-bundle or SSL_CERT_FILE"
}

// Start is New followed by listening on opts.Listen and serving in the
// background. Use URL to reach it and Close to stop it.
func Start(ctx context.Context, opts Options) (*Host, error) {
	h, err := New(ctx, opts)
	if err != nil {
		return nil, err
	}
	addr := opts.Listen
	if addr == "" {
		addr = "127.0.0.1:3000"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("Unable to listen on %s: %w", addr, err)
	}
	go h.Serve(l) //nolint:errcheck // Serve's error after Close is http.ErrServerClosed
	return h, nil
}

// Serve serves HTTP on l until Close. It logs the address and the routes
// the way spin up does.
func (h *Host) Serve(l net.Listener) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		l.Close()
		return errors.New("spinhost: host is closed")
	}
	h.listener = l
	h.selfOrigin = "http://" + l.Addr().String()
	h.server = &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ErrorLog: h.log}
	h.serveDone = make(chan struct{})
	srv, done := h.server, h.serveDone
	h.mu.Unlock()
	defer close(done)

	h.logStartup()
	err := srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (h *Host) logStartup() {
	base := h.URL()
	for _, label := range sortedKeys(h.rc.KeyValueStores) {
		if label == "default" && h.rc.KeyValueStores[label].Type == "spin" {
			h.log.Printf("Storing default key-value data to %s.", h.kv.summary(label))
		} else {
			h.log.Printf("Key-value store %q: %s", label, h.kv.summary(label))
		}
	}
	h.log.Printf("Serving %s", base)
	h.log.Printf("Available Routes:")
	for _, rt := range h.router.Routes() {
		h.log.Printf("  %s: %s%s", rt.Component, base, rt.Display())
	}
}

// URL is the base URL the host serves, e.g. http://127.0.0.1:41234, or ""
// before Serve.
func (h *Host) URL() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.selfOrigin
}

// Manifest returns the parsed manifest.
func (h *Host) Manifest() *Manifest { return h.manifest }

// RuntimeConfig returns the resolved runtime configuration.
func (h *Host) RuntimeConfig() *RuntimeConfig { return h.rc }

// Router returns the HTTP router.
func (h *Host) Router() *Router { return h.router }

// Close stops serving, waits for in-flight requests for up to 10 seconds,
// and releases the runtime and stores.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	srv, done := h.server, h.serveDone
	h.mu.Unlock()

	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
		<-done
	}
	ctx := context.Background()
	if h.runtime != nil {
		h.runtime.Close(ctx)
	}
	if h.memory != nil {
		h.memory.close()
	}
	if h.cache != nil {
		h.cache.Close(ctx)
	}
	if h.client != nil {
		h.client.CloseIdleConnections()
	}
	if h.kv != nil {
		return h.kv.Close()
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

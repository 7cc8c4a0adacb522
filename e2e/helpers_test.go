package e2e

// Shared helpers for the end-to-end tests: spinport's real .wasm in the
// spinhost test host, a throwaway redis-server, and a small JSON client
// for the API. Every server binds 127.0.0.1.
//
//	wasm, manifest := requireSpinport(t)     // SPINPORT_WASM / SPINPORT_MANIFEST, or skip (fail under CI)
//	rs := startRedisServer(t)                 // redis-server on a free port, stopped at cleanup
//	h := startHost(t, hostOptions{Redis: rs}) // spinport with kv_backend=redis on rs
//	h.admin().must(201, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
//
// Every host of one `go test` run shares one wazero compilation cache
// (e2eCacheDir), so the module is compiled once per package run.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spinport/spinport/spinhost"
)

// e2eAdminToken is the admin_token hosts get unless the test sets one.
const e2eAdminToken = "e2e-admin-token-0123456789abcdef"

// e2eCacheDir is the wazero compilation cache every host of this package
// run shares (created and removed by TestMain).
var e2eCacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "spinport-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	e2eCacheDir = filepath.Join(dir, "wazero-cache")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// skipOrFail skips the test, or fails it when CI is set (in CI a missing
// prerequisite is a broken pipeline, not a reason to pass).
func skipOrFail(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// requireSpinport returns the built component and its manifest, the paths
// `make test-e2e` passes in SPINPORT_WASM and SPINPORT_MANIFEST.
func requireSpinport(tb testing.TB) (wasm, manifest string) {
	tb.Helper()
	wasm, manifest = os.Getenv("SPINPORT_WASM"), os.Getenv("SPINPORT_MANIFEST")
	if wasm == "" || manifest == "" {
		skipOrFail(tb, "SPINPORT_WASM and SPINPORT_MANIFEST are not set: `make test-e2e` sets them; or from the repository root "+
			"`make build && cd e2e && SPINPORT_WASM=$PWD/../build/spinport.wasm SPINPORT_MANIFEST=$PWD/../spin.toml go test ./...`")
	}
	for _, p := range []string{wasm, manifest} {
		if _, err := os.Stat(p); err != nil {
			tb.Fatalf("%v (run `make build` first)", err)
		}
	}
	return wasm, manifest
}

// ---- redis-server

// redisServer is a redis-server the test started.
type redisServer struct {
	Addr   string        // 127.0.0.1:PORT
	URL    string        // redis://127.0.0.1:PORT/0, for the KV store and redis_url
	Origin string        // redis://127.0.0.1:PORT, for allowed_outbound_hosts (redis_host)
	Client *redis.Client // a go-redis client on database 0

	tb   testing.TB
	bin  string
	port int
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Pause stops the server process (SIGSTOP): connections are accepted by
// the kernel but nothing answers, as with a Redis stuck or overloaded.
func (rs *redisServer) Pause() { rs.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (rs *redisServer) Resume() { rs.signal(syscall.SIGCONT) }

func (rs *redisServer) signal(sig syscall.Signal) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if err := rs.cmd.Process.Signal(sig); err != nil {
		rs.tb.Fatalf("redis-server: %v: %v", sig, err)
	}
}

// Kill ends the server (SIGKILL): connections are refused.
func (rs *redisServer) Kill() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	_ = rs.cmd.Process.Kill()
	<-rs.done
}

// Restart starts a new, empty server on the same port after Kill.
func (rs *redisServer) Restart() {
	rs.tb.Helper()
	var err error
	for i := 0; i < 50; i++ {
		if err = rs.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	rs.tb.Fatalf("redis-server: starting again on port %d: %v", rs.port, err)
}

// startRedisServer starts redis-server on a free 127.0.0.1 port without
// persistence (--save "" --appendonly no) and stops it when the test ends.
// Without redis-server it skips (fails under CI).
func startRedisServer(tb testing.TB) *redisServer {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		skipOrFail(tb, "redis-server is not installed (`make tools` or apt-get install redis-server)")
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // the free port can be taken between probe and bind
		rs, err := tryStartRedis(tb, bin)
		if err == nil {
			return rs
		}
		lastErr = err
	}
	tb.Fatalf("redis-server: %v", lastErr)
	return nil
}

func tryStartRedis(tb testing.TB, bin string) (*redisServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	origin := "redis://" + addr
	rs := &redisServer{Addr: addr, URL: origin + "/0", Origin: origin, tb: tb, bin: bin, port: port,
		Client: redis.NewClient(&redis.Options{Addr: addr, DB: 0})}
	if err := rs.start(); err != nil {
		rs.Client.Close()
		return nil, err
	}
	tb.Cleanup(func() {
		rs.Client.Close()
		rs.mu.Lock()
		cmd, done := rs.cmd, rs.done
		rs.mu.Unlock()
		_ = cmd.Process.Signal(syscall.SIGCONT) // a paused server cannot die
		_ = cmd.Process.Kill()
		<-done
	})
	return rs, nil
}

// start runs redis-server on rs.port without persistence and waits for PING.
func (rs *redisServer) start() error {
	out := &logBuffer{}
	cmd := exec.Command(rs.bin, "--port", strconv.Itoa(rs.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", rs.tb.TempDir())
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() //nolint:errcheck // killed at cleanup
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := rs.Client.Ping(context.Background()).Err()
		if err == nil {
			break
		}
		select {
		case <-exited:
			return fmt.Errorf("exited: %s", out)
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("not answering PING after 10s: %v\n%s", err, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	rs.mu.Lock()
	rs.cmd, rs.done = cmd, exited
	rs.mu.Unlock()
	return nil
}

// redisRuntimeConfig is the repository's runtime-config-redis.toml (next
// to the manifest) with its Redis URL replaced by url, so the tests run
// the runtime config that ships.
func redisRuntimeConfig(tb testing.TB, manifest, url string) string {
	tb.Helper()
	path := filepath.Join(filepath.Dir(manifest), "runtime-config-redis.toml")
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("reading the Redis runtime config: %v", err)
	}
	re := regexp.MustCompile(`(?m)^url\s*=\s*"redis://[^"]*"`)
	s := string(b)
	if !strings.Contains(s, "[key_value_store.default]") || !strings.Contains(s, `type = "redis"`) || len(re.FindAllString(s, -1)) != 1 {
		tb.Fatalf("%s no longer has one [key_value_store.default] of type \"redis\" with a url = \"redis://...\" line; update redisRuntimeConfig:\n%s", path, s)
	}
	return re.ReplaceAllLiteralString(s, fmt.Sprintf("url = %q", url))
}

// ---- spinport in the host

// hostOptions describes one spinport host. The zero value runs the built
// component from its manifest with the admin token e2eAdminToken and
// Spin's default SQLite key-value store in a fresh state directory.
type hostOptions struct {
	Manifest string // default SPINPORT_MANIFEST (see editedManifest for variants)
	Wasm     string // default SPINPORT_WASM

	// Variables are --variable values (highest priority). admin_token
	// defaults to e2eAdminToken unless the map has the key.
	Variables map[string]string
	// Env holds SPIN_VARIABLE_* values the host sees; the process
	// environment is never read.
	Env map[string]string

	// Redis, if set, puts the KV store "default" in this Redis (the
	// repository's runtime-config-redis.toml with the URL replaced) and sets
	// SPIN_VARIABLE_KV_BACKEND=redis, SPIN_VARIABLE_REDIS_URL and
	// SPIN_VARIABLE_REDIS_HOST, as the runtime config's comment says.
	Redis *redisServer
	// RuntimeConfig, if not empty, is the runtime config file's content
	// (written to a temp dir). With Redis set, the Redis KV store section
	// is appended unless RuntimeConfig defines [key_value_store.default].
	RuntimeConfig string

	StateDir string // default a fresh temp dir (spin up --state-dir)
	// Listener, if set, is where the host serves: for tests that need the
	// URL before the host starts (public_url, an IdP's redirect URI).
	Listener net.Listener
	Name     string // prefix for this host's log lines, e.g. "host-2"
	Quiet    bool   // do not print the host's log when the test fails

	// OnRequest sees what each request cost (spinhost.Options.OnRequest).
	OnRequest func(spinhost.RequestStats)

	// StoreTimeout and OutboundHTTPTimeout are the host's per-call bounds
	// (spinhost.Options; 0 = none, as in Spin).
	StoreTimeout, OutboundHTTPTimeout time.Duration

	// CABundle, if set, is a PEM file the host trusts instead of the
	// system roots for outbound HTTPS and rediss:// (spinhost.Options.
	// CABundleFile), as SpinKube's executor caCertSecret replaces the
	// pod's /etc/ssl/certs/ca-certificates.crt; see clusterCABundle.
	CABundle string
	// RedisReplies is how outbound-redis execute returns replies
	// (spinhost.RedisRepliesSpin35, the default, or RedisRepliesSpin34).
	RedisReplies string
}

// testHost is a running spinport.
type testHost struct {
	*spinhost.Host
	URL        string // http://127.0.0.1:PORT
	AdminToken string
	StateDir   string
	Logs       *logBuffer // host messages and the guest's stdout/stderr
}

// spinhostOptions resolves o into spinhost.Options (writing the runtime
// config file if any). Tests that expect Start to fail use it directly.
func (o hostOptions) spinhostOptions(tb testing.TB) (spinhost.Options, *logBuffer) {
	tb.Helper()
	wasm, manifest := requireSpinport(tb)
	if o.Wasm != "" {
		wasm = o.Wasm
	}
	if o.Manifest != "" {
		manifest = o.Manifest
	}
	vars := map[string]string{}
	for k, v := range o.Variables {
		vars[k] = v
	}
	if _, ok := vars["admin_token"]; !ok {
		if _, set := o.Env["SPIN_VARIABLE_ADMIN_TOKEN"]; !set {
			vars["admin_token"] = e2eAdminToken
		}
	}
	env := map[string]string{}
	rc := o.RuntimeConfig
	if o.Redis != nil {
		env["SPIN_VARIABLE_KV_BACKEND"] = "redis"
		env["SPIN_VARIABLE_REDIS_URL"] = o.Redis.URL
		env["SPIN_VARIABLE_REDIS_HOST"] = o.Redis.Origin
		if !strings.Contains(rc, "[key_value_store.default]") {
			rc += "\n" + redisRuntimeConfig(tb, manifest, o.Redis.URL)
		}
	}
	for k, v := range o.Env {
		env[k] = v
	}
	rcPath := ""
	if rc != "" {
		rcPath = filepath.Join(tb.TempDir(), "runtime-config.toml")
		if err := os.WriteFile(rcPath, []byte(rc), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	stateDir := o.StateDir
	if stateDir == "" {
		stateDir = tb.TempDir()
	}
	logs := &logBuffer{}
	prefix := ""
	if o.Name != "" {
		prefix = o.Name + ": "
	}
	return spinhost.Options{
		ManifestPath:        manifest,
		WasmPath:            wasm,
		RuntimeConfigPath:   rcPath,
		Variables:           vars,
		LookupEnv:           func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Listen:              "127.0.0.1:0",
		StateDir:            stateDir,
		CompilationCacheDir: e2eCacheDir,
		Logger:              log.New(logs, prefix, log.Lmicroseconds),
		StoreTimeout:        o.StoreTimeout,
		OnRequest:           o.OnRequest,
		OutboundHTTPTimeout: o.OutboundHTTPTimeout,
		CABundleFile:        o.CABundle,
		RedisReplies:        o.RedisReplies,
	}, logs
}

// startHost starts spinport and stops it when the test ends; its log is
// printed if the test failed.
func startHost(tb testing.TB, o hostOptions) *testHost {
	tb.Helper()
	opts, logs := o.spinhostOptions(tb)
	var h *spinhost.Host
	var err error
	if o.Listener != nil {
		if h, err = spinhost.New(context.Background(), opts); err == nil {
			go h.Serve(o.Listener) //nolint:errcheck // nil or ErrServerClosed
		} else {
			o.Listener.Close()
		}
	} else {
		h, err = spinhost.Start(context.Background(), opts)
	}
	if err != nil {
		tb.Fatalf("spinhost: %v\nlog:\n%s", err, logs.Tail(16<<10))
	}
	tb.Cleanup(func() {
		h.Close()
		if tb.Failed() && !o.Quiet {
			tb.Logf("log of host %s (last 32 KiB):\n%s", o.Name, logs.Tail(32<<10))
		}
	})
	url := ""
	if o.Listener != nil {
		url = "http://" + o.Listener.Addr().String()
	} else {
		deadline := time.Now().Add(5 * time.Second)
		for h.URL() == "" {
			if time.Now().After(deadline) {
				tb.Fatal("spinhost did not start serving")
			}
			time.Sleep(2 * time.Millisecond)
		}
		url = h.URL()
	}
	token, ok := opts.Variables["admin_token"]
	if !ok {
		token = o.Env["SPIN_VARIABLE_ADMIN_TOKEN"]
	}
	return &testHost{Host: h, URL: url, AdminToken: token, StateDir: opts.StateDir, Logs: logs}
}

// client returns an API client for h with the bearer token ("" for none).
func (h *testHost) client(tb testing.TB, token string) *apiClient {
	return &apiClient{tb: tb, Base: h.URL, Token: token}
}

// admin returns an API client with the admin token.
func (h *testHost) admin(tb testing.TB) *apiClient { return h.client(tb, h.AdminToken) }

// editedManifest copies manifest into a temp dir with each old string
// replaced by its new one (pairs), failing if an old string is not found;
// for manifest variants such as a narrower allowed_outbound_hosts.
func editedManifest(tb testing.TB, manifest string, oldNew ...string) string {
	tb.Helper()
	b, err := os.ReadFile(manifest)
	if err != nil {
		tb.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			tb.Fatalf("%s does not contain %q any more; update the test", manifest, oldNew[i])
		}
		s = strings.ReplaceAll(s, oldNew[i], oldNew[i+1])
	}
	out := filepath.Join(tb.TempDir(), "spin.toml")
	if err := os.WriteFile(out, []byte(s), 0o644); err != nil {
		tb.Fatal(err)
	}
	return out
}

// ---- logs

// logBuffer collects output from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail returns the last n bytes.
func (b *logBuffer) Tail(n int) string {
	s := b.String()
	if len(s) > n {
		return "...\n" + s[len(s)-n:]
	}
	return s
}

// ---- API client

// apiHTTP is shared by every apiClient: enough idle connections for the
// concurrency tests, and a timeout so a hung host fails the test.
var apiHTTP = &http.Client{
	Timeout: 2 * time.Minute,
	Transport: &http.Transport{
		Proxy:               nil, // loopback only
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     30 * time.Second,
	},
}

// apiClient calls spinport's JSON API with a bearer token.
type apiClient struct {
	tb     testing.TB
	Base   string      // http://127.0.0.1:PORT
	Token  string      // bearer token; "" sends no Authorization
	Header http.Header // extra headers on every request
}

// with returns a copy of c using another bearer token.
func (c *apiClient) with(token string) *apiClient {
	cp := *c
	cp.Token = token
	return &cp
}

// apiResult is one answer.
type apiResult struct {
	Method, Path string
	Status       int
	Header       http.Header
	Body         []byte

	once   sync.Once
	doc    any
	docErr error
}

func (r *apiResult) String() string {
	body := string(r.Body)
	if len(body) > 2000 {
		body = body[:2000] + "..."
	}
	return fmt.Sprintf("%s %s -> %d %s: %s", r.Method, r.Path, r.Status, r.Header.Get("Content-Type"), body)
}

// call sends one request. body is nil (none), a string or []byte (sent
// as is) or anything else (JSON-encoded). headers are name, value pairs.
// It does not touch the test, so it is safe in goroutines.
func (c *apiClient) call(method, path string, body any, headers ...string) (*apiResult, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		return nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for k, vs := range c.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if len(headers)%2 != 0 {
		return nil, errors.New("headers must be name, value pairs")
	}
	for i := 0; i < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := apiHTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return &apiResult{Method: method, Path: path, Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

// do is call that fails the test on a transport error.
func (c *apiClient) do(method, path string, body any, headers ...string) *apiResult {
	c.tb.Helper()
	r, err := c.call(method, path, body, headers...)
	if err != nil {
		c.tb.Fatal(err)
	}
	return r
}

// must is do that fails the test unless the status is want.
func (c *apiClient) must(want int, method, path string, body any, headers ...string) *apiResult {
	c.tb.Helper()
	r := c.do(method, path, body, headers...)
	if r.Status != want {
		c.tb.Fatalf("want %d: %s", want, r)
	}
	return r
}

// JSON returns the decoded body (numbers as json.Number).
func (r *apiResult) JSON() (any, error) {
	r.once.Do(func() {
		d := json.NewDecoder(bytes.NewReader(r.Body))
		d.UseNumber()
		r.docErr = d.Decode(&r.doc)
	})
	return r.doc, r.docErr
}

// get looks up a dotted path in the JSON body, gjson style: "a.b",
// "items.0.name", "items.#" (length), "items.#.name" (that field of every
// element). It returns nil when the path does not exist.
func (r *apiResult) get(path string) any {
	doc, err := r.JSON()
	if err != nil {
		return nil
	}
	return jsonPath(doc, strings.Split(path, "."))
}

func jsonPath(v any, segs []string) any {
	if len(segs) == 0 {
		return v
	}
	seg, rest := segs[0], segs[1:]
	switch x := v.(type) {
	case map[string]any:
		child, ok := x[seg]
		if !ok {
			return nil
		}
		return jsonPath(child, rest)
	case []any:
		if seg == "#" {
			if len(rest) == 0 {
				return json.Number(strconv.Itoa(len(x)))
			}
			out := make([]any, 0, len(x))
			for _, e := range x {
				out = append(out, jsonPath(e, rest))
			}
			return out
		}
		i, err := strconv.Atoi(seg)
		if err != nil || i < 0 || i >= len(x) {
			return nil
		}
		return jsonPath(x[i], rest)
	}
	return nil
}

// str is the value at path as a string ("" if missing; numbers and
// booleans are formatted).
func (r *apiResult) str(path string) string { return jsonString(r.get(path)) }

// jsonString formats a decoded JSON value: "" for missing, strings as they
// are, numbers and booleans as text, anything else as JSON.
func jsonString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// num is the value at path as an integer (0 if missing or not a number).
func (r *apiResult) num(path string) int64 {
	if n, ok := r.get(path).(json.Number); ok {
		i, _ := n.Int64()
		return i
	}
	return 0
}

// flag is the boolean at path (false if missing).
func (r *apiResult) flag(path string) bool {
	b, _ := r.get(path).(bool)
	return b
}

// strs is the values at path (e.g. "items.#.name") as strings.
func (r *apiResult) strs(path string) []string {
	l, _ := r.get(path).([]any)
	out := make([]string, 0, len(l))
	for _, v := range l {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case json.Number:
			out = append(out, x.String())
		default:
			b, _ := json.Marshal(x)
			out = append(out, string(b))
		}
	}
	return out
}

// isProblem reports whether r is an application/problem+json answer with
// the given status and field ("" = no field) whose detail contains detail.
func (r *apiResult) isProblem(status int, field, detail string) bool {
	return r.Status == status && r.Header.Get("Content-Type") == "application/problem+json" &&
		r.str("status") == strconv.Itoa(status) && r.str("field") == field && strings.Contains(r.str("detail"), detail)
}

// digestOf returns a well-formed image digest derived from s.
func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

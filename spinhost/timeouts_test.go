package spinhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// stalledServer listens but never accepts: the kernel completes the TCP
// handshake and buffers what is sent, and nothing ever answers, which is
// what a Redis (or any server) stopped with SIGSTOP looks like.
func stalledServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

// within runs fn and fails the test if it has not returned after d.
func within[T any](t *testing.T, d time.Duration, what string, fn func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- fn() }()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s did not return within %s", what, d)
		panic("unreachable")
	}
}

func redisKVManager(t *testing.T, addr string, timeout time.Duration) *kvManager {
	t.Helper()
	m, err := newKVManager(map[string]KVStoreConfig{"default": {Type: "redis", URL: "redis://" + addr}}, timeout, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestStoreTimeoutRedisKVStalledServer(t *testing.T) {
	m := redisKVManager(t, stalledServer(t), 300*time.Millisecond)
	ctx := context.Background()
	s, err := m.open(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"get":      func() error { _, _, err := s.Get(ctx, "k"); return err },
		"set":      func() error { return s.Set(ctx, "k", []byte("v")) },
		"delete":   func() error { return s.Delete(ctx, "k") },
		"exists":   func() error { _, err := s.Exists(ctx, "k"); return err },
		"get-keys": func() error { _, err := s.Keys(ctx); return err },
	}
	for name, call := range calls {
		start := time.Now()
		err := within(t, 5*time.Second, name, call)
		if err == nil || !strings.Contains(err.Error(), "timed out after 300ms (StoreTimeout)") {
			t.Errorf("%s: err = %v, want a StoreTimeout error", name, err)
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Errorf("%s: failed after %s, before the timeout", name, d)
		}
	}
}

// Without StoreTimeout a call waits like Spin's (no go-redis 3 s read
// timeout, no retries) until the request's context is cancelled.
func TestStoreTimeoutRedisKVDefaultWaitsUntilCancelled(t *testing.T) {
	m := redisKVManager(t, stalledServer(t), 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := m.open(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := s.Get(ctx, "k")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Get returned %v before its request was cancelled", err)
	case <-time.After(3500 * time.Millisecond): // past go-redis's default 3 s read timeout
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("after cancel: err = %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Get did not return after its request was cancelled")
	}
}

func TestStoreTimeoutOutboundRedisStalledServer(t *testing.T) {
	addr := stalledServer(t)
	for _, address := range []string{"redis://" + addr, "redis://:s3cret@" + addr + "/2"} {
		start := time.Now()
		err := within(t, 5*time.Second, address, func() error {
			_, err := redisCommand(context.Background(), address, 300*time.Millisecond, nil, []byte("PING"))
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "timed out after 300ms (StoreTimeout)") {
			t.Errorf("%s: err = %v, want a StoreTimeout error", withoutPassword(address), err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error shows the password: %v", err)
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Errorf("failed after %s, before the timeout", d)
		}
	}
}

func TestStoreTimeoutOutboundRedisDefaultWaitsUntilCancelled(t *testing.T) {
	addr := stalledServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := redisCommand(ctx, "redis://"+addr, 0, nil, []byte("PING"))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("redisCommand returned %v before its request was cancelled", err)
	case <-time.After(500 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("after cancel: err = %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("redisCommand did not return after its request was cancelled")
	}
}

// outboundTestHost is just enough Host for sendOutbound.
func outboundTestHost(t *testing.T, timeout time.Duration) (*Host, *component, *bytes.Buffer) {
	t.Helper()
	allowed, err := ParseAllowedHosts([]string{"http://127.0.0.1:*"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	h := &Host{
		opts:   Options{OutboundHTTPTimeout: timeout},
		log:    log.New(&logBuf, "", 0),
		client: &http.Client{Transport: &http.Transport{}},
	}
	return h, &component{id: "c", allowed: allowed}, &logBuf
}

// stallingUpstream answers /slow-headers after release, and /slow-body with
// headers and part of the body at once and the rest after release.
func stallingUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.Header().Set("Content-Length", "10")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "12345")
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return srv
}

func TestOutboundHTTPTimeout(t *testing.T) {
	up := stallingUpstream(t)
	h, c, logBuf := outboundTestHost(t, 300*time.Millisecond)
	for _, path := range []string{"/slow-headers", "/slow-body"} {
		start := time.Now()
		code := within(t, 5*time.Second, path, func() uint8 {
			_, code := h.sendOutbound(context.Background(), c, outboundRequest{method: "GET", uri: up.URL + path})
			return code
		})
		if code != httpErrRuntimeError {
			t.Errorf("%s: code %d, want runtime-error (%d)", path, code, httpErrRuntimeError)
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Errorf("%s: failed after %s, before the timeout", path, d)
		}
	}
	if !strings.Contains(logBuf.String(), "OutboundHTTPTimeout") {
		t.Errorf("timeout not explained in the log:\n%s", logBuf.String())
	}
}

// Without OutboundHTTPTimeout the request waits, as with Spin's reqwest
// client, until the incoming request is cancelled.
func TestOutboundHTTPTimeoutDefaultWaitsUntilCancelled(t *testing.T) {
	up := stallingUpstream(t)
	h, c, _ := outboundTestHost(t, 0)
	for _, path := range []string{"/slow-headers", "/slow-body"} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan uint8, 1)
		go func() {
			_, code := h.sendOutbound(ctx, c, outboundRequest{method: "GET", uri: up.URL + path})
			done <- code
		}()
		select {
		case code := <-done:
			t.Fatalf("%s: returned %d before the request was cancelled", path, code)
		case <-time.After(500 * time.Millisecond):
		}
		cancel()
		select {
		case code := <-done:
			if code != httpErrRuntimeError {
				t.Errorf("%s: code %d after cancel, want runtime-error", path, code)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: did not return after the request was cancelled", path)
		}
	}
}

func TestNegativeTimeoutsRefused(t *testing.T) {
	for _, o := range []Options{
		{ManifestPath: "spin.toml", StoreTimeout: -time.Second},
		{ManifestPath: "spin.toml", OutboundHTTPTimeout: -time.Second},
	} {
		if _, err := New(context.Background(), o); err == nil || !strings.Contains(err.Error(), "negative") {
			t.Errorf("New(%+v) = %v, want a negative-timeout error", o, err)
		}
	}
}

func TestRedactRedisURLPassword(t *testing.T) {
	for _, u := range []string{
		"redis://:s3cret@127.0.0.1:1/0",
		"redis://user:s3cret@127.0.0.1:1/0",
		"rediss://user:s3cret@redis.example:6380",
	} {
		b, err := newRedisKV(u, nil)
		if err != nil {
			t.Fatalf("newRedisKV(%s): %v", withoutPassword(u), err)
		}
		sum := b.Summary()
		b.Close()
		if strings.Contains(sum, "s3cret") || !strings.Contains(sum, "REDACTED@") {
			t.Errorf("summary %q shows the password or hides the user info badly", sum)
		}
	}
	// Invalid URLs: url.Parse errors quote the whole URL, and a password
	// with an unescaped '/' or '@' spills into the port or database.
	for _, u := range []string{
		"redis://:s3cret@127.0.0.1:notaport/0",
		"redis://user:s3cret@127.0.0.1:1/notadb",
		"http://user:s3cret@127.0.0.1:1/0",
		"redis://:s3/cret@127.0.0.1:1/0",
		"redis://:1234/s3cret@127.0.0.1:1",
	} {
		_, err := newRedisKV(u, nil)
		if err == nil {
			t.Errorf("newRedisKV(%q) accepted", u)
			continue
		}
		if !strings.Contains(err.Error(), "invalid redis url") || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "cret") {
			t.Errorf("newRedisKV(%q) error %q shows (part of) the password", u, err)
		}
		// The same URL as an outbound-redis address.
		_, err = redisCommand(context.Background(), u, time.Second, nil, []byte("PING"))
		if err == nil || strings.Contains(err.Error(), "cret") {
			t.Errorf("redisCommand(%q) error %v shows (part of) the password", u, err)
		}
	}
	// Through the manager, as the startup log prints it.
	m, err := newKVManager(map[string]KVStoreConfig{"default": {Type: "redis", URL: "redis://:s3cret@127.0.0.1:1/0"}}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if s := m.summary("default"); s != "Redis at redis://REDACTED@127.0.0.1:1/0" {
		t.Errorf("summary = %q", s)
	}
	_, err = newKVManager(map[string]KVStoreConfig{"default": {Type: "redis", URL: "redis://:s3cret@127.0.0.1:x/0"}}, 0, nil)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("newKVManager error = %v", err)
	}
}

func TestRedactMalformedURLs(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:s3/cret@h:1/0":    "redis://REDACTED@h:1/0",
		"redis://:1234/s3cret@h:1":  "redis://REDACTED@h:1",
		"redis://:s3c@ret@h:1":      "redis://REDACTED@h:1",
		"rediss://u:p@h:1":          "rediss://REDACTED@h:1",
		"https://registry/@scope/x": "https://registry/@scope/x", // '@' in a path is no password
		"https://u:p@example.com/":  "https://REDACTED@example.com/",
		"redis://h:6379/0":          "redis://h:6379/0",
	} {
		if got := withoutPassword(in); got != want {
			t.Errorf("withoutPassword(%q) = %q, want %q", in, got, want)
		}
	}
}

// The runtime's spin-* headers come after every client header, as in
// Spin's prepare_request_headers: a client's own spin-full-url is the
// first value, the one the Go SDK's Header.Get returns.
func TestRequestHeadersClientSpinHeaderFirst(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://app.example/api/x?y=1", nil)
	r.RemoteAddr = "192.0.2.7:4321"
	r.Header.Add("Spin-Full-Url", "http://evil/x")
	r.Header.Add("Spin-Path-Info", "/evil")
	r.Header.Add("Zz-Last", "z")
	r.Header.Add("Accept", "a")
	m, ok := router(t, "/api/...").Match("/api/x")
	if !ok {
		t.Fatal("no match")
	}
	fullURL := "http://app.example/api/x?y=1"
	hs := requestHeaders(r, m, fullURL)

	runtime := SpinRequestHeaders(m, fullURL, r.RemoteAddr)
	if len(hs) < len(runtime) {
		t.Fatalf("headers = %v", hs)
	}
	tail := hs[len(hs)-len(runtime):]
	for i := range runtime {
		if tail[i] != runtime[i] {
			t.Fatalf("the runtime headers are not the tail of the list:\n%v", hs)
		}
	}
	var fullURLs []string
	for i, kv := range hs {
		if kv[0] == "spin-full-url" {
			fullURLs = append(fullURLs, kv[1])
		}
		if i < len(hs)-len(runtime) && strings.HasPrefix(kv[0], "spin-") && kv[1] != "http://evil/x" && kv[1] != "/evil" {
			t.Errorf("runtime header %v among the client's", kv)
		}
	}
	if len(fullURLs) != 2 || fullURLs[0] != "http://evil/x" || fullURLs[1] != fullURL {
		t.Errorf("spin-full-url values = %q, want the client's then the runtime's", fullURLs)
	}
	// What the Go SDK builds from the list.
	sdk := http.Header{}
	for _, kv := range hs {
		sdk.Add(kv[0], kv[1])
	}
	if got := sdk.Get("spin-full-url"); got != "http://evil/x" {
		t.Errorf("Header.Get(spin-full-url) = %q, want the client's", got)
	}
	if got := sdk.Values("spin-path-info"); len(got) != 2 || got[0] != "/evil" || got[1] != "/x" {
		t.Errorf("spin-path-info values = %q", got)
	}
	if hs[0] != [2]string{"host", "app.example"} {
		t.Errorf("first header = %v, want host", hs[0])
	}
}

// The same through the HTTP trigger and the real guest.
func TestE2EClientSpinHeaderComesFirst(t *testing.T) {
	h := start(t, newApp(t, appConfig{route: "/api/..."}).options())
	req, _ := http.NewRequest(http.MethodGet, h.URL()+"/api/headers", nil)
	req.Header.Set("spin-full-url", "http://evil/x")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, res)
	want := "spin-full-url=http://evil/x|" + h.URL() + "/api/headers\n"
	if !strings.Contains(body, want) {
		t.Errorf("guest saw:\n%s\nwant a line %q", body, want)
	}
}

// getWithin is get with a client that gives up after d.
func getWithin(t *testing.T, h *Host, path string, d time.Duration) (int, string) {
	t.Helper()
	res, err := (&http.Client{Timeout: d}).Get(h.URL() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return res.StatusCode, readAll(t, res)
}

// A stalled Redis with StoreTimeout: the guest gets errors, not a hang.
func TestE2EStoreTimeoutStalledRedis(t *testing.T) {
	addr := stalledServer(t)
	a := newApp(t, appConfig{
		allowed: []string{"redis://" + addr},
		runtimeConfig: fmt.Sprintf(`
[key_value_store.default]
type = "redis"
url = "redis://:s3cret@%s"
`, addr),
	})
	opts := a.options()
	opts.StoreTimeout = 500 * time.Millisecond
	h := start(t, opts)
	code, body := getWithin(t, h, "/kv/get?key=k", 10*time.Second)
	if code != http.StatusNotFound || !strings.Contains(body, "io error") || !strings.Contains(body, "StoreTimeout") {
		t.Errorf("kv get on a stalled Redis: %d %q, want the io error", code, body)
	}
	code, body = getWithin(t, h, "/redis/incr?addr="+url.QueryEscape("redis://:s3cret@"+addr)+"&key=k", 10*time.Second)
	if code != http.StatusBadGateway || !strings.Contains(body, "redis:") {
		t.Errorf("outbound redis on a stalled Redis: %d %q", code, body)
	}
	if strings.Contains(a.log.String(), "s3cret") {
		t.Errorf("the host log shows the password:\n%s", a.log.String())
	}
	if !strings.Contains(a.log.String(), "Redis at redis://REDACTED@") {
		t.Errorf("startup summary missing:\n%s", a.log.String())
	}
}

// A stalled upstream with OutboundHTTPTimeout: the guest gets the
// runtime error.
func TestE2EOutboundHTTPTimeout(t *testing.T) {
	up := stallingUpstream(t)
	a := newApp(t, appConfig{allowed: []string{up.URL}})
	opts := a.options()
	opts.OutboundHTTPTimeout = 500 * time.Millisecond
	h := start(t, opts)
	for _, path := range []string{"/slow-headers", "/slow-body"} {
		code, body := getWithin(t, h, "/outbound?url="+url.QueryEscape(up.URL+path), 10*time.Second)
		if code != http.StatusBadGateway || !strings.Contains(body, "Runtime error") {
			t.Errorf("%s: %d %q, want 502 with the runtime error", path, code, body)
		}
	}
}

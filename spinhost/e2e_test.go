package spinhost

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestE2EKeyValueSQLite(t *testing.T) {
	a := newApp(t, appConfig{})
	h := start(t, a.options())

	expect(t, h, "/kv/set?key=greeting&value=hello", "ok")
	expect(t, h, "/kv/get?key=greeting", "hello")
	expect(t, h, "/kv/exists?key=greeting", "true")
	expect(t, h, "/kv/exists?key=nope", "false")
	expect(t, h, "/kv/set?key=other&value=1", "ok")
	expect(t, h, "/kv/keys", "greeting,other")
	if code, body := get(t, h, "/kv/get?key=nope"); code != http.StatusNotFound || !strings.Contains(body, "no such key") {
		t.Errorf("missing key: %d %q", code, body)
	}
	expect(t, h, "/kv/delete?key=other", "ok")
	expect(t, h, "/kv/keys", "greeting")
	if code, body := do(t, h, http.MethodPost, "/kv/set?key=bin", "\x00\x01binary\xff"); code != 200 || body != "ok" {
		t.Fatalf("POST set: %d %q", code, body)
	}
	expect(t, h, "/kv/get?key=bin", "\x00\x01binary\xff")

	// Spin's store table holds 256 open stores per instance.
	expect(t, h, "/kv/many?n=256", "opened 256")
	expect(t, h, "/kv/many?n=257", "open 256: store table full")

	// A label the component does not list is access-denied, as in Spin.
	if code, body := get(t, h, "/kv/get?store=other&key=x"); code != http.StatusForbidden || !strings.Contains(body, "access denied") {
		t.Errorf("unlisted store: %d %q", code, body)
	}

	// The data is in Spin's default place and layout...
	dbPath := filepath.Join(a.dir, ".spin", "sqlite_key_value.db")
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	var v []byte
	if err := db.QueryRow(`SELECT value FROM spin_key_value WHERE store='default' AND key='greeting'`).Scan(&v); err != nil || string(v) != "hello" {
		t.Errorf("row in %s: %q %v", dbPath, v, err)
	}
	db.Close()

	// ...and survives a restart of the host.
	h.Close()
	h2 := start(t, a.options())
	expect(t, h2, "/kv/get?key=greeting", "hello")
}

func TestE2EKeyValueRedis(t *testing.T) {
	addr := startRedis(t)
	a := newApp(t, appConfig{
		kvStores: []string{"default", "cache"},
		runtimeConfig: fmt.Sprintf(`
[key_value_store.default]
type = "redis"
url = "redis://%s"

[key_value_store.cache]
type = "spin"
path = "cache.db"
`, addr),
	})
	h := start(t, a.options())
	expect(t, h, "/kv/set?key=user:1&value=alice", "ok")
	expect(t, h, "/kv/get?key=user:1", "alice")
	expect(t, h, "/kv/exists?key=user:1", "true")
	if code, body := get(t, h, "/kv/get?key=missing"); code != http.StatusNotFound || !strings.Contains(body, "no such key") {
		t.Errorf("missing key: %d %q", code, body)
	}

	// Spin's Redis layout: the key is a plain string, the label is not in it.
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	ctx := context.Background()
	if got, err := rc.Get(ctx, "user:1").Result(); err != nil || got != "alice" {
		t.Errorf("redis GET user:1 = %q, %v", got, err)
	}
	// get-keys is KEYS * over the whole database: a key written by someone
	// else shows up too.
	if err := rc.Set(ctx, "foreign", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	expect(t, h, "/kv/keys", "foreign,user:1")
	expect(t, h, "/kv/delete?key=user:1", "ok")
	if n, _ := rc.Exists(ctx, "user:1").Result(); n != 0 {
		t.Error("delete did not remove the Redis key")
	}

	// The second label is SQLite next to the runtime config file.
	expect(t, h, "/kv/set?store=cache&key=c&value=1", "ok")
	expect(t, h, "/kv/get?store=cache&key=c", "1")
	if _, err := os.Stat(filepath.Join(a.dir, "cache.db")); err != nil {
		t.Errorf("cache.db: %v", err)
	}
	if n, _ := rc.Exists(ctx, "c").Result(); n != 0 {
		t.Error("the cache label wrote to Redis")
	}
}

func TestE2EUndefinedStoreLabelRefusesToStart(t *testing.T) {
	a := newApp(t, appConfig{kvStores: []string{"default", "sessions"}})
	_, err := New(context.Background(), a.options())
	if err == nil || !strings.Contains(err.Error(), `unknown key_value_stores label "sessions"`) {
		t.Fatalf("error = %v", err)
	}
}

// upstream is a loopback HTTP server that records what reaches it.
type upstream struct {
	*httptest.Server
	hits     atomic.Int32
	mu       sync.Mutex
	last     *http.Request
	lastBody string
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		b := new(strings.Builder)
		_, _ = fmt.Fprint(b, r.Method)
		body := make([]byte, 1024)
		n, _ := r.Body.Read(body)
		u.mu.Lock()
		u.last, u.lastBody = r.Clone(context.Background()), string(body[:n])
		u.mu.Unlock()
		w.Header().Set("X-Upstream", "yes")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
	}))
	t.Cleanup(u.Close)
	return u
}

func TestE2EOutboundHTTPAllowed(t *testing.T) {
	up := newUpstream(t)
	a := newApp(t, appConfig{allowed: []string{up.URL}})
	h := start(t, a.options())

	expect(t, h, "/outbound?url="+url.QueryEscape(up.URL+"/hello"), "202 yes GET /hello")
	expect(t, h, "/outbound?method=POST&body=payload&url="+url.QueryEscape(up.URL+"/submit"), "202 yes POST /submit")
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.lastBody != "payload" {
		t.Errorf("upstream body = %q", up.lastBody)
	}
	if up.last.Header.Get("X-Guest") != "spinhost-test" {
		t.Errorf("guest header did not arrive: %v", up.last.Header)
	}
	if ua := up.last.Header.Get("User-Agent"); ua != "" {
		t.Errorf("host added User-Agent %q", ua)
	}
}

func TestE2EOutboundHTTPRefused(t *testing.T) {
	up := newUpstream(t)
	// Only another port on the same host is allowed.
	a := newApp(t, appConfig{allowed: []string{"http://127.0.0.1:1", "https://example.com"}})
	h := start(t, a.options())

	code, body := get(t, h, "/outbound?url="+url.QueryEscape(up.URL+"/secret"))
	if code != http.StatusBadGateway || !strings.Contains(body, "Destination not allowed") {
		t.Errorf("refused request: %d %q", code, body)
	}
	// Relative URLs (requests to the app itself) need "http://self".
	code, body = get(t, h, "/outbound?url=/counter")
	if code != http.StatusBadGateway || !strings.Contains(body, "Destination not allowed") {
		t.Errorf("self request: %d %q", code, body)
	}
	if n := up.hits.Load(); n != 0 {
		t.Errorf("the upstream saw %d requests; a refused request must not leave the host", n)
	}
	if !strings.Contains(a.log.String(), "non-allowed url") {
		t.Errorf("refusal not logged:\n%s", a.log.String())
	}
}

func TestE2EOutboundHTTPSelfAndErrors(t *testing.T) {
	a := newApp(t, appConfig{allowed: []string{"http://self", "http://127.0.0.1:1"}})
	h := start(t, a.options())
	// A relative URL reaches the app itself.
	expect(t, h, "/outbound?url=/counter", "200  1")
	// An allowed destination that refuses the connection is an error.
	code, body := get(t, h, "/outbound?url="+url.QueryEscape("http://127.0.0.1:1/"))
	if code != http.StatusBadGateway || !strings.Contains(body, "Runtime error") {
		t.Errorf("connection refused: %d %q", code, body)
	}
}

func TestE2EOutboundRedis(t *testing.T) {
	addr := startRedis(t)
	a := newApp(t, appConfig{allowed: []string{"redis://" + addr}})
	h := start(t, a.options())
	redisURL := url.QueryEscape("redis://" + addr)

	expect(t, h, "/redis/incr?addr="+redisURL+"&key=hits", "1")
	expect(t, h, "/redis/incr?addr="+redisURL+"&key=hits", "2")
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	if n, _ := rc.Get(context.Background(), "hits").Int(); n != 2 {
		t.Errorf("hits = %d", n)
	}

	// execute with the default reply mapping, Spin 3.5's: +OK and nil are
	// results; bulk strings are binary, other statuses status results.
	// TestE2EOutboundRedisReplies compares the two modes.
	expect(t, h, "/redis/execute?addr="+redisURL+"&cmd=SET&arg=k&arg=v", "status:OK")
	expect(t, h, "/redis/execute?addr="+redisURL+"&cmd=SET&arg=claim&arg=1&arg=NX", "status:OK")
	expect(t, h, "/redis/execute?addr="+redisURL+"&cmd=SET&arg=claim&arg=2&arg=NX", "nil:<nil>")
	expect(t, h, "/redis/execute?addr="+redisURL+"&cmd=GET&arg=claim", "binary:1")
	// An EVAL that returns an integer distinguishes the two on every Spin.
	expect(t, h, "/redis/execute?addr="+redisURL+"&cmd=EVAL&arg="+url.QueryEscape("if redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 1 else return 0 end")+"&arg=1&arg=claim2&arg=x", "int64:1")
	expect(t, h, "/redis/execute?addr="+redisURL+"&cmd=EVAL&arg="+url.QueryEscape("if redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 1 else return 0 end")+"&arg=1&arg=claim2&arg=x", "int64:0")
	expect(t, h, "/redis/execute?addr="+redisURL+"&cmd=GET&arg=k", "binary:v")
	expect(t, h, "/redis/execute?addr="+redisURL+"&cmd=GET&arg=missing", "nil:<nil>")
	expect(t, h, "/redis/execute?addr="+redisURL+"&cmd=PING", "status:PONG")
	expect(t, h, "/redis/execute?addr="+redisURL+"&cmd=INCR&arg=hits", "int64:3")
	expect(t, h, "/redis/execute?addr="+redisURL+"&cmd=RPUSH&arg=l&arg=a&arg=b", "int64:2")
	expect(t, h, "/redis/execute?addr="+redisURL+"&cmd=LRANGE&arg=l&arg=0&arg=-1", "binary:a,binary:b")
	if code, _ := get(t, h, "/redis/execute?addr="+redisURL+"&cmd=NOSUCHCOMMAND"); code != http.StatusBadGateway {
		t.Errorf("unknown command: %d", code)
	}

	// The rest of the interface (layouts of every result type).
	expect(t, h, "/redis/ops?addr="+redisURL+"&key=ops",
		`set=ok get=v1 del=1 get-missing="" sadd=3 srem=1 smembers=b+c publish=ok`)

	// An address not in allowed_outbound_hosts is an error and nothing is
	// sent (the server is the same; only the allow-list differs).
	other := url.QueryEscape("redis://localhost:" + strings.Split(addr, ":")[1])
	if code, body := get(t, h, "/redis/incr?addr="+other+"&key=hits"); code != http.StatusBadGateway || !strings.Contains(body, "redis:") {
		t.Errorf("refused redis: %d %q", code, body)
	}
	if n, _ := rc.Get(context.Background(), "hits").Int(); n != 3 {
		t.Errorf("hits = %d after a refused INCR, want 3", n)
	}
}

// Options.RedisReplies: the same commands under both modes, against one
// redis-server. Spin up to 3.4 drops nil and "+OK" from execute results;
// Spin 3.5 and later return them; both flatten arrays (nested ones too)
// and fail on an error inside an array. The other outbound-redis
// functions do not change.
func TestE2EOutboundRedisReplies(t *testing.T) {
	addr := startRedis(t)
	redisURL := url.QueryEscape("redis://" + addr)
	ex := func(cmd string, args ...string) string {
		p := "/redis/execute?addr=" + redisURL + "&cmd=" + cmd
		for _, a := range args {
			p += "&arg=" + url.QueryEscape(a)
		}
		return p
	}
	nested := "return {1, {'a', {2, false}}, redis.status_reply('QUEUED'), redis.status_reply('OK')}"
	steps := []struct {
		path       string
		spin34     string
		spin35     string
		failsInAll bool
	}{
		{path: ex("SET", "k", "v"), spin34: "", spin35: "status:OK"},
		{path: ex("SET", "nx", "1", "NX"), spin34: "", spin35: "status:OK"},
		{path: ex("SET", "nx", "2", "NX"), spin34: "", spin35: "nil:<nil>"},
		{path: ex("GET", "nx"), spin34: "binary:1", spin35: "binary:1"},
		{path: ex("GET", "missing"), spin34: "", spin35: "nil:<nil>"},
		{path: ex("MGET", "k", "missing", "nx"), spin34: "binary:v,binary:1", spin35: "binary:v,nil:<nil>,binary:1"},
		{path: ex("PING"), spin34: "status:PONG", spin35: "status:PONG"},
		{path: ex("DEL", "gone"), spin34: "int64:0", spin35: "int64:0"},
		// Lua false is a nil bulk string; nested arrays are flattened.
		{path: ex("EVAL", nested, "0"), spin34: "int64:1,binary:a,int64:2,status:QUEUED", spin35: "int64:1,binary:a,int64:2,nil:<nil>,status:QUEUED,status:OK"},
		{path: ex("EVAL", "return {1, redis.error_reply('inner')}", "0"), failsInAll: true},
		{path: ex("LRANGE", "empty", "0", "-1"), spin34: "", spin35: ""},
	}
	for _, mode := range []string{RedisRepliesSpin34, RedisRepliesSpin35, ""} {
		t.Run("mode="+mode, func(t *testing.T) {
			a := newApp(t, appConfig{allowed: []string{"redis://" + addr}})
			opts := a.options()
			opts.RedisReplies = mode
			h := start(t, opts)
			rc := redis.NewClient(&redis.Options{Addr: addr})
			defer rc.Close()
			if err := rc.FlushDB(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
			for _, st := range steps {
				code, body := get(t, h, st.path)
				want := st.spin35
				if mode == RedisRepliesSpin34 {
					want = st.spin34
				}
				switch {
				case st.failsInAll:
					if code != http.StatusBadGateway {
						t.Errorf("%s: %d %q, want an error", st.path, code, body)
					}
				case code != http.StatusOK || body != want:
					t.Errorf("%s: %d %q, want 200 %q", st.path, code, body, want)
				}
			}
			// The typed functions are the same in both modes.
			expect(t, h, "/redis/ops?addr="+redisURL+"&key=ops",
				`set=ok get=v1 del=1 get-missing="" sadd=3 srem=1 smembers=b+c publish=ok`)
		})
	}

	a := newApp(t, appConfig{})
	opts := a.options()
	opts.RedisReplies = "spin-3.3"
	if _, err := New(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "RedisReplies") {
		t.Errorf("RedisReplies spin-3.3: error %v", err)
	}
}

func TestE2EVariables(t *testing.T) {
	a := newApp(t, appConfig{
		appVariables: `token = { required = true, secret = true }
region = { default = "eu" }
tier = { default = "free" }`,
		compVariables: `token = "{{ token }}"
where = "{{ region }}-{{ tier }}"`,
	})

	// Missing required variable: the host refuses to start and says how to
	// set it.
	_, err := New(context.Background(), a.options())
	if err == nil || !strings.Contains(err.Error(), `"token" is required`) || !strings.Contains(err.Error(), "SPIN_VARIABLE_TOKEN") {
		t.Fatalf("missing required variable: %v", err)
	}

	// SPIN_VARIABLE_* from the environment.
	opts := a.options()
	opts.LookupEnv = env(map[string]string{"SPIN_VARIABLE_TOKEN": "s3cret", "SPIN_VARIABLE_REGION": "us"})
	h := start(t, opts)
	expect(t, h, "/var?name=token", "s3cret")
	expect(t, h, "/var?name=where", "us-free")
	// A variable the component does not declare is a spin-config error.
	if code, body := get(t, h, "/var?name=region"); code != http.StatusInternalServerError || !strings.Contains(body, "no variable for") {
		t.Errorf("undeclared component variable: %d %q", code, body)
	}
	if code, body := get(t, h, "/var?name=Bad-Name"); code != http.StatusInternalServerError || !strings.Contains(body, "invalid variable name") {
		t.Errorf("invalid name: %d %q", code, body)
	}
	if strings.Contains(a.log.String(), "s3cret") {
		t.Error("a secret variable value appeared in the host log")
	}
	h.Close()

	// --variable beats the environment; the real process environment is the
	// default source.
	t.Setenv("SPIN_VARIABLE_TOKEN", "from-process-env")
	opts = a.options()
	opts.LookupEnv = nil
	h = start(t, opts)
	expect(t, h, "/var?name=token", "from-process-env")
	h.Close()
	opts.Variables = map[string]string{"token": "from-flag", "tier": "pro"}
	h = start(t, opts)
	expect(t, h, "/var?name=token", "from-flag")
	expect(t, h, "/var?name=where", "eu-pro")
}

func TestE2EAllowedHostsFromVariables(t *testing.T) {
	up := newUpstream(t)
	a := newApp(t, appConfig{
		appVariables: fmt.Sprintf(`upstream = { default = %q }`, up.URL),
		allowed:      []string{"{{ upstream }}"},
	})
	h := start(t, a.options())
	expect(t, h, "/outbound?url="+url.QueryEscape(up.URL+"/x"), "202 yes GET /x")

	// The same manifest, with the variable pointing elsewhere: refused.
	opts := a.options()
	opts.Variables = map[string]string{"upstream": "http://127.0.0.1:1"}
	h2 := start(t, opts)
	if code, _ := get(t, h2, "/outbound?url="+url.QueryEscape(up.URL+"/x")); code != http.StatusBadGateway {
		t.Errorf("status %d, want the guest's error (502)", code)
	}
	if n := up.hits.Load(); n != 1 {
		t.Errorf("upstream hits = %d, want 1", n)
	}
}

func TestE2EFreshInstancePerRequest(t *testing.T) {
	h := start(t, newApp(t, appConfig{}).options())
	for i := 0; i < 5; i++ {
		// A global counter in the guest would count up if an instance were
		// reused.
		expect(t, h, "/counter", "1")
	}
}

func TestE2EConcurrentRequests(t *testing.T) {
	// The upstream holds every request for a while, so the guest instances
	// are all alive at once, blocked in the host's outbound call.
	const n = 16
	const hold = 400 * time.Millisecond
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(hold)
		w.Header().Set("X-Upstream", "slow")
		fmt.Fprint(w, strings.TrimPrefix(r.URL.Path, "/"))
	}))
	defer slow.Close()
	h := start(t, newApp(t, appConfig{allowed: []string{slow.URL}}).options())

	var wg sync.WaitGroup
	errs := make(chan string, 3*n)
	begin := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(3)
		go func(i int) {
			defer wg.Done()
			path := "/outbound?url=" + url.QueryEscape(fmt.Sprintf("%s/%d", slow.URL, i))
			if code, body := get(t, h, path); code != 200 || body != fmt.Sprintf("200 slow %d", i) {
				errs <- fmt.Sprintf("%s: %d %q", path, code, body)
			}
		}(i)
		go func(i int) {
			defer wg.Done()
			key := fmt.Sprintf("k%d", i)
			if code, body := get(t, h, "/kv/set?key="+key+"&value="+key); code != 200 || body != "ok" {
				errs <- fmt.Sprintf("set %s: %d %q", key, code, body)
				return
			}
			if code, body := get(t, h, "/kv/get?key="+key); code != 200 || body != key {
				errs <- fmt.Sprintf("get %s: %d %q", key, code, body)
			}
		}(i)
		go func(i int) {
			defer wg.Done()
			path := fmt.Sprintf("/busy?ms=20&id=%d", i)
			if code, body := get(t, h, path); code != 200 || body != fmt.Sprint(i) {
				errs <- fmt.Sprintf("%s: %d %q", path, code, body)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	// One at a time, the outbound calls alone would take n*hold.
	if elapsed := time.Since(begin); elapsed > time.Duration(n)*hold/3 {
		t.Errorf("%d concurrent requests took %s: requests are not served concurrently", n, elapsed)
	}
	code, body := get(t, h, "/kv/keys")
	if keys := strings.Split(body, ","); code != 200 || len(keys) != n {
		t.Errorf("keys after concurrent sets: %d %q", code, body)
	}
}

func TestE2ERequestAndResponseMapping(t *testing.T) {
	h := start(t, newApp(t, appConfig{route: "/api/..."}).options())

	code, body := get(t, h, "/api/headers?x=1")
	if code != 200 {
		t.Fatalf("headers: %d %q", code, body)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	hostPort := strings.TrimPrefix(h.URL(), "http://")
	want := map[string]string{
		"spin-full-url":            h.URL() + "/api/headers?x=1",
		"spin-path-info":           "/headers",
		"spin-matched-route":       "/api/...",
		"spin-raw-component-route": "/api/...",
		"spin-component-route":     "/api",
		"spin-base-path":           "/",
		"host":                     hostPort,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("guest saw %s = %q, want %q", k, got[k], v)
		}
	}
	if !strings.HasPrefix(got["spin-client-addr"], "127.0.0.1:") {
		t.Errorf("spin-client-addr = %q", got["spin-client-addr"])
	}

	req, _ := http.NewRequest(http.MethodPut, h.URL()+"/api/echo?a=b%20c", strings.NewReader("the body"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b := new(strings.Builder)
	_, _ = fmt.Fprint(b, readAll(t, res))
	if res.StatusCode != http.StatusCreated || b.String() != "the body" {
		t.Errorf("echo: %d %q", res.StatusCode, b.String())
	}
	for k, v := range map[string]string{"X-Method": "PUT", "X-Uri": "/api/echo?a=b%20c", "X-Host": hostPort, "Content-Type": "text/plain"} {
		if res.Header.Get(k) != v {
			t.Errorf("response header %s = %q, want %q", k, res.Header.Get(k), v)
		}
	}

	// Not routed, reserved, and unsupported-method paths.
	if code, _ := get(t, h, "/elsewhere"); code != http.StatusNotFound {
		t.Errorf("unrouted path: %d", code)
	}
	if code, body := get(t, h, "/.well-known/spin/health"); code != 200 || body != "OK" {
		t.Errorf("health: %d %q", code, body)
	}
	if code, _ := do(t, h, "TRACE", "/api/echo", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("TRACE: %d", code)
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

func TestE2EGuestOutputAndTraps(t *testing.T) {
	a := newApp(t, appConfig{})
	h := start(t, a.options())
	expect(t, h, "/log", "logged")
	if !strings.Contains(a.log.String(), "[guest] hello from the guest") {
		t.Errorf("guest stdout not in the host log:\n%s", a.log.String())
	}
	if code, _ := get(t, h, "/trap"); code != http.StatusInternalServerError {
		t.Errorf("trap: %d, want 500", code)
	}
	// The trap cost one request, not the host.
	expect(t, h, "/counter", "1")
}

// A guest that passes out-of-range pointers gets a 500 for that request;
// the host keeps serving.
func TestE2EBadGuestPointers(t *testing.T) {
	dir := t.TempDir()
	wasm := filepath.Join(dir, "bad.wasm")
	if err := os.WriteFile(wasm, badGuestWasm, 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := writeFile(t, dir, "spin.toml", fmt.Sprintf(`spin_manifest_version = 2
[application]
name = "bad"
[[trigger.http]]
route = "/..."
component = "bad"
[component.bad]
source = %q
key_value_stores = ["default"]
allowed_outbound_hosts = ["http://127.0.0.1:1"]
`, wasm))
	logs := &testLog{}
	h := start(t, Options{ManifestPath: manifest, Listen: "127.0.0.1:0", Logger: newTestLogger(logs)})
	for _, method := range []string{"GET", "POST", "PUT", "DELETE", "PATCH"} {
		if code, _ := do(t, h, method, "/", ""); code != http.StatusInternalServerError {
			t.Errorf("%s: %d, want 500", method, code)
		}
	}
	if code, _ := do(t, h, "OPTIONS", "/", ""); code != http.StatusNoContent {
		t.Errorf("well-behaved request after faults: %d, want 204\n%s", code, logs.String())
	}
	if !strings.Contains(logs.String(), "outside linear memory") {
		t.Errorf("faults not logged:\n%s", logs.String())
	}
}

func TestModuleABIOfGuest(t *testing.T) {
	abi, err := InspectModuleFile(context.Background(), needGuest(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range []string{"key-value.open", "key-value.get", "key-value.set", "key-value.get-keys",
		"spin-config.get-config", "wasi-outbound-http.request", "outbound-redis.incr"} {
		mod, name, _ := strings.Cut(imp, ".")
		if !abi.HasImport(mod, name) {
			t.Errorf("guest does not import %s", imp)
		}
	}
	for _, exp := range []string{"handle-http-request", "canonical_abi_realloc", "canonical_abi_free"} {
		if !abi.HasExport(exp) {
			t.Errorf("guest does not export %s", exp)
		}
	}
	supported := map[string]bool{}
	for _, s := range SupportedImports() {
		supported[s] = true
	}
	for _, f := range abi.Imports {
		if f.Module != "wasi_snapshot_preview1" && !supported[f.Module+"."+f.Name] {
			t.Errorf("guest imports %s, which the host does not provide", f)
		}
	}
	if strings.Join(abi.Memories, ",") != "memory" {
		t.Errorf("memories = %v", abi.Memories)
	}
	// The signature the C bindings declare for wasi-outbound-http.request.
	for _, f := range abi.Imports {
		if f.Module == "wasi-outbound-http" && f.Name == "request" && (len(f.Params) != 11 || len(f.Results) != 0) {
			t.Errorf("request signature %s", f)
		}
	}
}

// The real spinport component, when the Makefile's test-host target
// passes it in: the host must accept its ABI and manifest.
func TestProjectComponentStarts(t *testing.T) {
	wasm, manifest := os.Getenv("SPINPORT_WASM"), os.Getenv("SPINPORT_MANIFEST")
	if wasm == "" || manifest == "" {
		t.Skip("SPINPORT_WASM and SPINPORT_MANIFEST not set (make test-host sets them)")
	}
	m, err := LoadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for name, v := range m.Variables {
		if v.Required {
			vars[name] = "test-" + name
		}
	}
	logs := &testLog{}
	h := start(t, Options{
		ManifestPath: manifest, WasmPath: wasm, Variables: vars, Listen: "127.0.0.1:0",
		StateDir: t.TempDir(), LookupEnv: env(nil), Logger: newTestLogger(logs),
	})
	if code, body := get(t, h, "/.well-known/spin/health"); code != 200 || body != "OK" {
		t.Errorf("health: %d %q", code, body)
	}
}

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Faults and abuse through the real .wasm: a Redis that pauses and dies,
// secrets in idempotency records, Idempotency-Key reuse and stale claims,
// racing deletes on two replicas, and requests that try to choose their
// own route. Each of these failed on the code before the fix.

// A trap in the component is an empty 500 and the host logs it as
// "Error processing request". An instance the host closed because its
// client went away ("module closed with context canceled") is not a trap.
func noTraps(t *testing.T, h *testHost) {
	t.Helper()
	for _, line := range strings.Split(h.Logs.String(), "\n") {
		if strings.Contains(line, "Error processing request") && !strings.Contains(line, "context canceled") {
			t.Errorf("the component trapped: %s", line)
		}
	}
}

func TestFaultsRedisPausedAndKilled(t *testing.T) {
	rs := startRedisServer(t)
	// StoreTimeout stands in for the client (or ingress) that gives up on a
	// paused Redis: Spin itself has no timeout on its Redis store.
	h := startHost(t, hostOptions{Redis: rs, Name: "spinport", StoreTimeout: 300 * time.Millisecond})
	api := h.admin(t)
	T := "/api/v1/tenants/acme"
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": "acme"})
	api.must(201, "POST", T+"/apps", map[string]any{"name": "web"})

	calls := []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/tenants", nil},
		{"GET", T, nil},
		{"GET", T + "/apps", nil},
		{"GET", T + "/apps/web", nil},
		{"POST", T + "/apps", map[string]any{"name": "api"}},
		{"PATCH", T + "/apps/web", map[string]any{"replicas": 2}},
		{"PUT", T + "/apps/web/variables/greeting", map[string]any{"value": "hi"}},
		{"POST", T + "/apps/web/deployments", map[string]any{"image": "ghcr.io/acme/web:v1"}},
		{"GET", T + "/audit", nil},
		{"POST", T + "/tokens", map[string]any{"name": "ci", "scopes": []string{"deploy"}}},
	}
	expect503 := func(phase string) {
		t.Helper()
		for _, c := range calls {
			r := api.do(c.method, c.path, c.body)
			if r.Status != 503 || r.Header.Get("Content-Type") != "application/problem+json" || r.Header.Get("Retry-After") == "" ||
				!strings.Contains(r.str("detail"), "key-value store") {
				t.Errorf("%s: %s (Retry-After %q); want 503 problem+json naming the store, with Retry-After", phase, r, r.Header.Get("Retry-After"))
			}
		}
		noTraps(t, h)
	}

	rs.Pause()
	expect503("Redis paused")
	rs.Resume()
	if r := api.must(200, "GET", T+"/apps/web", nil); r.str("name") != "web" {
		t.Errorf("after Redis resumed: %s", r)
	}

	rs.Kill()
	expect503("Redis killed")
	rs.Restart() // empty: no persistence
	api.must(200, "GET", "/api/v1/tenants", nil)
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": "acme"})
	noTraps(t, h)
}

// redisDump returns every key and value in the Redis database.
func redisDump(t *testing.T, rs *redisServer) map[string]string {
	t.Helper()
	return redisStrings(t, rs, "*")
}

func TestFaultsNoSecretInKV(t *testing.T) {
	rs := startRedisServer(t)
	h := startHost(t, hostOptions{Redis: rs, Name: "spinport"})
	api := h.admin(t)
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": "acme"})
	api.must(201, "POST", "/api/v1/tenants/acme/apps", map[string]any{"name": "web"})
	body := map[string]any{"name": "ci", "scopes": []string{"deploy"}, "app": "web"}
	first := api.must(201, "POST", "/api/v1/tenants/acme/tokens", body, "Idempotency-Key", "create-ci-token")
	secret := first.str("secret")
	if !strings.HasPrefix(secret, "spt_") {
		t.Fatalf("token: %s", first)
	}
	again := api.must(409, "POST", "/api/v1/tenants/acme/tokens", body, "Idempotency-Key", "create-ci-token")
	if again.Header.Get("Idempotent-Replayed") != "true" || strings.Contains(string(again.Body), secret[21:]) ||
		!strings.Contains(again.str("detail"), "shown once") || !strings.Contains(again.str("detail"), first.str("token.id")) {
		t.Errorf("replay of a token creation: %s", again)
	}
	// A portal session: only the hash of the cookie may be stored.
	res, err := apiHTTP.Do(signInRequest(t, h))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var cookie string
	for _, c := range res.Cookies() {
		if c.Name == "spinport_session" {
			cookie = c.Value
		}
	}
	if cookie == "" {
		t.Fatalf("no session cookie: %d %v", res.StatusCode, res.Header)
	}
	secrets := map[string]string{"token secret": secret[21:], "admin token": h.AdminToken, "session cookie": cookie}
	dump := redisDump(t, rs)
	if len(dump) < 10 {
		t.Fatalf("the dump has %d keys", len(dump))
	}
	for k, v := range dump {
		for what, s := range secrets {
			if strings.Contains(k, s) || strings.Contains(v, s) {
				t.Errorf("KV key %s holds the %s in plain text", k, what)
			}
		}
	}
	noTraps(t, h)
}

// signInRequest is the portal's admin sign-in (POST /auth/session).
func signInRequest(t *testing.T, h *testHost, headers ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", h.URL+"/auth/session", strings.NewReader(`{"token":"`+h.AdminToken+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

func TestFaultsIdempotencyKey(t *testing.T) {
	rs := startRedisServer(t)
	h := startHost(t, hostOptions{Redis: rs, Name: "spinport", Variables: map[string]string{"lock_ttl": "1s"}})
	api := h.admin(t)
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": "acme"})
	apps := "/api/v1/tenants/acme/apps"
	api.must(201, "POST", apps, map[string]any{"name": "web"}, "Idempotency-Key", "k1")
	replay := api.must(201, "POST", apps, map[string]any{"name": "web"}, "Idempotency-Key", "k1")
	if replay.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %s", replay)
	}
	// The same key with another body: 422, and nothing is created.
	r := api.must(422, "POST", apps, map[string]any{"name": "api"}, "Idempotency-Key", "k1")
	if r.str("field") != "Idempotency-Key" {
		t.Errorf("422: %s", r)
	}
	api.must(404, "GET", apps+"/api", nil)

	// A claim left by a request whose instance died (written as spinport
	// writes its claims): a retry is refused while it is fresh and runs
	// once lock_ttl (1 s here) has passed.
	body := `{"name":"shop"}`
	scope := "admin\x00POST\x00" + apps + "\x00k2"
	sum := sha256.Sum256([]byte(scope))
	reqSum := sha256.Sum256([]byte("POST\x00" + apps + "\x00" + body))
	claim := fmt.Sprintf(`{"schema":1,"hash":%q,"until":%d,"pending":true}`, hex.EncodeToString(reqSum[:]), time.Now().Add(time.Second).Unix())
	if err := rs.Client.Set(context.Background(), "sp/idem/"+hex.EncodeToString(sum[:]), claim, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if r := api.do("POST", apps, body, "Idempotency-Key", "k2"); r.Status != 409 {
		t.Errorf("retry while the claim is fresh: %s", r)
	}
	eventually(t, 15*time.Second, "the stale claim to stop blocking the retry", func() string {
		if r := api.do("POST", apps, body, "Idempotency-Key", "k2"); r.Status != 201 {
			return r.String()
		}
		return ""
	})
	api.must(200, "GET", apps+"/shop", nil)
	noTraps(t, h)
}

func TestFaultsRacingDeletesOnTwoReplicas(t *testing.T) {
	rs := startRedisServer(t)
	hosts := startInstances(t, rs, 2)
	a, b := hosts[0].admin(t), hosts[1].admin(t)
	a.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": "acme", "quotas": map[string]any{"maxApps": 3}})
	apps := "/api/v1/tenants/acme/apps"
	a.must(201, "POST", apps, map[string]any{"name": "web", "replicas": 2})

	var calls []func() (*apiResult, error)
	for i := 0; i < 10; i++ {
		c := []*apiClient{a, b}[i%2]
		calls = append(calls, func() (*apiResult, error) { return c.call("DELETE", apps+"/web", nil) })
	}
	deleted := 0
	for _, r := range burst(t, calls) {
		switch r.Status {
		case 204:
			deleted++
		case 404:
		default:
			t.Errorf("parallel delete: %s", r)
		}
	}
	if deleted != 1 {
		t.Fatalf("%d of 10 parallel deletes answered 204, want exactly 1", deleted)
	}
	for _, n := range []string{"a", "b", "c"} {
		b.must(201, "POST", apps, map[string]any{"name": n})
	}
	if r := a.do("POST", apps, map[string]any{"name": "d"}); r.Status != 403 || r.str("quota") != "maxApps" {
		t.Fatalf("a 4th app under maxApps=3: %s", r)
	}

	// 100 racing deletes and creates of one name across both replicas.
	a.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": "race"})
	apps = "/api/v1/tenants/race/apps"
	calls = nil
	for i := 0; i < 100; i++ {
		c := []*apiClient{a, b}[i%2]
		if i%2 == 0 {
			calls = append(calls, func() (*apiResult, error) { return c.call("POST", apps, map[string]any{"name": "web", "replicas": 2}) })
		} else {
			calls = append(calls, func() (*apiResult, error) { return c.call("DELETE", apps+"/web", nil) })
		}
	}
	for _, r := range burst(t, calls) {
		if r.Status >= 500 {
			t.Errorf("racing create/delete: %s", r)
		}
	}
	listed := allPages(t, a, apps, 50, "name")
	usage := b.must(200, "GET", "/api/v1/tenants/race", nil)
	if got := usage.num("usage.apps"); got != int64(len(listed)) {
		t.Errorf("app counter %d, apps listed %v", got, listed)
	}
	if got := usage.num("usage.replicas"); got != 2*int64(len(listed)) {
		t.Errorf("replica counter %d, apps listed %v (2 replicas each)", got, listed)
	}
	noTraps(t, hosts[0])
	noTraps(t, hosts[1])
}

func TestFaultsRequestHygiene(t *testing.T) {
	h := startHost(t, hostOptions{Name: "spinport"})
	api := h.admin(t)
	T := "/api/v1/tenants/acme"
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": "acme"})
	api.must(201, "POST", T+"/apps", map[string]any{"name": "web"})
	api.must(201, "POST", T+"/apps", map[string]any{"name": "api"})
	api.must(201, "POST", T+"/tokens", map[string]any{"name": "ci", "scopes": []string{"read"}})

	// A client-sent spin-full-url does not choose the route: Spin appends
	// its own value after the client's headers and spinport uses that one.
	r := api.must(200, "GET", "/healthz", nil, "spin-full-url", "http://x"+T+"/tokens")
	if r.str("service") != "spinport" || strings.Contains(string(r.Body), "items") {
		t.Errorf("/healthz with a forged spin-full-url answered: %s", r)
	}
	// ... nor the session cookie's Secure flag (a public host, forged loopback URL).
	req := signInRequest(t, h, "spin-full-url", "http://127.0.0.1/auth/session")
	req.Host = "spinport.example.com"
	res, err := apiHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	secure := ""
	for _, c := range res.Cookies() {
		if c.Name == "spinport_session" {
			secure = map[bool]string{true: "secure", false: "not secure"}[c.Secure]
		}
	}
	if secure != "secure" {
		t.Errorf("sign-in on a public host with a forged loopback spin-full-url: session cookie %q (%d)", secure, res.StatusCode)
	}

	// An encoded slash is refused, not routed as a separator.
	for _, p := range []string{"/api/v1/tenants/acme%2Fapps", T + "/apps/web%2fvariables"} {
		if r := api.do("GET", p, nil); !r.isProblem(400, "", "%2F") {
			t.Errorf("GET %s: %s", p, r)
		}
	}

	// Reserved names.
	for _, slug := range []string{"default", "kube-system", "kube-public", "kube-node-lease", "system"} {
		if r := api.do("POST", "/api/v1/tenants", map[string]any{"slug": slug}); !r.isProblem(400, "slug", "reserved") {
			t.Errorf("tenant %q: %s", slug, r)
		}
	}
	if r := api.do("POST", T+"/apps", map[string]any{"name": "default"}); !r.isProblem(400, "name", "reserved") {
		t.Errorf("app \"default\": %s", r)
	}

	// An app-restricted token reads its own app's audit events only.
	api.must(201, "PUT", T+"/apps/api/variables/db_password", map[string]any{"value": "x"})
	tok := api.must(201, "POST", T+"/tokens", map[string]any{"name": "web-ci", "scopes": []string{"read"}, "app": "web"}).str("secret")
	api.must(201, "POST", T+"/apps/web/deployments", map[string]any{"image": "ghcr.io/acme/web:v1"})
	audit := api.with(tok).must(200, "GET", T+"/audit?limit=200", nil)
	targets := audit.strs("items.#.target")
	if len(targets) == 0 {
		t.Errorf("the app token sees no events of its app: %s", audit)
	}
	for _, tg := range targets {
		if tg != "app/web" && !strings.HasPrefix(tg, "app/web/") {
			t.Errorf("the app token sees event %q", tg)
		}
	}
	noTraps(t, h)
}

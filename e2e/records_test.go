package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// Issue "records and API": the main flow through the real .wasm with the
// records in a real Redis (kv_backend=redis), checked through the API and
// in Redis itself. No Kubernetes is configured, so revisions stay
// "pending" (the Kubernetes e2e tests cover applying them).

func TestRecordsAPIFlowRedis(t *testing.T) {
	requireSpinport(t)
	rs := startRedisServer(t)
	h := startHost(t, hostOptions{Redis: rs})
	admin := h.admin(t)
	rget := func(key string) string {
		t.Helper()
		v, err := rs.Client.Get(context.Background(), key).Result()
		if err != nil {
			t.Errorf("redis GET %s: %v", key, err)
		}
		return v
	}
	const base = "/api/v1/tenants/acme"

	// Tenant and app.
	admin.must(201, "POST", "/api/v1/tenants", `{"slug":"acme","displayName":"Acme"}`)
	app := admin.must(201, "POST", base+"/apps", `{"name":"web","replicas":2,"domains":["www.acme.test"]}`)
	if app.str("defaultHost") != "web-acme.apps.localhost" || app.get("currentRevision") != nil || app.num("replicas") != 2 {
		t.Errorf("app: %s", app)
	}
	if got := admin.must(200, "GET", base+"/apps/web", nil); got.str("name") != "web" || got.strs("domains")[0] != "www.acme.test" {
		t.Errorf("get app: %s", got)
	}
	if rget("sp/t/acme/count/apps") != "1" || rget("sp/t/acme/count/replicas") != "2" || !strings.Contains(rget("sp/domain/www.acme.test"), `"app":"web"`) {
		t.Error("app counters or domain claim not in Redis")
	}

	// Deploy a digest; the same digest again returns the same revision.
	digest := digestOf("acme/web v1")
	image1 := "ghcr.io/acme/web:v1@" + digest
	d1 := admin.must(201, "POST", base+"/apps/web/deployments",
		`{"image":"`+image1+`","source":"ci","gitRef":"refs/tags/v1","gitSha":"abcdef1"}`)
	if d1.num("number") != 1 || d1.str("image") != image1 || d1.str("digest") != digest || d1.str("source") != "ci" ||
		d1.str("cause") != "deploy" || d1.str("state") != "pending" || d1.num("replicas") != 2 {
		t.Errorf("deploy: %s", d1)
	}
	again := admin.must(200, "POST", base+"/apps/web/deployments", `{"image":"`+image1+`","source":"ci"}`)
	if again.num("number") != 1 || again.str("gitRef") != "refs/tags/v1" {
		t.Errorf("the same digest made another revision: %s", again)
	}
	sum := sha256.Sum256([]byte(digest))
	if rget("sp/t/acme/a/web/rev/n") != "1" || rget("sp/t/acme/a/web/digest/"+hex.EncodeToString(sum[:])) != "1" {
		t.Error("revision counter or digest claim wrong in Redis")
	}
	d2 := admin.must(201, "POST", base+"/apps/web/deployments", `{"image":"ghcr.io/acme/web:v2"}`)
	if d2.num("number") != 2 || d2.str("source") != "api" || d2.str("digest") != "" {
		t.Errorf("second deploy: %s", d2)
	}

	// Variables: each set makes a config revision with the current image.
	if v := admin.must(201, "PUT", base+"/apps/web/variables/greeting", `{"value":"hello"}`); v.str("value") != "hello" || v.flag("secret") {
		t.Errorf("set variable: %s", v)
	}
	admin.must(200, "PUT", base+"/apps/web/variables/greeting", `{"value":"hello again"}`)
	admin.must(201, "PUT", base+"/apps/web/variables/log_level", `{"value":"debug"}`)
	vars := admin.must(200, "GET", base+"/apps/web/variables", nil)
	if got := vars.strs("items.#.name"); !reflect.DeepEqual(got, []string{"greeting", "log_level"}) || vars.str("items.0.value") != "hello again" {
		t.Errorf("variables: %s", vars)
	}
	// Secret values live in Kubernetes Secrets only; without a cluster the
	// API says so instead of storing them.
	if r := admin.do("PUT", base+"/apps/web/variables/db_password", `{"value":"never-stored-anywhere","secret":true}`); !r.isProblem(503, "", "kube_api_url") {
		t.Errorf("secret without a cluster: %s", r)
	}
	admin.must(204, "DELETE", base+"/apps/web/variables/log_level", nil)

	// Rollback to revision 1 restores its image (and settings).
	revsBefore := admin.must(200, "GET", base+"/apps/web/revisions", nil)
	last := revsBefore.num("items.0.number")
	rb := admin.must(201, "POST", base+"/apps/web/rollback", `{"revision":1}`)
	if rb.num("rollbackOf") != 1 || rb.num("number") != last+1 || rb.str("image") != image1 || rb.str("cause") != "rollback" {
		t.Errorf("rollback: %s", rb)
	}
	if cur := admin.must(200, "GET", base+"/apps/web", nil); cur.num("currentRevision") != rb.num("number") {
		t.Errorf("current revision after rollback: %s", cur)
	}

	// Revisions, newest first, each once; one by number.
	revs := admin.must(200, "GET", base+"/apps/web/revisions?limit=200", nil)
	var numbers []string
	for i := rb.num("number"); i >= 1; i-- {
		numbers = append(numbers, strconv.FormatInt(i, 10))
	}
	causes := strings.Join(revs.strs("items.#.cause"), " ")
	if got := revs.strs("items.#.number"); !reflect.DeepEqual(got, numbers) || causes != "rollback config config config config deploy deploy" {
		t.Errorf("revisions %v (%s), want numbers %v: %s", got, causes, numbers, revs)
	}
	if r3 := admin.must(200, "GET", base+"/apps/web/revisions/3", nil); r3.str("image") != "ghcr.io/acme/web:v2" || r3.str("variables.0.name") != "greeting" {
		t.Errorf("revision 3: %s", r3)
	}
	admin.must(404, "GET", base+"/apps/web/revisions/99", nil)
	// Paging walks the same list.
	p1 := admin.must(200, "GET", base+"/apps/web/revisions?limit=4", nil)
	p2 := admin.must(200, "GET", base+"/apps/web/revisions?limit=4&cursor="+p1.str("nextCursor"), nil)
	if got := append(p1.strs("items.#.number"), p2.strs("items.#.number")...); !reflect.DeepEqual(got, numbers) || p2.get("nextCursor") != nil {
		t.Errorf("paged revisions %v, want %v", got, numbers)
	}

	// API token: create, use, revoke, refused.
	tok := admin.must(201, "POST", base+"/tokens", `{"name":"github-actions","scopes":["deploy"],"app":"web"}`)
	secret, id := tok.str("secret"), tok.str("token.id")
	if !strings.HasPrefix(secret, "spt_"+id+"_") || tok.str("token.app") != "web" {
		t.Fatalf("token: %s", tok)
	}
	if rget("sp/tokenref/"+id) != "acme" {
		t.Error("token reference not in Redis")
	}
	ci := admin.with(secret)
	if me := ci.must(200, "GET", "/api/v1/me", nil); me.str("kind") != "token" || me.str("tenant") != "acme" {
		t.Errorf("me with the token: %s", me)
	}
	d3 := ci.must(201, "POST", base+"/apps/web/deployments", `{"image":"ghcr.io/acme/web:v3","source":"ci"}`)
	if !strings.HasPrefix(d3.str("actor"), "token:") {
		t.Errorf("deploy by token: %s", d3)
	}
	if r := ci.do("POST", base+"/apps", `{"name":"other"}`); r.Status != 403 {
		t.Errorf("a deploy token created an app: %s", r)
	}
	admin.must(204, "DELETE", base+"/tokens/"+id, nil)
	if r := ci.do("GET", base+"/apps/web", nil); !r.isProblem(401, "", "") {
		t.Errorf("revoked token: %s", r)
	}
	if n, _ := rs.Client.Exists(context.Background(), "sp/tokenref/"+id, "sp/t/acme/tokens/item/"+id).Result(); n != 0 {
		t.Errorf("revoked token still has %d keys in Redis", n)
	}

	// Idempotency-Key: a retried POST gets the first answer again.
	first := admin.must(201, "POST", base+"/apps", `{"name":"api"}`, "Idempotency-Key", "create-api-1")
	replay := admin.must(201, "POST", base+"/apps", `{"name":"api"}`, "Idempotency-Key", "create-api-1")
	if replay.Header.Get("Idempotent-Replayed") != "true" || string(replay.Body) != string(first.Body) {
		t.Errorf("replay: %v %s", replay.Header, replay)
	}
	if r := admin.do("POST", base+"/apps", `{"name":"api"}`, "Idempotency-Key", "create-api-2"); !r.isProblem(409, "name", "already exists") {
		t.Errorf("another key for the same app: %s", r)
	}
	dk1 := admin.must(201, "POST", base+"/apps/api/deployments", `{"image":"ghcr.io/acme/api:v1"}`, "Idempotency-Key", "run-7-1")
	dk2 := admin.must(201, "POST", base+"/apps/api/deployments", `{"image":"ghcr.io/acme/api:v1"}`, "Idempotency-Key", "run-7-1")
	if dk1.num("number") != 1 || dk2.num("number") != 1 || dk2.Header.Get("Idempotent-Replayed") != "true" || rget("sp/t/acme/a/api/rev/n") != "1" {
		t.Errorf("idempotent deploy made two revisions: %s / %s", dk1, dk2)
	}

	// The audit log has every step, newest first.
	audit := admin.must(200, "GET", base+"/audit?limit=200", nil)
	want := "deploy app.create token.revoke deploy token.create rollback deploy.config variable.unset deploy.config variable.set " +
		"deploy.config variable.set deploy.config variable.set deploy deploy app.create tenant.create"
	if got := strings.Join(audit.strs("items.#.action"), " "); got != want {
		t.Errorf("audit actions\n got %s\nwant %s", got, want)
	}
	if audit.str("items.0.actor") != "admin" && !strings.Contains(audit.str("items.0.actor"), "admin") {
		t.Errorf("audit actor: %s", audit.str("items.0"))
	}

	// Every key spinport wrote is under sp/ (it shares the database's keyspace).
	keys, err := rs.Client.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "sp/") {
			t.Errorf("key %q outside sp/", k)
		}
		if v, _ := rs.Client.Get(context.Background(), k).Result(); strings.Contains(v, "never-stored-anywhere") || strings.Contains(v, secret[len("spt_"+id+"_"):]) {
			t.Errorf("key %q holds a secret", k)
		}
	}
}

// problem+json answers for bad input name the field.
func TestRecordsProblemJSONRedis(t *testing.T) {
	requireSpinport(t)
	rs := startRedisServer(t)
	h := startHost(t, hostOptions{Redis: rs})
	admin := h.admin(t)
	admin.must(201, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	admin.must(201, "POST", "/api/v1/tenants/acme/apps", `{"name":"web"}`)
	cases := []struct {
		method, path, body string
		status             int
		field, detail      string
	}{
		{"POST", "/api/v1/tenants", `{"slug":"Bad_Name"}`, 400, "slug", "lowercase"},
		{"POST", "/api/v1/tenants", `{"slug":"ok","colour":"red"}`, 400, "colour", "unknown field"},
		{"POST", "/api/v1/tenants", `{"slug":`, 400, "", "not valid JSON"},
		{"POST", "/api/v1/tenants", `{"slug":"acme"}`, 409, "", "already exists"},
		{"POST", "/api/v1/tenants/acme/apps", `{"name":"web2","replicas":0}`, 400, "replicas", "at least 1"},
		{"POST", "/api/v1/tenants/acme/apps", `{"name":"web2","replicas":"two"}`, 400, "replicas", "integer"},
		{"POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/acme/web"}`, 400, "image", "tag or a digest"},
		{"POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/acme/web@sha256:1234"}`, 400, "image", "digest"},
		{"POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/acme/web:v1","gitSha":"xyz"}`, 400, "gitSha", "hex"},
		{"PUT", "/api/v1/tenants/acme/apps/web/variables/Bad-Name", `{"value":"x"}`, 400, "name", "SPIN_VARIABLE_"},
		{"POST", "/api/v1/tenants/acme/apps/web/rollback", `{"revision":99}`, 404, "revision", "no revision 99"},
		{"GET", "/api/v1/tenants/acme/apps?limit=0", ``, 400, "limit", "1 to 200"},
		{"POST", "/api/v1/tenants/acme/tokens", `{"name":"x","scopes":["root"]}`, 400, "scopes", "read, deploy or manage"},
		{"GET", "/api/v1/tenants/nope/apps", ``, 404, "", "nope"},
		{"GET", "/api/v1/nope", ``, 404, "", "openapi.json"},
	}
	for _, c := range cases {
		var body any
		if c.body != "" {
			body = c.body
		}
		if r := admin.do(c.method, c.path, body); !r.isProblem(c.status, c.field, c.detail) {
			t.Errorf("%s %s %s: got %s; want %d problem+json field=%q detail~%q", c.method, c.path, c.body, r, c.status, c.field, c.detail)
		}
	}
	if r := h.client(t, "").do("GET", "/api/v1/me", nil); !r.isProblem(401, "", "Bearer") {
		t.Errorf("anonymous: %s", r)
	}
	if r := admin.do("POST", "/api/v1/tenants", `{"slug":"x","displayName":"`+strings.Repeat("a", 70<<10)+`"}`); r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over 64 KiB: %s", r)
	}
}

// Malformed bodies on every writing endpoint are client errors, never a
// 500 (under TinyGo a panic traps the instance: every parse must be guarded).
func TestRecordsMalformedBodiesNever500(t *testing.T) {
	requireSpinport(t)
	rs := startRedisServer(t)
	h := startHost(t, hostOptions{Redis: rs})
	admin := h.admin(t)
	admin.must(201, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	admin.must(201, "POST", "/api/v1/tenants/acme/apps", `{"name":"web"}`)
	admin.must(201, "POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/acme/web:v1"}`)

	endpoints := []struct{ method, path string }{
		{"POST", "/api/v1/tenants"},
		{"PATCH", "/api/v1/tenants/acme"},
		{"POST", "/api/v1/tenants/acme/members"},
		{"POST", "/api/v1/tenants/acme/apps"},
		{"PATCH", "/api/v1/tenants/acme/apps/web"},
		{"POST", "/api/v1/tenants/acme/apps/web/deployments"},
		{"POST", "/api/v1/tenants/acme/apps/web/rollback"},
		{"PUT", "/api/v1/tenants/acme/apps/web/variables/greeting"},
		{"POST", "/api/v1/tenants/acme/tokens"},
		{"POST", "/auth/session"},
	}
	bodies := []string{
		`{`, `}`, `[`, `[]`, `[1,2]`, `null`, `true`, `0`, `-1e999`, `"string"`,
		`{"a":}`, `{"slug":null}`, `{"name":{}}`, `{"name":[]}`, `{"image":123}`, `{"image":"` + strings.Repeat("x", 5000) + `"}`,
		`{"replicas":1e400}`, `{"replicas":-9223372036854775809}`, `{"replicas":1.5}`, `{"revision":"1"}`, `{"revision":-1}`,
		`{"scopes":"deploy"}`, `{"scopes":[1]}`, `{"quotas":[]}`, `{"autoscaling":1}`, `{"domains":"x"}`, `{"domains":[null]}`,
		"{\"name\":\"\xff\xfe\"}", "\x00\x01\x02", `{"value":{"nested":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}}`,
		`{"token":5}`, `{"slug":"a","slug":"b"}`, `{"name":"web\u0000x"}`,
		// Deep nesting: ~150 levels overflowed the guest's stack in the parser.
		strings.Repeat(`[`, 2000), strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200), `{"slug":` + strings.Repeat(`[`, 150),
	}
	n := 0
	for i, b := range bodies {
		// Spread the bodies over the endpoints so every endpoint sees several.
		for j := 0; j < 3; j++ {
			e := endpoints[(i*3+j)%len(endpoints)]
			r := admin.do(e.method, e.path, b)
			n++
			if r.Status < 400 || r.Status > 499 {
				t.Errorf("%s %s with %.60q: %s", e.method, e.path, b, r)
			} else if r.Header.Get("Content-Type") != "application/problem+json" || r.str("detail") == "" {
				t.Errorf("%s %s with %.60q: not problem+json: %s", e.method, e.path, b, r)
			}
		}
	}
	// A body that is not JSON at all, announced as something else.
	r := admin.do("POST", "/api/v1/tenants", "slug=acme", "Content-Type", "application/x-www-form-urlencoded")
	if r.Status != 415 {
		t.Errorf("form body: %s", r)
	}
	t.Logf("%d malformed requests, all 4xx problem+json", n+1)
	// The instance that served them is still fine, and nothing was created.
	if list := admin.must(200, "GET", "/api/v1/tenants/acme/apps", nil); fmt.Sprint(list.strs("items.#.name")) != "[web]" {
		t.Errorf("apps after the malformed requests: %s", list)
	}
}

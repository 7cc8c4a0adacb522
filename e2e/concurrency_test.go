package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The concurrency proof: several instances of the real .wasm (separate
// hosts, as separate SpinKube replicas would be) on one Redis database lose
// no record and list every record exactly once, although the Spin KV API
// has no compare-and-swap (docs/kv-schema.md).

// startInstances starts n spinport hosts sharing rs.
func startInstances(t *testing.T, rs *redisServer, n int) []*testHost {
	t.Helper()
	hosts := make([]*testHost, n)
	for i := range hosts {
		hosts[i] = startHost(t, hostOptions{Redis: rs, Name: fmt.Sprintf("instance-%d", i+1)})
	}
	return hosts
}

// burst runs every call at once (after all goroutines are ready) and
// returns the answers in order; transport errors fail the test.
func burst(t *testing.T, calls []func() (*apiResult, error)) []*apiResult {
	t.Helper()
	out := make([]*apiResult, len(calls))
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i, call := range calls {
		ready.Add(1)
		done.Add(1)
		go func(i int, call func() (*apiResult, error)) {
			defer done.Done()
			ready.Done()
			<-start
			r, err := call()
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			out[i] = r
		}(i, call)
	}
	ready.Wait()
	began := time.Now()
	close(start)
	done.Wait()
	t.Logf("%d concurrent requests answered in %s", len(calls), time.Since(began).Round(time.Millisecond))
	if t.Failed() {
		t.FailNow()
	}
	return out
}

// redisStrings GETs keys matching pattern from rs (KEYS is fine in a test).
func redisStrings(t *testing.T, rs *redisServer, pattern string) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys, err := rs.Client.Keys(ctx, pattern).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		v, err := rs.Client.Get(ctx, k).Result()
		if err != nil {
			t.Fatalf("GET %s: %v", k, err)
		}
		out[k] = v
	}
	return out
}

func redisInt(t *testing.T, rs *redisServer, key string) int64 {
	t.Helper()
	v, err := rs.Client.Get(context.Background(), key).Int64()
	if err != nil {
		t.Errorf("redis GET %s: %v", key, err)
	}
	return v
}

// allPages follows nextCursor and returns every item's field.
func allPages(t *testing.T, c *apiClient, path string, limit int, field string) []string {
	t.Helper()
	var out []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("%s: paging does not end", path)
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		u := path + sep + "limit=" + strconv.Itoa(limit)
		if cursor != "" {
			u += "&cursor=" + cursor
		}
		r := c.must(200, "GET", u, nil)
		out = append(out, r.strs("items.#."+field)...)
		if r.get("nextCursor") == nil {
			return out
		}
		cursor = r.str("nextCursor")
	}
}

// countEach returns how often each string occurs.
func countEach(l []string) map[string]int {
	m := map[string]int{}
	for _, s := range l {
		m[s]++
	}
	return m
}

func TestConcurrencyThreeInstancesRedis(t *testing.T) {
	requireSpinport(t)
	rs := startRedisServer(t)
	hosts := startInstances(t, rs, 3)
	admin := hosts[0].admin(t)
	const base = "/api/v1/tenants/acme"
	admin.must(201, "POST", "/api/v1/tenants", `{"slug":"acme","quotas":{"maxApps":100,"maxReplicasPerApp":5,"maxTotalReplicas":500}}`)
	admin.must(201, "POST", base+"/apps", `{"name":"web"}`)

	// 50 app creations and 50 deploys (distinct images, one app) at once,
	// spread over the three instances.
	const n = 50
	var calls []func() (*apiResult, error)
	var what []string
	for i := 0; i < n; i++ {
		create := hosts[i%3].admin(t)
		name := fmt.Sprintf("app-%02d", i)
		calls = append(calls, func() (*apiResult, error) { return create.call("POST", base+"/apps", `{"name":"`+name+`"}`) })
		what = append(what, "create "+name)
		deploy := hosts[(i+1)%3].admin(t)
		image := fmt.Sprintf("ghcr.io/acme/web:v%d", i)
		calls = append(calls, func() (*apiResult, error) {
			return deploy.call("POST", base+"/apps/web/deployments", `{"image":"`+image+`"}`)
		})
		what = append(what, "deploy "+image)
	}
	for i, r := range burst(t, calls) {
		if r.Status != 201 {
			t.Errorf("%s: %s", what[i], r)
		}
	}

	// Through the API, from every instance: 51 apps, each listed once
	// (one page, and in pages of 7), and 50 revisions with 50 images.
	wantApps := []string{"web"}
	for i := 0; i < n; i++ {
		wantApps = append(wantApps, fmt.Sprintf("app-%02d", i))
	}
	sort.Strings(wantApps)
	for i, h := range hosts {
		c := h.admin(t)
		for _, limit := range []int{200, 7} {
			names := allPages(t, c, base+"/apps", limit, "name")
			sorted := append([]string(nil), names...)
			sort.Strings(sorted)
			if strings.Join(sorted, ",") != strings.Join(wantApps, ",") {
				t.Errorf("instance %d, limit %d: %d apps listed %v, want each of %d once", i+1, limit, len(names), countDupes(names), len(wantApps))
			}
		}
		images := allPages(t, c, base+"/apps/web/revisions", 200, "image")
		numbers := allPages(t, c, base+"/apps/web/revisions", 9, "number")
		if len(images) != n || len(countEach(images)) != n || len(numbers) != n || len(countEach(numbers)) != n {
			t.Errorf("instance %d: %d revisions, %d distinct images, %d numbers (%d distinct); want %d of each",
				i+1, len(images), len(countEach(images)), len(numbers), len(countEach(numbers)), n)
		}
	}
	if ten := admin.must(200, "GET", base, nil); ten.num("usage.apps") != int64(len(wantApps)) || ten.num("usage.replicas") != int64(len(wantApps)) {
		t.Errorf("usage: %s", ten)
	}
	audit := countEach(allPages(t, admin, base+"/audit", 200, "action"))
	if audit["app.create"] != n+1 || audit["deploy"] != n || audit["tenant.create"] != 1 {
		t.Errorf("audit counts %v", audit)
	}

	// Directly in Redis: every app record once, under its own slot.
	items := redisStrings(t, rs, "sp/t/acme/apps/item/*")
	if len(items) != len(wantApps) {
		t.Errorf("%d app records in Redis, want %d", len(items), len(wantApps))
	}
	seqs := map[int64]string{}
	for key, v := range items {
		name := strings.TrimPrefix(key, "sp/t/acme/apps/item/")
		var env struct {
			Seq int64 `json:"seq"`
			Doc struct {
				Name string `json:"name"`
			} `json:"doc"`
		}
		if err := json.Unmarshal([]byte(v), &env); err != nil || env.Doc.Name != name {
			t.Errorf("%s = %s (%v)", key, v, err)
			continue
		}
		if other, dup := seqs[env.Seq]; dup {
			t.Errorf("apps %s and %s share slot %d", name, other, env.Seq)
		}
		seqs[env.Seq] = name
		if slot, err := rs.Client.Get(context.Background(), fmt.Sprintf("sp/t/acme/apps/slot/%d", env.Seq)).Result(); err != nil || slot != name {
			t.Errorf("slot %d = %q (%v), want %s", env.Seq, slot, err, name)
		}
	}
	if got := redisInt(t, rs, "sp/t/acme/count/apps"); got != int64(len(items)) || got != int64(len(wantApps)) {
		t.Errorf("quota counter sp/t/acme/count/apps = %d; %d app records, %d apps", got, len(items), len(wantApps))
	}
	if got := redisInt(t, rs, "sp/t/acme/count/replicas"); got != int64(len(wantApps)) {
		t.Errorf("sp/t/acme/count/replicas = %d, want %d", got, len(wantApps))
	}
	// Every revision once, with 50 distinct images, numbered 1..50.
	revs := redisStrings(t, rs, "sp/t/acme/a/web/rev/*")
	delete(revs, "sp/t/acme/a/web/rev/n")
	images := map[string]bool{}
	for key, v := range revs {
		var r struct {
			Number int64  `json:"number"`
			Image  string `json:"image"`
		}
		if err := json.Unmarshal([]byte(v), &r); err != nil || key != fmt.Sprintf("sp/t/acme/a/web/rev/%d", r.Number) || r.Number < 1 || r.Number > n {
			t.Errorf("%s = %s (%v)", key, v, err)
		}
		images[r.Image] = true
	}
	if len(revs) != n || len(images) != n || redisInt(t, rs, "sp/t/acme/a/web/rev/n") != n {
		t.Errorf("Redis holds %d revisions with %d distinct images (counter %s); want %d", len(revs), len(images),
			rs.Client.Get(context.Background(), "sp/t/acme/a/web/rev/n").Val(), n)
	}
}

// countDupes lists names that are not exactly once in l, for messages.
func countDupes(l []string) map[string]int {
	out := map[string]int{}
	for s, c := range countEach(l) {
		if c != 1 {
			out[s] = c
		}
	}
	return out
}

// Duplicate deploys of one digest make one revision, and concurrent
// creations of one name make one app, across instances.
func TestConcurrencySameDigestAndNameRedis(t *testing.T) {
	requireSpinport(t)
	rs := startRedisServer(t)
	hosts := startInstances(t, rs, 3)
	admin := hosts[0].admin(t)
	const base = "/api/v1/tenants/acme"
	admin.must(201, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	admin.must(201, "POST", base+"/apps", `{"name":"web"}`)

	image := "ghcr.io/acme/web:v1@" + digestOf("the one image")
	var calls []func() (*apiResult, error)
	for i := 0; i < 20; i++ {
		c := hosts[i%3].admin(t)
		calls = append(calls, func() (*apiResult, error) {
			return c.call("POST", base+"/apps/web/deployments", `{"image":"`+image+`","source":"ci"}`)
		})
	}
	created := 0
	numbers := map[int64]int{}
	for i, r := range burst(t, calls) {
		switch r.Status {
		case 201:
			created++
		case 200:
		default:
			t.Errorf("deploy %d: %s", i, r)
			continue
		}
		numbers[r.num("number")]++
	}
	revs := admin.must(200, "GET", base+"/apps/web/revisions?limit=200", nil)
	if created != 1 || len(numbers) != 1 || revs.num("items.#") != 1 || revs.str("items.0.image") != image {
		t.Errorf("20 deploys of one digest: %d created, revision numbers %v, listed: %s", created, numbers, revs)
	}
	stored := redisStrings(t, rs, "sp/t/acme/a/web/rev/*")
	delete(stored, "sp/t/acme/a/web/rev/n")
	if len(stored) != 1 || len(redisStrings(t, rs, "sp/t/acme/a/web/digest/*")) != 1 {
		t.Errorf("Redis holds %d revisions of the one digest: %v", len(stored), stored)
	}

	// 12 creations of the same app name: one 201, eleven 409, and the
	// quota counters moved by exactly one app.
	calls = nil
	for i := 0; i < 12; i++ {
		c := hosts[i%3].admin(t)
		calls = append(calls, func() (*apiResult, error) { return c.call("POST", base+"/apps", `{"name":"api","replicas":2}`) })
	}
	statuses := map[int]int{}
	for _, r := range burst(t, calls) {
		statuses[r.Status]++
		if r.Status != 201 && !r.isProblem(409, "name", "already exists") {
			t.Errorf("create: %s", r)
		}
	}
	if statuses[201] != 1 || statuses[409] != 11 {
		t.Errorf("12 creations of one name: %v", statuses)
	}
	if apps := redisInt(t, rs, "sp/t/acme/count/apps"); apps != 2 {
		t.Errorf("sp/t/acme/count/apps = %d, want 2", apps)
	}
	if replicas := redisInt(t, rs, "sp/t/acme/count/replicas"); replicas != 3 {
		t.Errorf("sp/t/acme/count/replicas = %d, want 3", replicas)
	}
	if names := allPages(t, admin, base+"/apps", 200, "name"); strings.Join(names, ",") != "web,api" {
		t.Errorf("apps listed: %v", names)
	}
}

package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/spinport/spinport/spinhost"
)

// Spin's outbound Redis execute changed in Spin 3.5 (containerd-shim-spin
// v0.22): nil and "+OK" replies used to be dropped from the results and
// are now returned (spinhost.Options.RedisReplies). spinport reads only
// integer replies (INCRBY, EVAL scripts that return 0 or 1) and the one
// string its list script returns (a page of an index, every field with its
// length), so it must behave the same on either: a short Redis-backed flow
// under each mode, with two instances on one redis-server racing for the
// same claims, listed in pages. TestListPagesRedis checks list pages
// under each mode in detail.
func TestRedisReplies(t *testing.T) {
	requireSpinport(t)
	for _, mode := range []string{spinhost.RedisRepliesSpin34, spinhost.RedisRepliesSpin35} {
		t.Run(mode, func(t *testing.T) {
			if opts, _ := (hostOptions{RedisReplies: mode, Quiet: true}).spinhostOptions(t); opts.RedisReplies != mode {
				t.Fatalf("hostOptions.RedisReplies %q reaches spinhost as %q", mode, opts.RedisReplies)
			}
			rs := startRedisServer(t)
			hosts := make([]*testHost, 2)
			for i := range hosts {
				hosts[i] = startHost(t, hostOptions{Redis: rs, Name: fmt.Sprintf("%s-instance-%d", mode, i+1), RedisReplies: mode})
			}
			a, b := hosts[0].admin(t), hosts[1].admin(t)
			const base = "/api/v1/tenants/acme"

			// Tenant, app, deploy (the same digest again is the same
			// revision), list.
			a.must(201, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
			b.must(409, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
			a.must(201, "POST", base+"/apps", `{"name":"web","replicas":2}`)
			image := "ghcr.io/acme/web:v1@" + digestOf("redis replies "+mode)
			d1 := a.must(201, "POST", base+"/apps/web/deployments", `{"image":"`+image+`"}`)
			if again := b.must(200, "POST", base+"/apps/web/deployments", `{"image":"`+image+`"}`); again.num("number") != d1.num("number") {
				t.Errorf("the same digest made another revision: %s", again)
			}
			if revs := b.must(200, "GET", base+"/apps/web/revisions", nil); revs.num("items.#") != 1 || revs.str("items.0.image") != image {
				t.Errorf("revisions: %s", revs)
			}

			// Idempotent POST: the replay is answered from the record, on
			// either instance; another body with the same key is refused.
			a.must(201, "POST", base+"/apps", `{"name":"shop"}`, "Idempotency-Key", "k1")
			for i, c := range []*apiClient{a, b} {
				if r := c.must(201, "POST", base+"/apps", `{"name":"shop"}`, "Idempotency-Key", "k1"); r.Header.Get("Idempotent-Replayed") != "true" {
					t.Errorf("replay on instance %d: %s", i+1, r)
				}
			}
			b.must(422, "POST", base+"/apps", `{"name":"other"}`, "Idempotency-Key", "k1")

			// Parallel creates through both instances: distinct names all
			// succeed, one name succeeds once.
			var calls []func() (*apiResult, error)
			var want []string
			for i := 0; i < 10; i++ {
				c := hosts[i%2].admin(t)
				name := fmt.Sprintf("app-%02d", i)
				want = append(want, name)
				calls = append(calls, func() (*apiResult, error) { return c.call("POST", base+"/apps", `{"name":"`+name+`"}`) })
			}
			for i := 0; i < 6; i++ {
				c := hosts[i%2].admin(t)
				calls = append(calls, func() (*apiResult, error) { return c.call("POST", base+"/apps", `{"name":"api"}`) })
			}
			statuses := map[int]int{}
			for i, r := range burst(t, calls) {
				if i < 10 {
					if r.Status != 201 {
						t.Errorf("create %s: %s", want[i], r)
					}
					continue
				}
				statuses[r.Status]++
				if r.Status != 201 && !r.isProblem(409, "name", "already exists") {
					t.Errorf("create api: %s", r)
				}
			}
			if statuses[201] != 1 || statuses[409] != 5 {
				t.Errorf("6 creations of one name: %v", statuses)
			}

			want = append(want, "web", "shop", "api")
			sort.Strings(want)
			for i, c := range []*apiClient{a, b} {
				names := allPages(t, c, base+"/apps", 5, "name")
				sort.Strings(names)
				if strings.Join(names, ",") != strings.Join(want, ",") {
					t.Errorf("instance %d lists %v, want each of %v once", i+1, names, want)
				}
			}
			if got := redisInt(t, rs, "sp/t/acme/count/apps"); got != int64(len(want)) {
				t.Errorf("sp/t/acme/count/apps = %d, want %d", got, len(want))
			}
			for _, h := range hosts {
				noTraps(t, h)
			}
		})
	}
}

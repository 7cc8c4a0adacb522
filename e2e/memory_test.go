package e2e

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/spinport/spinport/spinhost"
)

// memoryBudget bounds the linear memory one request may end with. The
// component is built with TinyGo's leaking GC: nothing is freed within a
// request, so what a request allocates is what it ends with. spinport's pod
// limit is 256Mi (deploy/spinapp.yaml) for the Spin runtime and the
// instances it runs at once; docs/aks.md has the budget.
const memoryBudget = 16 << 20

// TestMemoryPerRequest measures the peak linear memory of the heaviest
// routes in the test host (the real .wasm, Redis, the loopback cluster)
// and holds each under memoryBudget: a list of 50 apps with 200 audit
// events, deploys, status and logs.
func TestMemoryPerRequest(t *testing.T) {
	k := requireCluster(t)
	rs := startRedisServer(t)
	suffix := randomSuffix()
	var mu sync.Mutex
	peak := map[string]uint64{}
	route := ""
	h := startHost(t, hostOptions{
		Name:  "spinport",
		Redis: rs,
		Variables: map[string]string{"kube_api_url": k.URL, "kube_token": k.spinportToken(t, suffix),
			"base_domain": e2eBaseDomain, "app_redis_url": e2eAppRedisURL},
		CABundle: clusterCABundle(t, k.CAFile),
		OnRequest: func(st spinhost.RequestStats) {
			mu.Lock()
			defer mu.Unlock()
			if route != "" && st.Memory > peak[route] {
				peak[route] = st.Memory
			}
		},
	})
	api := h.admin(t)
	measure := func(name string, f func()) {
		mu.Lock()
		route = name
		mu.Unlock()
		f()
		mu.Lock()
		route = ""
		mu.Unlock()
	}
	tenant := "e2e-mem-" + suffix
	t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath("spinport-"+tenant), "", nil) })
	base := "/api/v1/tenants/" + tenant
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant, "quotas": map[string]any{"maxApps": 60, "maxTotalReplicas": 100}})
	for i := 0; i < 50; i++ {
		api.must(201, "POST", base+"/apps", map[string]any{"name": fmt.Sprintf("app%02d", i), "domains": []string{fmt.Sprintf("app%02d.%s.example.com", i, suffix)}})
	}
	for i := 0; i < 90; i++ {
		api.must(201, "PUT", base+"/apps/app00/variables/v"+fmt.Sprint(i), map[string]any{"value": strings.Repeat("x", 100)})
	}
	measure("deploy (cluster)", func() {
		api.must(201, "POST", base+"/apps/app01/deployments", map[string]any{"image": helloImage + "@" + digestOf("mem "+suffix)})
	})
	measure("list 50 apps", func() { api.must(200, "GET", base+"/apps?limit=50", nil) })
	measure("audit, 200 events", func() { api.must(200, "GET", base+"/audit?limit=200", nil) })
	measure("revisions", func() { api.must(200, "GET", base+"/apps/app00/revisions?limit=200", nil) })
	measure("variables (90)", func() { api.must(200, "GET", base+"/apps/app00/variables", nil) })
	measure("status (cluster)", func() { api.must(200, "GET", base+"/apps/app01/status", nil) })
	measure("logs, 5000 lines (cluster)", func() { api.must(200, "GET", base+"/apps/app01/logs?tail=5000", nil) })
	measure("portal page", func() { api.must(200, "GET", "/", nil) })
	measure("healthz", func() { api.must(200, "GET", "/healthz", nil) })

	names := make([]string, 0, len(peak))
	for n := range peak {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "\n  %-28s %6.1f MiB", n, float64(peak[n])/(1<<20))
		if peak[n] > memoryBudget {
			t.Errorf("%s ended with %d bytes of linear memory, over the %d MiB budget", n, peak[n], memoryBudget>>20)
		}
	}
	if len(peak) < 9 {
		t.Errorf("measured %d routes", len(peak))
	}
	t.Logf("peak linear memory per request:%s", b.String())
}

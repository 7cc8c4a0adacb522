package e2e

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"
)

// benchRequests is how many requests each latency benchmark measures per
// b.N iteration. `make bench` runs -benchtime 1x, so this fixed count is
// what the percentiles are computed over; SPINPORT_BENCH_REQUESTS
// overrides it.
func benchRequests() int {
	if n, err := strconv.Atoi(os.Getenv("SPINPORT_BENCH_REQUESTS")); err == nil && n > 0 {
		return n
	}
	return 200
}

// BenchmarkHostLatencyRedis measures request latency of the real .wasm in
// the test host (a fresh instance per request, as in Spin) with its
// records in a real Redis (kv_backend=redis), one request at a time from
// one client over keep-alive connections. Reported: ns/op is the mean per
// request, p50-ns/p95-ns/p99-ns the percentiles, over benchRequests()
// requests per b.N.
func BenchmarkHostLatencyRedis(b *testing.B) {
	requireSpinport(b)
	rs := startRedisServer(b)
	h := startHost(b, hostOptions{Redis: rs})
	admin := h.admin(b)
	const base = "/api/v1/tenants/bench"
	admin.must(201, "POST", "/api/v1/tenants", `{"slug":"bench","quotas":{"maxApps":100,"maxReplicasPerApp":5,"maxTotalReplicas":500}}`)
	for i := 0; i < 50; i++ {
		admin.must(201, "POST", base+"/apps", fmt.Sprintf(`{"name":"app-%02d"}`, i))
	}
	admin.must(201, "POST", base+"/apps/app-00/deployments", `{"image":"ghcr.io/bench/web:v0"}`)
	if l := admin.must(200, "GET", base+"/apps?limit=50", nil); l.num("items.#") != 50 {
		b.Fatalf("list: %s", l)
	}

	deploys := 0
	cases := []struct {
		name   string
		status int
		req    func() (method, path string, body any)
	}{
		// The per-request floor: instantiation, start-up and package
		// initialisers, then a static file that touches nothing.
		{"static-file", 200, func() (string, string, any) { return "GET", "/app.css", nil }},
		{"healthz", 200, func() (string, string, any) { return "GET", "/healthz", nil }},
		{"get-app", 200, func() (string, string, any) { return "GET", base + "/apps/app-00", nil }},
		{"list-apps-50", 200, func() (string, string, any) { return "GET", base + "/apps?limit=50", nil }},
		{"deploy", 201, func() (string, string, any) {
			deploys++
			return "POST", base + "/apps/app-01/deployments", fmt.Sprintf(`{"image":"ghcr.io/bench/web:v%d"}`, deploys)
		}},
	}
	n := benchRequests()
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			admin := h.admin(b)
			for i := 0; i < 5; i++ { // warm the connection and the host
				m, p, body := c.req()
				admin.must(c.status, m, p, body)
			}
			lat := make([]time.Duration, 0, n*b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := 0; j < n; j++ {
					m, p, body := c.req()
					t0 := time.Now()
					r, err := admin.call(m, p, body)
					d := time.Since(t0)
					if err != nil {
						b.Fatal(err)
					}
					if r.Status != c.status {
						b.Fatalf("want %d: %s", c.status, r)
					}
					lat = append(lat, d)
				}
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	}
}

// reportLatency reports the mean as ns/op and the 50th, 95th and 99th
// percentiles.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	pct := func(p float64) float64 {
		i := int(p*float64(len(lat))+0.5) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(lat) {
			i = len(lat) - 1
		}
		return float64(lat[i].Nanoseconds())
	}
	b.ReportMetric(float64(sum.Nanoseconds())/float64(len(lat)), "ns/op")
	b.ReportMetric(pct(0.50), "p50-ns")
	b.ReportMetric(pct(0.95), "p95-ns")
	b.ReportMetric(pct(0.99), "p99-ns")
	b.ReportMetric(float64(len(lat)), "requests")
}

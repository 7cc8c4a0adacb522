package e2e

// BenchmarkDeployToReady: the time from a deploy to a Ready SpinApp on the
// loopback cluster, through spinport's API (the real .wasm in spinhost)
// and, side by side in the same run, through `kubectl apply -f
// spinapp.yaml` + `kubectl wait` for the same app on the same cluster.
//
//	make bench     # hack/bench.sh: -bench . -benchtime 1x in e2e/ with the cluster up
//	SPINPORT_CLUSTER_ENV=$PWD/.cluster/env SPINPORT_WASM=$PWD/build/spinport.wasm SPINPORT_MANIFEST=$PWD/spin.toml \
//	  go -C e2e test -run '^$' -bench DeployToReady -benchtime 1x .   # from the repository root
//
// One benchmark iteration does SPINPORT_BENCH_RUNS (default 10) timed runs
// of each, alternating which goes first, after one untimed warm-up run of
// each (kubectl's first run fills its discovery cache). Every run deploys a
// fresh app (2 replicas) and ends when a watch on the SpinApp (opened
// before the deploy, straight to the API server) sees
// status.readyReplicas = 2. Both spinport and kubectl reach the API server
// through a counting TLS proxy (apiProxy), which gives the API server
// requests per deploy; the watch does not go through it.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func BenchmarkDeployToReady(b *testing.B) {
	k := requireCluster(b)
	runs := 10
	if s := os.Getenv("SPINPORT_BENCH_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("SPINPORT_BENCH_RUNS=%q", s)
		}
		runs = n
	}
	suffix := randomSuffix()
	token := k.spinportToken(b, suffix)
	proxy := startAPIProxy(b, k)
	h := startClusterHost(b, "bench", proxy.URL, proxy.CAFile, token)
	api := h.admin(b)

	tenant := "bench-" + suffix
	spinNS := "spinport-" + tenant
	kubeNS := "bench-kubectl-" + suffix
	b.Cleanup(func() {
		_, _, _ = k.call("DELETE", nsPath(spinNS), "", nil)
		_, _, _ = k.call("DELETE", nsPath(kubeNS), "", nil)
	})
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant})

	// The kubectl side gets a namespace like the tenant's: same executor,
	// same quota (quota admission is on the path of every pod).
	k.mustCall(b, "POST", "/api/v1/namespaces", map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": kubeNS}}, 201)
	executor := k.mustObject(b, groupPath("core.spinkube.dev/v1alpha1", spinNS, "spinappexecutors", "spinport-"+tenant))
	k.mustCall(b, "POST", "/apis/core.spinkube.dev/v1alpha1/namespaces/"+kubeNS+"/spinappexecutors", map[string]any{
		"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinAppExecutor",
		"metadata": map[string]any{"name": kubeNS}, "spec": executor.at("spec")}, 201) // unique name: spin-operator#480
	quota := k.mustObject(b, corePath(spinNS, "resourcequotas", "spinport-quota"))
	k.mustCall(b, "POST", "/api/v1/namespaces/"+kubeNS+"/resourcequotas", map[string]any{"apiVersion": "v1", "kind": "ResourceQuota",
		"metadata": map[string]any{"name": "spinport-quota"}, "spec": quota.at("spec")}, 201)

	// kubectl talks to the API server through the proxy too, with its own
	// discovery cache.
	dir := b.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: bench
  cluster: {server: %q, certificate-authority: %q}
users:
- name: admin
  user: {token: %q}
contexts:
- name: bench
  context: {cluster: bench, user: admin}
current-context: bench
`, proxy.URL, proxy.CAFile, k.AdminToken)), 0o600); err != nil {
		b.Fatal(err)
	}
	kubectl := func(args ...string) error {
		cmd := exec.Command("kubectl", append([]string{"--kubeconfig", kubeconfig, "--cache-dir", filepath.Join(dir, "cache")}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}

	type result struct {
		total, call time.Duration // deploy -> Ready; the deploy call alone
		requests    int64
		seen        []string // the requests, method and path
	}
	spinportRun := func(name string) result {
		base := "/api/v1/tenants/" + tenant + "/apps/"
		api.must(201, "POST", "/api/v1/tenants/"+tenant+"/apps", map[string]any{"name": name, "replicas": 2})
		ready := k.watchReady(b, spinNS, name, 2)
		proxy.Seen()
		before := proxy.Requests()
		start := time.Now()
		r := api.do("POST", base+name+"/deployments", map[string]any{"image": helloImage})
		call := time.Since(start)
		requests := proxy.Requests() - before
		seen := proxy.Seen()
		if r.Status != 201 {
			b.Fatalf("deploy: %s", r)
		}
		if err := <-ready; err != nil {
			b.Fatalf("spinport %s: %v", name, err)
		}
		total := time.Since(start)
		api.must(204, "DELETE", base+name, nil)
		return result{total, call, requests, seen}
	}
	kubectlRun := func(name string) result {
		file := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(file, []byte(fmt.Sprintf(`apiVersion: core.spinkube.dev/v1alpha1
kind: SpinApp
metadata:
  name: %s
  namespace: %s
spec:
  executor: %s
  image: %s
  replicas: 2
  resources: # what spinport sets (its defaults); the copied quota requires them
    limits: {cpu: 500m, memory: 256Mi}
    requests: {cpu: 50m, memory: 64Mi}
  checks:
    readiness: {httpGet: {path: /.well-known/spin/health, httpHeaders: []}}
    liveness: {httpGet: {path: /.well-known/spin/health, httpHeaders: []}}
`, name, kubeNS, kubeNS, helloImage)), 0o644); err != nil {
			b.Fatal(err)
		}
		proxy.Seen()
		before := proxy.Requests()
		start := time.Now()
		if err := kubectl("apply", "-f", file); err != nil {
			b.Fatal(err)
		}
		call := time.Since(start)
		if err := kubectl("wait", "--for=jsonpath={.status.readyReplicas}=2", "-n", kubeNS, "spinapp/"+name, "--timeout=60s"); err != nil {
			b.Fatal(err)
		}
		total := time.Since(start)
		requests := proxy.Requests() - before
		seen := proxy.Seen()
		k.mustCall(b, "DELETE", spinAppPath(kubeNS, name), nil, 200, 202)
		return result{total, call, requests, seen}
	}

	for i := 0; i < b.N; i++ {
		spinportRun(fmt.Sprintf("warm-%d", i))
		kubectlRun(fmt.Sprintf("warm-%d", i))
		var sp, kc []result
		b.ResetTimer()
		for r := 0; r < runs; r++ {
			name := fmt.Sprintf("web-%d-%d", i, r)
			if r%2 == 0 {
				sp = append(sp, spinportRun(name))
				kc = append(kc, kubectlRun(name))
			} else {
				kc = append(kc, kubectlRun(name))
				sp = append(sp, spinportRun(name))
			}
		}
		b.StopTimer()
		report := func(who string, rs []result) {
			var total, call []time.Duration
			var req []float64
			for _, r := range rs {
				total, call, req = append(total, r.total), append(call, r.call), append(req, float64(r.requests))
			}
			st := durationStats(total)
			b.ReportMetric(st.median, who+"-median-ms")
			b.ReportMetric(st.min, who+"-min-ms")
			b.ReportMetric(st.p90, who+"-p90-ms")
			b.ReportMetric(st.max, who+"-max-ms")
			b.ReportMetric(durationStats(call).median, who+"-call-median-ms")
			b.ReportMetric(mean(req), who+"-apireq/deploy")
			b.Logf("%-8s deploy -> Ready over %d runs: median %.0f ms, min %.0f, p90 %.0f, max %.0f; deploy call median %.0f ms; %.1f API server requests per deploy (%v)",
				who, len(rs), st.median, st.min, st.p90, st.max, durationStats(call).median, mean(req), req)
			b.Logf("%-8s requests of the first run: %s", who, strings.Join(rs[0].seen, ", "))
		}
		report("spinport", sp)
		report("kubectl", kc)
		b.ReportMetric(0, "ns/op")
		b.StartTimer()
	}
}

type stats struct{ min, median, p90, max float64 }

// durationStats in milliseconds; p90 is the nearest-rank 90th percentile.
func durationStats(ds []time.Duration) stats {
	ms := make([]float64, len(ds))
	for i, d := range ds {
		ms[i] = float64(d) / float64(time.Millisecond)
	}
	sort.Float64s(ms)
	n := len(ms)
	if n == 0 {
		return stats{}
	}
	med := ms[n/2]
	if n%2 == 0 {
		med = (ms[n/2-1] + ms[n/2]) / 2
	}
	rank := int(math.Ceil(0.9*float64(n))) - 1
	return stats{min: ms[0], median: med, p90: ms[rank], max: ms[n-1]}
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// watchReady opens a watch on SpinApp ns/name straight to the API server
// (not through any proxy) and sends nil once its status.readyReplicas
// reaches replicas (or an error after a minute). The watch is open when
// watchReady returns.
func (k *kubeCluster) watchReady(tb testing.TB, ns, name string, replicas int64) <-chan error {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	req, _ := http.NewRequestWithContext(ctx, "GET", k.URL+"/apis/core.spinkube.dev/v1alpha1/namespaces/"+ns+
		"/spinapps?watch=1&allowWatchBookmarks=false&fieldSelector=metadata.name%3D"+name, nil)
	req.Header.Set("Authorization", "Bearer "+k.AdminToken)
	hc := &http.Client{Transport: k.hc.Transport} // no overall timeout: the context bounds it
	res, err := hc.Do(req)
	if err != nil {
		cancel()
		tb.Fatalf("watch SpinApp %s/%s: %v", ns, name, err)
	}
	if res.StatusCode != 200 {
		res.Body.Close()
		cancel()
		tb.Fatalf("watch SpinApp %s/%s: %s", ns, name, res.Status)
	}
	done := make(chan error, 1)
	go func() {
		defer cancel()
		defer res.Body.Close()
		dec := json.NewDecoder(bufio.NewReader(res.Body))
		for {
			var ev struct {
				Type   string `json:"type"`
				Object struct {
					Status struct {
						ReadyReplicas int64 `json:"readyReplicas"`
					} `json:"status"`
				} `json:"object"`
			}
			if err := dec.Decode(&ev); err != nil {
				done <- fmt.Errorf("watch ended before %d ready replicas: %v", replicas, err)
				return
			}
			if ev.Object.Status.ReadyReplicas >= replicas {
				done <- nil
				return
			}
		}
	}()
	return done
}

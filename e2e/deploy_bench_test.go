package e2e

// BenchmarkDeployToReady: the time from a deploy to the app running the
// new image with 2 ready replicas on the loopback cluster, for three
// contenders side by side in the same run:
//
//   - spinport: its API (the real .wasm in spinhost);
//   - kubectl: `kubectl apply -f spinapp.yaml` + `kubectl wait`;
//   - raw: one server-side apply of the same SpinApp by a plain HTTP
//     client, the floor (what is left is spin-operator's reconcile);
//
// in two scenarios: "new" (a fresh app each run) and "redeploy" (an
// existing app moved to a new digest each run). Images are digest-pinned.
//
//	make bench     # hack/bench.sh: -bench . -benchtime 1x in e2e/ with the cluster up
//	SPINPORT_CLUSTER_ENV=$PWD/.cluster/env SPINPORT_WASM=$PWD/build/spinport.wasm SPINPORT_MANIFEST=$PWD/spin.toml \
//	  go -C e2e test -run '^$' -bench DeployToReady -benchtime 1x .   # from the repository root
//
// One benchmark iteration does SPINPORT_BENCH_RUNS (default 10) timed runs
// of each contender per scenario, rotating which goes first, after one
// untimed warm-up run of each (kubectl's first run fills its discovery
// cache). Every run ends when one watch on the app's Deployment (opened
// before the deploy, straight to the API server) sees the new image rolled
// out: observedGeneration current, 2 updated and 2 ready replicas. All
// contenders reach the API server through a counting TLS proxy
// (apiProxy), which gives the API server requests per deploy; the watch
// does not go through it.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
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
	// spinport's records in Redis, as in production (runtime-config-redis.toml):
	// Spin's default SQLite store syncs every write to disk, and a deploy
	// writes its revision several times (about 30 ms of the call on this
	// machine).
	h := startHost(b, hostOptions{Name: "bench", Redis: startRedisServer(b), CABundle: clusterCABundle(b, proxy.CAFile),
		Variables: map[string]string{"kube_api_url": proxy.URL, "kube_token": token, "base_domain": e2eBaseDomain, "app_redis_url": e2eAppRedisURL}})
	api := h.admin(b)

	tenant := "bench-" + suffix
	spinNS := "spinport-" + tenant
	kubeNS := "bench-kubectl-" + suffix
	b.Cleanup(func() {
		_, _, _ = k.call("DELETE", nsPath(spinNS), "", nil)
		_, _, _ = k.call("DELETE", nsPath(kubeNS), "", nil)
	})
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant})

	// kubectl and raw get a namespace like the tenant's: same executor,
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
	// The SpinApp kubectl and raw apply: what spinport makes, minus labels.
	spinApp := func(name, image string) string {
		return fmt.Sprintf(`{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinApp","metadata":{"name":%q,"namespace":%q},
"spec":{"executor":%q,"image":%q,"replicas":2,
"resources":{"limits":{"cpu":"500m","memory":"256Mi"},"requests":{"cpu":"50m","memory":"64Mi"}},
"checks":{"readiness":{"httpGet":{"path":"/.well-known/spin/health","httpHeaders":[]}},"liveness":{"httpGet":{"path":"/.well-known/spin/health","httpHeaders":[]}}}}}`,
			name, kubeNS, kubeNS, image)
	}
	proxyClient := &http.Client{Timeout: 30 * time.Second, Transport: proxyTransport(b, proxy)}

	type result = deployResult
	n := 0
	image := func() string { n++; return helloImage + "@" + digestOf(fmt.Sprintf("bench %s %d", suffix, n)) }
	// timed runs deploy, from just before the call until the watch sees
	// the image rolled out.
	timed := func(ns, name, img string, deploy func() error) result {
		ready := k.watchRolledOut(b, ns, name, img, 2)
		proxy.Seen()
		before, busy := proxy.Requests(), proxy.Busy()
		start := time.Now()
		if err := deploy(); err != nil {
			b.Fatal(err)
		}
		call := time.Since(start)
		requests, server := proxy.Requests()-before, proxy.Busy()-busy
		seen := proxy.Seen()
		if err := <-ready; err != nil {
			b.Fatalf("%s/%s: %v", ns, name, err)
		}
		return result{time.Since(start), call, server, requests, seen}
	}
	deployers := map[string]func(name, img string) result{
		"spinport": func(name, img string) result {
			return timed(spinNS, name, img, func() error {
				if r := api.do("POST", "/api/v1/tenants/"+tenant+"/apps/"+name+"/deployments", map[string]any{"image": img}); r.Status != 201 {
					return fmt.Errorf("deploy: %s", r)
				}
				return nil
			})
		},
		"kubectl": func(name, img string) result {
			file := filepath.Join(dir, name+".json")
			if err := os.WriteFile(file, []byte(spinApp(name, img)), 0o644); err != nil {
				b.Fatal(err)
			}
			r := timed(kubeNS, name, img, func() error { return kubectl("apply", "-f", file) })
			return r
		},
		"raw": func(name, img string) result {
			return timed(kubeNS, name, img, func() error {
				req, _ := http.NewRequest("PATCH", proxy.URL+spinAppPath(kubeNS, name)+"?fieldManager=bench&force=true", bytes.NewReader([]byte(spinApp(name, img))))
				req.Header.Set("Content-Type", "application/apply-patch+yaml")
				req.Header.Set("Authorization", "Bearer "+k.AdminToken)
				res, err := proxyClient.Do(req)
				if err != nil {
					return err
				}
				res.Body.Close()
				if res.StatusCode/100 != 2 {
					return fmt.Errorf("raw apply: %s", res.Status)
				}
				return nil
			})
		},
	}
	// Each contender's apps carry its prefix, so kubectl's and raw's share
	// a namespace without sharing an app.
	create := func(who, name string) {
		if who == "spinport" {
			api.must(201, "POST", "/api/v1/tenants/"+tenant+"/apps", map[string]any{"name": name, "replicas": 2})
		}
	}
	remove := func(who, name string) {
		if who == "spinport" {
			api.must(204, "DELETE", "/api/v1/tenants/"+tenant+"/apps/"+name, nil)
			return
		}
		k.mustCall(b, "DELETE", spinAppPath(kubeNS, name), nil, 200, 202)
	}
	order := []string{"spinport", "kubectl", "raw"}

	for i := 0; i < b.N; i++ {
		results := map[string][]result{}
		// Warm-up, and the apps the redeploy scenario moves.
		for _, who := range order {
			name := fmt.Sprintf("%s-re-%d", who[:3], i)
			create(who, name)
			deployers[who](name, image())
		}
		b.ResetTimer()
		for r := 0; r < runs; r++ {
			for j := range order {
				who := order[(r+j)%len(order)] // rotate who goes first
				name := fmt.Sprintf("%s-new-%d-%d", who[:3], i, r)
				create(who, name)
				results["new/"+who] = append(results["new/"+who], deployers[who](name, image()))
				remove(who, name)
				results["redeploy/"+who] = append(results["redeploy/"+who], deployers[who](fmt.Sprintf("%s-re-%d", who[:3], i), image()))
			}
		}
		b.StopTimer()
		for _, scenario := range []string{"new", "redeploy"} {
			floor := durationStats(totals(results[scenario+"/raw"])).median
			for _, who := range order {
				rs := results[scenario+"/"+who]
				var call, server, own []time.Duration
				var req []float64
				for _, r := range rs {
					call, req = append(call, r.call), append(req, float64(r.requests))
					server, own = append(server, r.server), append(own, r.call-r.server)
				}
				st := durationStats(totals(rs))
				key := scenario + "-" + who
				b.ReportMetric(st.median, key+"-median-ms")
				b.ReportMetric(durationStats(call).median, key+"-call-median-ms")
				// The call split: waiting for the API server (through the
				// counting proxy) and everything else (the caller's own work).
				b.ReportMetric(durationStats(server).median, key+"-call-apiserver-median-ms")
				b.ReportMetric(durationStats(own).median, key+"-call-own-median-ms")
				b.ReportMetric(mean(req), key+"-apireq/deploy")
				// One line per contender: Go keeps only a benchmark's first
				// 10 log lines (testing's trimOutput).
				b.Logf("%-8s %-8s deploy -> rolled out over %d runs: median %.0f ms (floor %+.0f ms, ×%.2f), min %.0f, p90 %.0f, max %.0f; call median %.0f ms; %.1f API server requests per deploy (%v); first run: %s",
					scenario, who, len(rs), st.median, st.median-floor, st.median/floor, st.min, st.p90, st.max, durationStats(call).median, mean(req), req, strings.Join(rs[0].seen, ", "))
			}
		}
		b.ReportMetric(0, "ns/op")
		b.StartTimer()
	}
}

// deployResult is one timed deploy.
type deployResult struct {
	total, call time.Duration // deploy -> rolled out; the deploy call alone
	server      time.Duration // of the call, waiting for the API server
	requests    int64
	seen        []string // the requests, method and path
}

// proxyTransport trusts the counting proxy's certificate.
func proxyTransport(tb testing.TB, p *apiProxy) *http.Transport {
	pem, err := os.ReadFile(p.CAFile)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
}

func totals(rs []deployResult) []time.Duration {
	var out []time.Duration
	for _, r := range rs {
		out = append(out, r.total)
	}
	return out
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

// watchRolledOut opens a watch on the Deployment ns/name spin-operator
// makes for a SpinApp, straight to the API server (not through any
// proxy), and sends nil once it runs image with replicas updated and ready
// replicas at its current generation (or an error after a minute). The
// watch is open when watchRolledOut returns.
func (k *kubeCluster) watchRolledOut(tb testing.TB, ns, name, image string, replicas int64) <-chan error {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	req, _ := http.NewRequestWithContext(ctx, "GET", k.URL+"/apis/apps/v1/namespaces/"+ns+
		"/deployments?watch=1&allowWatchBookmarks=false&fieldSelector=metadata.name%3D"+name, nil)
	req.Header.Set("Authorization", "Bearer "+k.AdminToken)
	hc := &http.Client{Transport: k.hc.Transport} // no overall timeout: the context bounds it
	res, err := hc.Do(req)
	if err != nil {
		cancel()
		tb.Fatalf("watch Deployment %s/%s: %v", ns, name, err)
	}
	if res.StatusCode != 200 {
		res.Body.Close()
		cancel()
		tb.Fatalf("watch Deployment %s/%s: %s", ns, name, res.Status)
	}
	done := make(chan error, 1)
	go func() {
		defer cancel()
		defer res.Body.Close()
		dec := json.NewDecoder(bufio.NewReader(res.Body))
		for {
			var ev struct {
				Object struct {
					Metadata struct {
						Generation int64 `json:"generation"`
					} `json:"metadata"`
					Spec struct {
						Template struct {
							Spec struct {
								Containers []struct {
									Image string `json:"image"`
								} `json:"containers"`
							} `json:"spec"`
						} `json:"template"`
					} `json:"spec"`
					Status struct {
						ObservedGeneration int64 `json:"observedGeneration"`
						UpdatedReplicas    int64 `json:"updatedReplicas"`
						ReadyReplicas      int64 `json:"readyReplicas"`
						Replicas           int64 `json:"replicas"`
					} `json:"status"`
				} `json:"object"`
			}
			if err := dec.Decode(&ev); err != nil {
				done <- fmt.Errorf("watch ended before %s rolled out with %d ready replicas: %v", image, replicas, err)
				return
			}
			o := ev.Object
			// By digest: spinport pins repo@digest (the tag dropped), kubectl
			// and raw apply repo:tag@digest; both run the same image.
			if len(o.Spec.Template.Spec.Containers) > 0 && strings.HasSuffix(o.Spec.Template.Spec.Containers[0].Image, image[strings.LastIndexByte(image, '@'):]) &&
				o.Status.ObservedGeneration >= o.Metadata.Generation && o.Status.UpdatedReplicas >= replicas &&
				o.Status.ReadyReplicas >= replicas && o.Status.Replicas == o.Status.UpdatedReplicas {
				done <- nil
				return
			}
		}
	}()
	return done
}

//go:build !tinygo

package spinkube

// Deployer against a stand-in API server (net/http: native Go only).

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spinport/spinport"
	"github.com/tidwall/gjson"

	"github.com/spinport/spinport/k8sproxy"
)

// A SpinApp applied right after its tenant's ResourceQuota was created is
// refused with "status unknown for quota" until the quota controller has
// computed the quota's usage. Apply retries; when it does not clear, the
// answer is a retryable 503, not a 422.
func TestApplyWaitsForPendingQuota(t *testing.T) {
	var spinAppPatches, refusals atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/api/v1/namespaces/spinport-acme":
			w.Write([]byte(`{"kind":"Namespace","metadata":{"name":"spinport-acme","labels":{"app.kubernetes.io/managed-by":"spinport"}}}`))
		case r.Method == "PATCH" && strings.Contains(r.URL.Path, "/spinapps/"):
			spinAppPatches.Add(1)
			if refusals.Load() > 0 {
				refusals.Add(-1)
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,` +
					`"message":"spinapps.core.spinkube.dev \"web\" is forbidden: status unknown for quota: spinport-quota, resources: count/spinapps.core.spinkube.dev"}`))
				return
			}
			w.Write([]byte(`{"kind":"SpinApp"}`))
		case r.Method == "PATCH" || r.Method == "DELETE":
			w.Write([]byte(`{}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	var slept []time.Duration

	deploy := func() error {
		k, err := k8sproxy.New(srv.URL, "token", srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		d := &Deployer{K: k, S: testSettings, Sleep: func(d time.Duration) { slept = append(slept, d) }}
		_, err = d.Apply(spinport.Tenant{Slug: "acme", Quotas: spinport.DefaultQuotas}, spinport.App{Tenant: "acme", Name: "web"},
			spinport.Revision{Number: 1, Image: "ghcr.io/acme/web:v1", Scaling: spinport.Scaling{Replicas: 1}}, spinport.ApplyWith{})
		return err
	}

	refusals.Store(2)
	if err := deploy(); err != nil {
		t.Fatalf("Apply with a quota pending twice: %v", err)
	}
	if n := spinAppPatches.Load(); n != 3 {
		t.Errorf("SpinApp applied %d times, want 3", n)
	}
	if len(slept) != 2 || slept[0] != 100*time.Millisecond || slept[1] != 200*time.Millisecond {
		t.Errorf("waits: %v", slept)
	}

	refusals.Store(100)
	spinAppPatches.Store(0)
	slept = nil
	err := deploy()
	var p *spinport.Error
	if !errors.As(err, &p) || p.Kind != spinport.Unavailable || !strings.Contains(p.Detail, "retry") {
		t.Fatalf("Apply with a quota that stays pending: %v, want an Unavailable error", err)
	}
	if n := spinAppPatches.Load(); n != 6 {
		t.Errorf("SpinApp applied %d times, want 6 (1 + 5 retries)", n)
	}
}

// spin-operator's webhook reads executors from its cache: a brand-new
// tenant's first SpinApp can be refused with "executor does not exist in
// namespace" for a moment. Apply retries within the budget.
func TestApplyWaitsForTheWebhookToSeeTheExecutor(t *testing.T) {
	var patches, refusals atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "PATCH" && strings.Contains(r.URL.Path, "/spinapps/"):
			patches.Add(1)
			if refusals.Load() > 0 {
				refusals.Add(-1)
				w.WriteHeader(http.StatusUnprocessableEntity)
				w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Invalid","code":422,` +
					`"message":"admission webhook \"vspinapp.kb.io\" denied the request: spec.executor: Invalid value: \"spinport-acme\": executor does not exist in namespace"}`))
				return
			}
			w.Write([]byte(`{"kind":"SpinApp"}`))
		case r.Method == "PATCH" || r.Method == "DELETE":
			w.Write([]byte(`{}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	k, err := k8sproxy.New(srv.URL, "token", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	var slept time.Duration
	s := testSettings
	s.RetryBudget = 500 * time.Millisecond
	d := &Deployer{K: k, S: s, Sleep: func(d time.Duration) { slept += d }}
	deploy := func() error {
		_, err = d.Apply(spinport.Tenant{Slug: "acme", Quotas: spinport.DefaultQuotas}, spinport.App{Tenant: "acme", Name: "web"},
			spinport.Revision{Number: 1, Image: "ghcr.io/acme/web:v1", Scaling: spinport.Scaling{Replicas: 1}}, spinport.ApplyWith{})
		return err
	}
	refusals.Store(2)
	if err := deploy(); err != nil {
		t.Fatalf("first deploy while the webhook's cache lags: %v", err)
	}
	refusals.Store(100)
	slept = 0
	err = deploy()
	var p *spinport.Error
	if !errors.As(err, &p) || p.Kind != spinport.Unavailable || slept != s.RetryBudget {
		t.Fatalf("refused for good: %v after waiting %v; want Unavailable after the 500ms budget", err, slept)
	}
}

// A logs answer is bounded however many pods and lines there are: the API
// server is asked for at most LogBytesPerPod per pod, and once LogBytes
// are read the remaining pods are listed without their logs.
func TestLogsAreBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/pods"):
			var items []string
			for i := 0; i < 8; i++ {
				items = append(items, `{"metadata":{"name":"web-`+string(rune('a'+i))+`","labels":{"app.kubernetes.io/managed-by":"spinport"}},"status":{"phase":"Running"}}`)
			}
			w.Write([]byte(`{"kind":"PodList","items":[` + strings.Join(items, ",") + `]}`))
		case r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/log"):
			n, _ := strconv.Atoi(r.URL.Query().Get("limitBytes"))
			if n <= 0 || n > LogBytesPerPod {
				t.Errorf("log request without a byte bound: %s", r.URL)
				n = 1 << 22
			}
			w.Write([]byte(strings.Repeat("x", n))) // a chatty pod: always at the bound
		case r.Method == "GET":
			w.Write([]byte(`{"kind":"Pod","metadata":{"name":"web","labels":{"app.kubernetes.io/managed-by":"spinport"}}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	k, err := k8sproxy.New(srv.URL, "token", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	d := &Deployer{K: k, S: testSettings}
	pods, err := d.Logs(spinport.App{Tenant: "acme", Name: "web"}, 5000)
	if err != nil {
		t.Fatal(err)
	}
	total, skipped := 0, 0
	for _, p := range pods {
		total += len(p.Log)
		if p.Error != "" {
			skipped++
		}
	}
	if len(pods) != 8 || total > LogBytes || skipped == 0 {
		t.Errorf("%d pods, %d bytes of logs (bound %d), %d without logs", len(pods), total, LogBytes, skipped)
	}
}

// Turning KV off must not delete the runtime-config Secret while pods of
// the previous revision still mount it (a pod whose Secret is gone never
// starts); DeleteApp removes it.
func TestKVOffKeepsTheRuntimeConfigSecret(t *testing.T) {
	var deletes []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == "DELETE" {
			deletes = append(deletes, r.URL.Path)
		}
		w.Write([]byte(`{"metadata":{"labels":{"app.kubernetes.io/managed-by":"spinport"}}}`))
	}))
	defer srv.Close()
	k, err := k8sproxy.New(srv.URL, "token", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	d := &Deployer{K: k, S: testSettings}
	app := spinport.App{Tenant: "acme", Name: "web"}
	if _, err := d.Apply(spinport.Tenant{Slug: "acme", Quotas: spinport.DefaultQuotas}, app,
		spinport.Revision{Number: 2, Image: "ghcr.io/acme/web:v1", Scaling: spinport.Scaling{Replicas: 1}, KV: false}, spinport.ApplyWith{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range deletes {
		if strings.Contains(p, "/secrets/") {
			t.Errorf("a deploy with KV off deleted %s", p)
		}
	}
	deletes = nil
	if err := d.DeleteApp(app); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(deletes, " "), "/secrets/web-runtime-config") {
		t.Errorf("deleting the app left the runtime-config Secret: %v", deletes)
	}
}

// A tenant with its own Redis: the app's runtime config carries the URL
// read back from the tenant's Secret with the app's database; a missing
// Secret is a refusal that says how to fix it, not a deploy without KV.
func TestApplyWithTheTenantsOwnRedis(t *testing.T) {
	secret := `{"metadata":{"labels":{"app.kubernetes.io/managed-by":"spinport"}},"data":{"url":"` +
		base64.StdEncoding.EncodeToString([]byte("rediss://:own@tenant-cache:6380")) + `"}}`
	var applied [][]byte
	missing := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == "PATCH" {
			b, _ := io.ReadAll(r.Body)
			applied = append(applied, b)
		}
		if r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/secrets/"+TenantRedisSecret) {
			if missing {
				w.WriteHeader(404)
				w.Write([]byte(`{"kind":"Status","reason":"NotFound","code":404}`))
				return
			}
			w.Write([]byte(secret))
			return
		}
		w.Write([]byte(`{"metadata":{"labels":{"app.kubernetes.io/managed-by":"spinport"}}}`))
	}))
	defer srv.Close()
	k, err := k8sproxy.New(srv.URL, "token", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	d := &Deployer{K: k, S: testSettings}
	app := spinport.App{Tenant: "acme", Name: "web"}
	rev := spinport.Revision{Number: 1, Image: "ghcr.io/acme/web:v1", Scaling: spinport.Scaling{Replicas: 1}, KV: true}
	ten := spinport.Tenant{Slug: "acme", Quotas: spinport.DefaultQuotas}
	if _, err := d.Apply(ten, app, rev, spinport.ApplyWith{KV: &spinport.KVStore{Own: true, DB: 4}}); err != nil {
		t.Fatal(err)
	}
	var toml string
	for _, b := range applied {
		if gjson.GetBytes(b, "metadata.name").String() == "web-runtime-config" {
			raw, _ := base64.StdEncoding.DecodeString(gjson.GetBytes(b, `data.runtime-config\.toml`).String())
			toml = string(raw)
		}
	}
	if !strings.Contains(toml, `url = "rediss://:own@tenant-cache:6380/4"`) || strings.Contains(toml, "redis:6379") {
		t.Errorf("runtime config %q: want the tenant's Redis, database 4", toml)
	}
	missing = true
	_, err = d.Apply(ten, app, rev, spinport.ApplyWith{KV: &spinport.KVStore{Own: true, DB: 4}})
	var se *spinport.Error
	if !errors.As(err, &se) || se.Kind != spinport.Refused || !strings.Contains(se.Detail, "PUT /api/v1/tenants/acme/redis") {
		t.Errorf("missing Secret: %v", err)
	}
}

// A redeploy to a new image sends only what changed: the namespace check
// and the SpinApp. No HPA DELETE for an app that was never autoscaled, and
// a namespace deleted by hand brings everything back.
func TestRedeploySendsOnlyWhatChanged(t *testing.T) {
	var mu sync.Mutex
	var reqs []string
	nsGone := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs = append(reqs, r.Method+" "+r.URL.Path)
		gone := nsGone
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if gone && r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/namespaces/spinport-acme") {
			w.WriteHeader(404)
			w.Write([]byte(`{"kind":"Status","reason":"NotFound","code":404}`))
			return
		}
		w.Write([]byte(`{"metadata":{"labels":{"app.kubernetes.io/managed-by":"spinport"}}}`))
	}))
	defer srv.Close()
	tenantDigest := ""
	deploy := func(rev spinport.Revision, prev spinport.Applied) (spinport.Applied, []string) {
		t.Helper()
		k, err := k8sproxy.New(srv.URL, "token", srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		reqs = nil
		mu.Unlock()
		d := &Deployer{K: k, S: testSettings}
		applied, err := d.Apply(spinport.Tenant{Slug: "acme", Quotas: spinport.DefaultQuotas}, spinport.App{Tenant: "acme", Name: "web"}, rev,
			spinport.ApplyWith{Previous: prev, TenantApplied: tenantDigest})
		if err != nil {
			t.Fatal(err)
		}
		tenantDigest = applied["tenant"]
		mu.Lock()
		defer mu.Unlock()
		return applied, append([]string(nil), reqs...)
	}
	rev := spinport.Revision{Number: 1, Image: "ghcr.io/acme/web@sha256:" + strings.Repeat("a", 64), Scaling: spinport.Scaling{Replicas: 2}}
	unknown, all := deploy(rev, nil)
	if len(all) < 7 || !strings.Contains(strings.Join(all, " "), "DELETE") {
		t.Errorf("an apply that knows nothing sends everything (and the HPA delete): %v", all)
	}
	// A new app in a known tenant: its own objects, no tenant objects, no
	// DELETE of an autoscaler it never had.
	first, got := deploy(rev, spinport.Applied{})
	if strings.Join(got, " ") != "GET /api/v1/namespaces/spinport-acme "+
		"PATCH /apis/core.spinkube.dev/v1alpha1/namespaces/spinport-acme/spinapps/web "+
		"PATCH /apis/networking.k8s.io/v1/namespaces/spinport-acme/ingresses/web "+
		"PATCH /apis/cert-manager.io/v1/namespaces/spinport-acme/certificates/web-tls" || first["SpinApp"] != unknown["SpinApp"] {
		t.Errorf("a new app sent %v", got)
	}
	rev.Number, rev.Image = 2, "ghcr.io/acme/web@sha256:"+strings.Repeat("b", 64)
	second, got := deploy(rev, first)
	if len(got) != 2 || got[0] != "GET /api/v1/namespaces/spinport-acme" || got[1] != "PATCH /apis/core.spinkube.dev/v1alpha1/namespaces/spinport-acme/spinapps/web" {
		t.Errorf("a redeploy to a new digest sent %v, want the namespace check and the SpinApp", got)
	}
	if second["Ingress"] != first["Ingress"] || second["SpinApp"] == first["SpinApp"] || second["HorizontalPodAutoscaler"] != "" {
		t.Errorf("applied %v after %v", second, first)
	}
	// Autoscaled, then fixed again: the HPA is applied, then deleted once.
	rev.Number, rev.Scaling = 3, spinport.Scaling{Autoscale: true, MinReplicas: 1, MaxReplicas: 3}
	third, got := deploy(rev, second)
	if !strings.Contains(strings.Join(got, " "), "horizontalpodautoscalers/web") {
		t.Errorf("autoscaling sent %v", got)
	}
	rev.Number, rev.Scaling = 4, spinport.Scaling{Replicas: 1}
	_, got = deploy(rev, third)
	if !strings.Contains(strings.Join(got, " "), "DELETE /apis/autoscaling/v2/namespaces/spinport-acme/horizontalpodautoscalers/web") {
		t.Errorf("back to a fixed count sent %v, want the HPA deleted", got)
	}
	// The namespace is gone: everything again.
	nsGone = true
	tenantDigest = second["tenant"]
	_, got = deploy(rev, second)
	if !strings.Contains(strings.Join(got, " "), "PATCH /api/v1/namespaces/spinport-acme") || !strings.Contains(strings.Join(got, " "), "ingresses/web") {
		t.Errorf("after the namespace vanished: %v", got)
	}
}

// Why an app is not ready, from the states a kubelet and the Deployment
// controller report: each case names what to fix.
func TestWaitingSaysWhy(t *testing.T) {
	dep := `{"metadata":{"generation":2},"spec":{"replicas":2},"status":{"observedGeneration":2,"replicas":2,"updatedReplicas":2,"readyReplicas":0%s}}`
	cases := []struct {
		name, depConditions, pods, want string
	}{
		{"quota", `,"conditions":[{"type":"ReplicaFailure","status":"True","message":"pods \"web-1\" is forbidden: exceeded quota: spinport-quota"}]`, `[]`, "exceeded quota"},
		{"unschedulable", ``, `[{"metadata":{"name":"web-1"},"status":{"conditions":[{"type":"PodScheduled","status":"False","reason":"Unschedulable","message":"0/3 nodes are available: 3 Insufficient cpu."}]}}]`, "Insufficient cpu"},
		{"image", ``, `[{"metadata":{"name":"web-1"},"status":{"containerStatuses":[{"state":{"waiting":{"reason":"ImagePullBackOff","message":"Back-off pulling image \"ghcr.io/acme/web:v9\""}}}]}}]`, "cannot be pulled (ImagePullBackOff): Back-off pulling image"},
		{"crash", ``, `[{"metadata":{"name":"web-1"},"status":{"containerStatuses":[{"restartCount":5,"lastState":{"terminated":{"exitCode":1,"reason":"Error"}},"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}}]`, "keeps crashing (CrashLoopBackOff, 5 restarts; last exit code 1 Error)"},
		{"readiness", ``, `[{"metadata":{"name":"web-1"},"status":{"containerStatuses":[{"ready":false,"state":{"running":{}}}]}}]`, "readiness check"},
	}
	for _, c := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			switch {
			case strings.HasSuffix(r.URL.Path, "/spinapps/web"):
				w.Write([]byte(`{"metadata":{"labels":{"spinport.dev/revision":"2"}},"spec":{"image":"x","replicas":2},"status":{"readyReplicas":0}}`))
			case strings.HasSuffix(r.URL.Path, "/deployments/web"):
				w.Write([]byte(fmt.Sprintf(dep, c.depConditions)))
			case strings.HasSuffix(r.URL.Path, "/pods"):
				w.Write([]byte(`{"items":` + c.pods + `}`))
			case strings.Contains(r.URL.Path, "/certificates/"):
				w.WriteHeader(404)
				w.Write([]byte(`{"kind":"Status","reason":"NotFound","code":404}`))
			default:
				w.Write([]byte(`{"metadata":{"labels":{"app.kubernetes.io/managed-by":"spinport"}}}`))
			}
		}))
		k, _ := k8sproxy.New(srv.URL, "token", srv.Client())
		st, err := (&Deployer{K: k, S: testSettings}).Status(spinport.App{Tenant: "acme", Name: "web"})
		srv.Close()
		if err != nil || st.Ready || !strings.Contains(st.Waiting, c.want) {
			t.Errorf("%s: waiting %q (ready %v, %v), want %q", c.name, st.Waiting, st.Ready, err, c.want)
		}
	}
}

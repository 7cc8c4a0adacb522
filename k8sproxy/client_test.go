package k8sproxy

// Tests with an in-memory Doer: they run natively and under TinyGo (no
// network, no files). TinyGo's t.Fatal does not stop a test, so every Fatal
// is followed by return.

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

const testToken = "tok-3f9c1e7a-very-secret"

// recorded is one request a fakeDoer saw.
type recorded struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// fakeDoer records requests and answers them with route(). The default
// route knows three namespaces: "tenant-a" (managed), "other" (unmanaged)
// and everything else (404), and answers 200 {} for any other request.
type fakeDoer struct {
	reqs  []recorded
	route func(r recorded) (int, string)
	err   error
}

func (f *fakeDoer) Do(req *http.Request) (*http.Response, error) {
	r := recorded{Method: req.Method, Path: req.URL.Path, RawQuery: req.URL.RawQuery, Header: req.Header.Clone()}
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body.Close()
		r.Body = b
	}
	f.reqs = append(f.reqs, r)
	if f.err != nil {
		return nil, f.err
	}
	route := f.route
	if route == nil {
		route = defaultRoute
	}
	status, body := route(r)
	return &http.Response{
		StatusCode: status,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(body)),
	}, nil
}

func defaultRoute(r recorded) (int, string) {
	if r.Method == "GET" && strings.HasPrefix(r.Path, "/api/v1/namespaces/") && strings.Count(r.Path, "/") == 4 {
		name := strings.TrimPrefix(r.Path, "/api/v1/namespaces/")
		switch name {
		case "tenant-a", "tenant-b":
			return 200, nsJSON(name, true)
		case "other":
			return 200, nsJSON(name, false)
		}
		return 404, notFound("namespaces", name)
	}
	return 200, `{}`
}

func nsJSON(name string, managed bool) string {
	labels := `{"kubernetes.io/metadata.name":"` + name + `"}`
	if managed {
		labels = `{"kubernetes.io/metadata.name":"` + name + `","app.kubernetes.io/managed-by":"spinport"}`
	}
	return `{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"` + name + `","labels":` + labels + `},"status":{"phase":"Active"}}`
}

func notFound(resource, name string) string {
	return `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"` + resource + ` \"` + name +
		`\" not found","reason":"NotFound","details":{"name":"` + name + `","kind":"` + resource + `"},"code":404}`
}

func newTestClient(t *testing.T, d *fakeDoer) *Client {
	c, err := New("https://k8s.example:6443/", testToken, d)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func secretJSON(ns, name string, managed bool) []byte {
	labels := `{"app":"x"}`
	if managed {
		labels = `{"app":"x","app.kubernetes.io/managed-by":"spinport"}`
	}
	return []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"` + name + `","namespace":"` + ns +
		`","labels":` + labels + `},"stringData":{"k":"v"}}`)
}

func TestPaths(t *testing.T) {
	cases := []struct{ kind, ns, name, want string }{
		{"Namespace", "", "tenant-a", "/api/v1/namespaces/tenant-a"},
		{"Namespace", "", "", "/api/v1/namespaces"},
		{"ResourceQuota", "tenant-a", "quota", "/api/v1/namespaces/tenant-a/resourcequotas/quota"},
		{"Secret", "tenant-a", "db", "/api/v1/namespaces/tenant-a/secrets/db"},
		{"Secret", "tenant-a", "", "/api/v1/namespaces/tenant-a/secrets"},
		{"Pod", "tenant-a", "web-5d8f-abcde", "/api/v1/namespaces/tenant-a/pods/web-5d8f-abcde"},
		{"Deployment", "tenant-a", "web", "/apis/apps/v1/namespaces/tenant-a/deployments/web"},
		{"Ingress", "tenant-a", "web", "/apis/networking.k8s.io/v1/namespaces/tenant-a/ingresses/web"},
		{"Certificate", "tenant-a", "web-tls", "/apis/cert-manager.io/v1/namespaces/tenant-a/certificates/web-tls"},
		{"SpinApp", "tenant-a", "web", "/apis/core.spinkube.dev/v1alpha1/namespaces/tenant-a/spinapps/web"},
		{"SpinAppExecutor", "tenant-a", "containerd-shim-spin", "/apis/core.spinkube.dev/v1alpha1/namespaces/tenant-a/spinappexecutors/containerd-shim-spin"},
		{"HorizontalPodAutoscaler", "tenant-a", "web", "/apis/autoscaling/v2/namespaces/tenant-a/horizontalpodautoscalers/web"},
	}
	for _, tc := range cases {
		k, ok := lookupKind(tc.kind)
		if !ok {
			t.Errorf("%s: not in the table", tc.kind)
			continue
		}
		if got := k.path(tc.ns, tc.name); got != tc.want {
			t.Errorf("%s path(%q, %q) = %q, want %q", tc.kind, tc.ns, tc.name, got, tc.want)
		}
	}
}

func TestAPIVersions(t *testing.T) {
	want := map[string]string{
		"Namespace": "v1", "ResourceQuota": "v1", "Secret": "v1", "Pod": "v1",
		"Deployment": "apps/v1", "Ingress": "networking.k8s.io/v1", "Certificate": "cert-manager.io/v1",
		"SpinApp": "core.spinkube.dev/v1alpha1", "SpinAppExecutor": "core.spinkube.dev/v1alpha1",
		"HorizontalPodAutoscaler": "autoscaling/v2", "NetworkPolicy": "networking.k8s.io/v1", "ServiceAccount": "v1",
	}
	if len(kinds) != len(want) {
		t.Errorf("table has %d kinds, want %d", len(kinds), len(want))
	}
	for kind, av := range want {
		k, ok := lookupKind(kind)
		if !ok {
			t.Errorf("%s missing", kind)
			continue
		}
		if k.apiVersion() != av {
			t.Errorf("%s apiVersion %q, want %q", kind, k.apiVersion(), av)
		}
	}
}

// Every get-able namespaced kind: the request that leaves has the right path.
func TestGetPathsThroughClient(t *testing.T) {
	cases := []struct{ kind, want string }{
		{"Deployment", "/apis/apps/v1/namespaces/tenant-a/deployments/x"},
		{"Certificate", "/apis/cert-manager.io/v1/namespaces/tenant-a/certificates/x"},
		{"SpinApp", "/apis/core.spinkube.dev/v1alpha1/namespaces/tenant-a/spinapps/x"},
	}
	for _, tc := range cases {
		d := &fakeDoer{}
		c := newTestClient(t, d)
		if _, err := c.Get(tc.kind, "tenant-a", "x"); err != nil {
			t.Errorf("Get %s: %v", tc.kind, err)
			continue
		}
		if len(d.reqs) != 2 {
			t.Errorf("Get %s: %d requests, want 2 (namespace check + get)", tc.kind, len(d.reqs))
			continue
		}
		if d.reqs[0].Path != "/api/v1/namespaces/tenant-a" {
			t.Errorf("Get %s: first request %s, want the namespace check", tc.kind, d.reqs[0].Path)
		}
		if r := d.reqs[1]; r.Method != "GET" || r.Path != tc.want || r.RawQuery != "" {
			t.Errorf("Get %s: %s %s?%s, want GET %s", tc.kind, r.Method, r.Path, r.RawQuery, tc.want)
		}
	}
}

func TestApplyRequestShape(t *testing.T) {
	d := &fakeDoer{route: func(r recorded) (int, string) {
		if r.Method == "PATCH" {
			return 200, `{"kind":"SpinApp","metadata":{"name":"web","resourceVersion":"7"}}`
		}
		return defaultRoute(r)
	}}
	c := newTestClient(t, d)
	obj := []byte(`{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinApp","metadata":{"name":"web","namespace":"tenant-a",` +
		`"labels":{"app.kubernetes.io/managed-by":"spinport"}},"spec":{"image":"ghcr.io/x/web:1","executor":"containerd-shim-spin","replicas":2}}`)
	out, err := c.Apply(obj)
	if err != nil {
		t.Fatalf("Apply: %v", err)
		return
	}
	if !strings.Contains(string(out), `"resourceVersion":"7"`) {
		t.Errorf("Apply returned %s, want the server's answer", out)
	}
	if len(d.reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(d.reqs))
		return
	}
	r := d.reqs[1]
	checks := []struct{ what, got, want string }{
		{"method", r.Method, "PATCH"},
		{"path", r.Path, "/apis/core.spinkube.dev/v1alpha1/namespaces/tenant-a/spinapps/web"},
		{"query", r.RawQuery, "fieldManager=spinport&force=true"},
		{"Content-Type", r.Header.Get("Content-Type"), "application/apply-patch+yaml"},
		{"Authorization", r.Header.Get("Authorization"), "Bearer " + testToken},
		{"Accept", r.Header.Get("Accept"), "application/json"},
		{"body", string(r.Body), string(obj)},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.what, ch.got, ch.want)
		}
	}
	if got := d.reqs[0].Header.Get("Authorization"); got != "Bearer "+testToken {
		t.Errorf("namespace check Authorization = %q", got)
	}
}

func TestApplyAs(t *testing.T) {
	d := &fakeDoer{}
	c := newTestClient(t, d)
	if _, err := c.ApplyAs(secretJSON("tenant-a", "vars", true), "spinport-var-API_KEY"); err != nil {
		t.Fatalf("ApplyAs: %v", err)
		return
	}
	if len(d.reqs) != 2 || d.reqs[1].Method != "PATCH" || d.reqs[1].RawQuery != "fieldManager=spinport-var-API_KEY&force=true" ||
		d.reqs[1].Header.Get("Content-Type") != ApplyContentType {
		t.Errorf("requests: %+v", d.reqs)
	}
	for _, m := range []string{"", "kubectl", "spinportx", "spinport-a b", "spinport-\x00", "spinport-é", "spinport-" + strings.Repeat("x", 120)} {
		d := &fakeDoer{}
		_, err := newTestClient(t, d).ApplyAs(secretJSON("tenant-a", "vars", true), m)
		if !IsPolicy(err) || !strings.Contains(err.Error(), "field manager") || len(d.reqs) != 0 {
			t.Errorf("ApplyAs manager %q: %v, %d requests", m, err, len(d.reqs))
		}
	}
	// The manager check does not bypass the rest of the policy.
	d = &fakeDoer{}
	if _, err := newTestClient(t, d).ApplyAs(secretJSON("tenant-a", "vars", false), "spinport-var-x"); !IsPolicy(err) || len(d.reqs) != 0 {
		t.Errorf("ApplyAs without label: %v", err)
	}
}

func TestBasePathPrefixAndNoToken(t *testing.T) {
	d := &fakeDoer{}
	c, err := New("http://127.0.0.1:8001/proxy/k8s/", "", d)
	if err != nil {
		t.Fatalf("New: %v", err)
		return
	}
	if _, err := c.List("Namespace", "", ""); err != nil {
		t.Errorf("List: %v", err)
	}
	if len(d.reqs) != 1 {
		t.Fatalf("%d requests", len(d.reqs))
		return
	}
	if d.reqs[0].Path != "/proxy/k8s/api/v1/namespaces" {
		t.Errorf("path %q", d.reqs[0].Path)
	}
	if _, ok := d.reqs[0].Header["Authorization"]; ok {
		t.Errorf("Authorization header sent without a token")
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "k8s.example:6443", "ftp://k8s.example", "https://", "https://user:" + testToken + "@k8s.example", "https://k8s.example/?x=1"} {
		_, err := New(u, testToken, &fakeDoer{})
		if err == nil {
			t.Errorf("New(%q) accepted", u)
			continue
		}
		if strings.Contains(err.Error(), testToken) {
			t.Errorf("New(%q) error leaks the secret: %v", u, err)
		}
	}
	if _, err := New("https://k8s.example", testToken, nil); err == nil {
		t.Errorf("New with nil Doer accepted")
	}
}

func TestApplyNamespaceCreatesAndCaches(t *testing.T) {
	d := &fakeDoer{route: func(r recorded) (int, string) {
		if r.Method == "PATCH" && r.Path == "/api/v1/namespaces/tenant-new" {
			return 201, nsJSON("tenant-new", true)
		}
		return defaultRoute(r)
	}}
	c := newTestClient(t, d)
	ns := []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"tenant-new","labels":{"app.kubernetes.io/managed-by":"spinport"}}}`)
	if _, err := c.Apply(ns); err != nil {
		t.Fatalf("Apply Namespace: %v", err)
		return
	}
	if _, err := c.Apply(secretJSON("tenant-new", "db", true)); err != nil {
		t.Fatalf("Apply Secret: %v", err)
		return
	}
	var got []string
	for _, r := range d.reqs {
		got = append(got, r.Method+" "+r.Path)
	}
	want := []string{
		"GET /api/v1/namespaces/tenant-new", // 404: free to create
		"PATCH /api/v1/namespaces/tenant-new",
		"PATCH /api/v1/namespaces/tenant-new/secrets/db", // no second namespace GET
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNamespaceCheckCachedPerClient(t *testing.T) {
	d := &fakeDoer{}
	c := newTestClient(t, d)
	for i := 0; i < 3; i++ {
		if _, err := c.Get("SpinApp", "tenant-a", "web"); err != nil {
			t.Errorf("Get: %v", err)
		}
	}
	if _, err := c.List("Pod", "tenant-a", "app=x"); err != nil {
		t.Errorf("List: %v", err)
	}
	nsGets := 0
	for _, r := range d.reqs {
		if r.Path == "/api/v1/namespaces/tenant-a" {
			nsGets++
		}
	}
	if nsGets != 1 || len(d.reqs) != 5 {
		t.Errorf("%d namespace GETs in %d requests, want 1 in 5", nsGets, len(d.reqs))
	}
	// A new Client asks again.
	c2 := newTestClient(t, d)
	if _, err := c2.Get("SpinApp", "tenant-a", "web"); err != nil {
		t.Errorf("Get: %v", err)
	}
	if len(d.reqs) != 7 {
		t.Errorf("a new client should check the namespace again: %d requests", len(d.reqs))
	}
}

func TestNamespaceCheckErrorNotCached(t *testing.T) {
	fail := true
	d := &fakeDoer{route: func(r recorded) (int, string) {
		if fail {
			return 503, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"etcd is sad","reason":"ServiceUnavailable","code":503}`
		}
		return defaultRoute(r)
	}}
	c := newTestClient(t, d)
	_, err := c.Get("SpinApp", "tenant-a", "web")
	if !IsUnavailable(err) {
		t.Errorf("want unavailable, got %v", err)
	}
	fail = false
	if _, err := c.Get("SpinApp", "tenant-a", "web"); err != nil {
		t.Errorf("second Get: %v", err)
	}
}

// Every refusal is a *PolicyError and sends nothing at all.
func TestPolicyRefusalsSendNothing(t *testing.T) {
	type call func(c *Client) error
	apply := func(obj string) call {
		return func(c *Client) error { _, err := c.Apply([]byte(obj)); return err }
	}
	lbl := `"labels":{"app.kubernetes.io/managed-by":"spinport"}`
	cases := []struct {
		name string
		call call
		want string // substring of the message
	}{
		{"ConfigMap apply", apply(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"tenant-a",` + lbl + `}}`), "kind ConfigMap is not one spinport may touch"},
		{"ClusterRole apply (cluster-scoped)", apply(`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"admin2",` + lbl + `}}`), "not one spinport may touch"},
		{"Node get", func(c *Client) error { _, err := c.Get("Node", "", "n1"); return err }, "not one spinport may touch"},
		{"Pod apply", apply(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"tenant-a",` + lbl + `},"spec":{}}`), "may only list/read logs of Pod"},
		{"Pod delete", func(c *Client) error { return c.Delete("Pod", "tenant-a", "p", "Background") }, "refused to delete Pod"},
		{"Deployment apply", apply(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"tenant-a",` + lbl + `}}`), "may only get Deployment"},
		{"Deployment delete", func(c *Client) error { return c.Delete("Deployment", "tenant-a", "d", "") }, "may only get Deployment"},
		{"Event list", func(c *Client) error { _, err := c.List("Event", "tenant-a", ""); return err }, "kind Event is not one spinport may touch"},
		{"Secret get", func(c *Client) error { _, err := c.Get("Secret", "tenant-a", "db"); return err }, "may only apply/delete Secret"},
		{"pod logs bad container", func(c *Client) error { _, err := c.PodLogs("tenant-a", "p", 10, 0, "c;rm"); return err }, "invalid container name"},
		{"Namespace without label", apply(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"tenant-x"}}`), "must carry the label app.kubernetes.io/managed-by=spinport"},
		{"Namespace wrong label value", apply(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"tenant-x","labels":{"app.kubernetes.io/managed-by":"helm"}}}`), "must carry the label"},
		{"Namespace kube-system takeover", apply(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kube-system",` + lbl + `}}`), "system namespaces"},
		{"Namespace with namespace", apply(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"t","namespace":"x",` + lbl + `}}`), "cluster-scoped"},
		{"Secret without label", apply(string(secretJSON("tenant-a", "db", false))), "must carry the label"},
		{"Secret without namespace", apply(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db",` + lbl + `}}`), "namespace is required"},
		{"Secret in default", apply(string(secretJSON("default", "db", true))), "system namespaces"},
		{"SpinApp in kube-system get", func(c *Client) error { _, err := c.Get("SpinApp", "kube-system", "x"); return err }, "system namespaces"},
		{"Secret in kube-system delete", func(c *Client) error { return c.Delete("Secret", "kube-system", "x", "") }, "system namespaces"},
		{"SA token secret", apply(`{"apiVersion":"v1","kind":"Secret","type":"kubernetes.io/service-account-token","metadata":{"name":"t","namespace":"tenant-a",` + lbl + `}}`), "service-account token"},
		{"SpinApp old group", apply(`{"apiVersion":"core.spinoperator.dev/v1","kind":"SpinApp","metadata":{"name":"w","namespace":"tenant-a",` + lbl + `}}`), `apiVersion must be "core.spinkube.dev/v1alpha1"`},
		{"path traversal name", func(c *Client) error { _, err := c.Get("SpinApp", "tenant-a", "../../../api/v1/secrets"); return err }, "invalid name"},
		{"bad namespace name", func(c *Client) error { _, err := c.Get("SpinApp", "Tenant_A", "x"); return err }, "invalid namespace name"},
		{"no name", func(c *Client) error { _, err := c.Get("SpinApp", "tenant-a", ""); return err }, "no name given"},
		{"no kind", apply(`{"apiVersion":"v1","metadata":{"name":"x"}}`), "no kind given"},
		{"not JSON", apply(`apiVersion: v1`), "not a JSON object"},
		{"JSON array", apply(`[{"kind":"Secret"}]`), "not a JSON object"},
		{"pods across namespaces", func(c *Client) error { _, err := c.List("Pod", "", ""); return err }, "no cluster-wide access"},
		{"SpinApp without namespace", func(c *Client) error { _, err := c.Get("SpinApp", "", "w"); return err }, "no cluster-wide access"},
		{"orphan propagation", func(c *Client) error { return c.Delete("SpinApp", "tenant-a", "w", "Orphan") }, "propagation policy"},
		{"delete kube-public", func(c *Client) error { return c.Delete("Namespace", "", "kube-public", "") }, "system namespaces"},
	}
	for _, tc := range cases {
		d := &fakeDoer{}
		c := newTestClient(t, d)
		err := tc.call(c)
		var pe *PolicyError
		if !errors.As(err, &pe) {
			t.Errorf("%s: want *PolicyError, got %T %v", tc.name, err, err)
			continue
		}
		if !IsPolicy(err) || IsNotFound(err) || IsUnavailable(err) {
			t.Errorf("%s: helpers disagree on %v", tc.name, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: message %q does not say %q", tc.name, err.Error(), tc.want)
		}
		if !strings.HasPrefix(err.Error(), "k8sproxy: refused to ") {
			t.Errorf("%s: message %q", tc.name, err.Error())
		}
		if len(d.reqs) != 0 {
			t.Errorf("%s: %d requests left, want none (first: %s %s)", tc.name, len(d.reqs), d.reqs[0].Method, d.reqs[0].Path)
		}
	}
}

// In an unmanaged namespace only the namespace GET leaves; never a write.
func TestUnmanagedNamespaceRefused(t *testing.T) {
	type call func(c *Client) error
	cases := []struct {
		name string
		call call
	}{
		{"apply Secret", func(c *Client) error { _, err := c.Apply(secretJSON("other", "db", true)); return err }},
		{"get SpinApp", func(c *Client) error { _, err := c.Get("SpinApp", "other", "web"); return err }},
		{"get Deployment", func(c *Client) error { _, err := c.Get("Deployment", "other", "web"); return err }},
		{"list Pods", func(c *Client) error { _, err := c.List("Pod", "other", ""); return err }},
		{"delete Secret", func(c *Client) error { return c.Delete("Secret", "other", "db", "Foreground") }},
		{"pod logs", func(c *Client) error { _, err := c.PodLogs("other", "p", 5, 0, ""); return err }},
		{"take over Namespace", func(c *Client) error {
			_, err := c.Apply([]byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"other","labels":{"app.kubernetes.io/managed-by":"spinport"}}}`))
			return err
		}},
		{"get Namespace", func(c *Client) error { _, err := c.Get("Namespace", "", "other"); return err }},
		{"delete Namespace", func(c *Client) error { return c.Delete("Namespace", "", "other", "Foreground") }},
	}
	for _, tc := range cases {
		d := &fakeDoer{}
		c := newTestClient(t, d)
		err := tc.call(c)
		if !IsPolicy(err) {
			t.Errorf("%s: want *PolicyError, got %v", tc.name, err)
			continue
		}
		if !strings.Contains(err.Error(), "not managed by spinport") || !strings.Contains(err.Error(), `"other"`) {
			t.Errorf("%s: message %q", tc.name, err)
		}
		if len(d.reqs) != 1 || d.reqs[0].Method != "GET" || d.reqs[0].Path != "/api/v1/namespaces/other" {
			t.Errorf("%s: requests %+v, want only GET /api/v1/namespaces/other", tc.name, d.reqs)
		}
	}
}

func TestMissingNamespace(t *testing.T) {
	d := &fakeDoer{}
	c := newTestClient(t, d)
	_, err := c.Apply(secretJSON("nope", "db", true))
	if !IsNotFound(err) {
		t.Errorf("apply into a missing namespace: want NotFound, got %v", err)
	}
	var ae *APIError
	if errors.As(err, &ae) && (ae.Kind != "Namespace" || ae.Name != "nope") {
		t.Errorf("error is about %s %q, want Namespace nope", ae.Kind, ae.Name)
	}
	if err := c.Delete("Secret", "nope", "db", ""); err != nil {
		t.Errorf("delete in a missing namespace: %v, want nil", err)
	}
	if err := c.Delete("Namespace", "", "nope", ""); err != nil {
		t.Errorf("delete of a missing namespace: %v, want nil", err)
	}
	if _, err := c.Get("Namespace", "", "nope"); !IsNotFound(err) {
		t.Errorf("get of a missing namespace: %v", err)
	}
	if len(d.reqs) != 1 {
		t.Errorf("%d requests, want 1 (cached 404)", len(d.reqs))
	}
}

func TestDelete(t *testing.T) {
	d := &fakeDoer{route: func(r recorded) (int, string) {
		if r.Method == "DELETE" && strings.HasSuffix(r.Path, "/gone") {
			return 404, notFound("spinapps.core.spinkube.dev", "gone")
		}
		if r.Method == "DELETE" {
			return 200, `{"kind":"Status","status":"Success"}`
		}
		return defaultRoute(r)
	}}
	c := newTestClient(t, d)
	if err := c.Delete("SpinApp", "tenant-a", "web", "Foreground"); err != nil {
		t.Errorf("Delete: %v", err)
	}
	if err := c.Delete("SpinApp", "tenant-a", "gone", ""); err != nil {
		t.Errorf("Delete of a missing object: %v, want nil", err)
	}
	if err := c.Delete("Namespace", "", "tenant-b", "Background"); err != nil {
		t.Errorf("Delete Namespace: %v", err)
	}
	var got []string
	for _, r := range d.reqs {
		got = append(got, r.Method+" "+r.Path+"?"+r.RawQuery)
	}
	want := []string{
		"GET /api/v1/namespaces/tenant-a?",
		"DELETE /apis/core.spinkube.dev/v1alpha1/namespaces/tenant-a/spinapps/web?propagationPolicy=Foreground",
		"DELETE /apis/core.spinkube.dev/v1alpha1/namespaces/tenant-a/spinapps/gone?propagationPolicy=Background",
		"GET /api/v1/namespaces/tenant-b?",
		"DELETE /api/v1/namespaces/tenant-b?propagationPolicy=Background",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestListAndLogs(t *testing.T) {
	d := &fakeDoer{route: func(r recorded) (int, string) {
		if strings.HasSuffix(r.Path, "/log") {
			return 200, "line1\nline2\n"
		}
		return defaultRoute(r)
	}}
	c := newTestClient(t, d)
	if _, err := c.List("Namespace", "", "tier=free"); err != nil {
		t.Errorf("List Namespace: %v", err)
	}
	if _, err := c.List("Namespace", "", ""); err != nil {
		t.Errorf("List Namespace: %v", err)
	}
	if _, err := c.List("Pod", "tenant-a", "core.spinkube.dev/app-name=web"); err != nil {
		t.Errorf("List Pod: %v", err)
	}
	if _, err := c.List("Pod", "tenant-a", ""); err != nil {
		t.Errorf("List Pod: %v", err)
	}
	logs, err := c.PodLogs("tenant-a", "web-abc", 100, 4096, "web")
	if err != nil || string(logs) != "line1\nline2\n" {
		t.Errorf("PodLogs = %q, %v", logs, err)
	}
	if _, err := c.PodLogs("tenant-a", "web-abc", 0, 0, ""); err != nil {
		t.Errorf("PodLogs: %v", err)
	}
	var got []string
	for _, r := range d.reqs {
		got = append(got, r.Method+" "+r.Path+"?"+r.RawQuery)
	}
	want := []string{
		"GET /api/v1/namespaces?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dspinport%2Ctier%3Dfree",
		"GET /api/v1/namespaces?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dspinport",
		"GET /api/v1/namespaces/tenant-a?",
		"GET /api/v1/namespaces/tenant-a/pods?labelSelector=core.spinkube.dev%2Fapp-name%3Dweb",
		"GET /api/v1/namespaces/tenant-a/pods?",
		"GET /api/v1/namespaces/tenant-a/pods/web-abc/log?container=web&limitBytes=4096&tailLines=100",
		"GET /api/v1/namespaces/tenant-a/pods/web-abc/log?",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Status objects as kube-apiserver 1.31 sends them.
func TestErrorMapping(t *testing.T) {
	cases := []struct {
		name          string
		status        int
		body          string
		reason        string
		message       string
		notFound      bool
		conflict      bool
		unavailable   bool
		kind, objName string
	}{
		{
			name: "not found", status: 404,
			body:   `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"spinapps.core.spinkube.dev \"web\" not found","reason":"NotFound","details":{"name":"web","group":"core.spinkube.dev","kind":"spinapps"},"code":404}`,
			reason: "NotFound", message: `spinapps.core.spinkube.dev "web" not found`, notFound: true, kind: "SpinApp", objName: "web",
		},
		{
			name: "apply conflict", status: 409,
			body:   `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Apply failed with 1 conflict: conflict with \"kubectl-edit\" using v1: .data.k","reason":"Conflict","details":{"causes":[{"reason":"FieldManagerConflict","message":"conflict with \"kubectl-edit\" using v1","field":".data.k"}]},"code":409}`,
			reason: "Conflict", message: `Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.k`, conflict: true, kind: "SpinApp", objName: "web",
		},
		{
			name: "already exists", status: 409,
			body:   `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"spinapps.core.spinkube.dev \"web\" already exists","reason":"AlreadyExists","details":{"name":"web","group":"core.spinkube.dev","kind":"spinapps"},"code":409}`,
			reason: "AlreadyExists", message: `spinapps.core.spinkube.dev "web" already exists`, conflict: true, kind: "SpinApp", objName: "web",
		},
		{
			name: "invalid", status: 422,
			body:   `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"SpinApp.core.spinkube.dev \"web\" is invalid: spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0","reason":"Invalid","details":{"name":"web","group":"core.spinkube.dev","kind":"SpinApp","causes":[{"reason":"FieldValueInvalid","message":"Invalid value: -1","field":"spec.replicas"}]},"code":422}`,
			reason: "Invalid", message: `SpinApp.core.spinkube.dev "web" is invalid: spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0`, kind: "SpinApp", objName: "web",
		},
		{
			name: "forbidden", status: 403,
			body:   `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"spinapps.core.spinkube.dev \"web\" is forbidden: User \"system:serviceaccount:spinport-system:spinport\" cannot patch resource \"spinapps\" in API group \"core.spinkube.dev\" in the namespace \"tenant-a\"","reason":"Forbidden","details":{"name":"web","group":"core.spinkube.dev","kind":"spinapps"},"code":403}`,
			reason: "Forbidden", message: `spinapps.core.spinkube.dev "web" is forbidden: User "system:serviceaccount:spinport-system:spinport" cannot patch resource "spinapps" in API group "core.spinkube.dev" in the namespace "tenant-a"`, kind: "SpinApp", objName: "web",
		},
		{
			name: "unauthorized", status: 401,
			body:   `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`,
			reason: "Unauthorized", message: "Unauthorized", kind: "SpinApp", objName: "web",
		},
		{
			name: "webhook unavailable", status: 500,
			body:   `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Internal error occurred: failed calling webhook \"mspinapp.kb.io\": failed to call webhook: Post \"https://spin-operator-webhook-service.spin-operator.svc:443/mutate-core-spinkube-dev-v1alpha1-spinapp?timeout=10s\": no endpoints available for service \"spin-operator-webhook-service\"","reason":"InternalError","details":{"causes":[{"message":"failed calling webhook"}]},"code":500}`,
			reason: "InternalError", message: `Internal error occurred: failed calling webhook "mspinapp.kb.io": failed to call webhook: Post "https://spin-operator-webhook-service.spin-operator.svc:443/mutate-core-spinkube-dev-v1alpha1-spinapp?timeout=10s": no endpoints available for service "spin-operator-webhook-service"`,
			kind: "SpinApp", objName: "web",
		},
		{
			name: "gateway HTML", status: 502, body: "<html><body>Bad Gateway</body></html>",
			reason: "BadGateway", message: "<html><body>Bad Gateway</body></html>", unavailable: true, kind: "SpinApp", objName: "web",
		},
		{
			name: "503 empty", status: 503, body: "",
			reason: "ServiceUnavailable", message: "", unavailable: true, kind: "SpinApp", objName: "web",
		},
	}
	for _, tc := range cases {
		d := &fakeDoer{route: func(r recorded) (int, string) {
			if r.Method == "PATCH" {
				return tc.status, tc.body
			}
			return defaultRoute(r)
		}}
		c := newTestClient(t, d)
		_, err := c.Apply([]byte(`{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinApp","metadata":{"name":"web","namespace":"tenant-a","labels":{"app.kubernetes.io/managed-by":"spinport"}}}`))
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Errorf("%s: want *APIError, got %T %v", tc.name, err, err)
			continue
		}
		if ae.Status != tc.status || ae.Reason != tc.reason || ae.Message != tc.message || ae.Kind != tc.kind || ae.Name != tc.objName {
			t.Errorf("%s: got %+v", tc.name, *ae)
		}
		if IsNotFound(err) != tc.notFound || IsConflict(err) != tc.conflict || IsUnavailable(err) != tc.unavailable || IsPolicy(err) {
			t.Errorf("%s: helpers: notFound=%v conflict=%v unavailable=%v policy=%v", tc.name,
				IsNotFound(err), IsConflict(err), IsUnavailable(err), IsPolicy(err))
		}
		if tc.message != "" && !strings.Contains(err.Error(), tc.message) {
			t.Errorf("%s: Error() %q lost the server's message", tc.name, err.Error())
		}
	}
}

func TestLongErrorBodyClipped(t *testing.T) {
	d := &fakeDoer{route: func(r recorded) (int, string) { return 500, strings.Repeat("é", 2000) }}
	c := newTestClient(t, d)
	_, err := c.List("Namespace", "", "")
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v", err)
		return
	}
	if len(ae.Message) > maxErrorBody+3 || !strings.HasSuffix(ae.Message, "...") {
		t.Errorf("message not clipped: %d bytes", len(ae.Message))
	}
}

func TestHelpersSeeWrappedErrors(t *testing.T) {
	nf := fmt.Errorf("loading app: %w", &APIError{Status: 404, Reason: "NotFound"})
	cf := fmt.Errorf("saving: %w", &APIError{Status: 409, Reason: "Conflict"})
	un := fmt.Errorf("x: %w", &UnavailableError{Method: "GET", Path: "/api", Cause: "connection refused"})
	po := fmt.Errorf("x: %w", &PolicyError{Op: "apply", Kind: "Pod", Reason: "no"})
	if !IsNotFound(nf) || IsNotFound(cf) || IsNotFound(un) || IsNotFound(nil) {
		t.Errorf("IsNotFound wrong")
	}
	if !IsConflict(cf) || IsConflict(nf) || IsConflict(nil) {
		t.Errorf("IsConflict wrong")
	}
	if !IsUnavailable(un) || IsUnavailable(nf) || IsUnavailable(nil) || IsUnavailable(po) {
		t.Errorf("IsUnavailable wrong")
	}
	if !IsPolicy(po) || IsPolicy(nf) || IsPolicy(nil) {
		t.Errorf("IsPolicy wrong")
	}
}

// The token must not show up in any error, even when the transport or the
// server puts it in its text, nor when a Client is printed.
func TestTokenNeverInErrors(t *testing.T) {
	d := &fakeDoer{err: fmt.Errorf("dial tcp: request with header Authorization: Bearer %s failed", testToken)}
	c := newTestClient(t, d)
	_, err := c.Get("SpinApp", "tenant-a", "web")
	var ue *UnavailableError
	if !errors.As(err, &ue) {
		t.Errorf("transport error: want *UnavailableError, got %T %v", err, err)
	} else if ue.Method != "GET" || ue.Path != "/api/v1/namespaces/tenant-a" {
		t.Errorf("UnavailableError %+v", *ue)
	}
	if err == nil || strings.Contains(err.Error(), testToken) {
		t.Errorf("transport error leaks the token: %v", err)
	}
	if !strings.Contains(fmt.Sprint(err), "[REDACTED]") {
		t.Errorf("transport error: %v", err)
	}

	d2 := &fakeDoer{route: func(r recorded) (int, string) {
		return 401, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"token ` + testToken + ` is expired","reason":"Unauthorized","code":401}`
	}}
	c2 := newTestClient(t, d2)
	_, err = c2.Get("SpinApp", "tenant-a", "web")
	if err == nil || strings.Contains(err.Error(), testToken) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), testToken) {
		t.Errorf("API error leaks the token: %v", err)
	}
	d3 := &fakeDoer{route: func(r recorded) (int, string) { return 400, "bad bearer " + testToken }}
	_, err = newTestClient(t, d3).List("Namespace", "", "")
	if err == nil || strings.Contains(err.Error(), testToken) {
		t.Errorf("non-Status error leaks the token: %v", err)
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s", c)} {
		if strings.Contains(s, testToken) {
			t.Errorf("printing a Client leaks the token: %s", s)
		}
	}
}

func TestNilResponseBody(t *testing.T) {
	c := newTestClient(t, &fakeDoer{})
	c.doer = doerFunc(func(*http.Request) (*http.Response, error) { return &http.Response{StatusCode: 204}, nil })
	out, err := c.List("Namespace", "", "")
	if err != nil || len(out) != 0 {
		t.Errorf("got %q, %v", out, err)
	}
}

type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func TestValidNames(t *testing.T) {
	good := []string{"a", "web", "web-1", "web.example.com", "0abc", strings.Repeat("a", 63)}
	bad := []string{"", "-a", "a-", "A", "a_b", "a/b", "..", ".", "a..b", ".a", "a.", "a b", "a%2Fb", strings.Repeat("a", 64)}
	for _, s := range good {
		if !validName(s) {
			t.Errorf("validName(%q) = false", s)
		}
	}
	for _, s := range bad {
		if validName(s) {
			t.Errorf("validName(%q) = true", s)
		}
	}
	if validLabel("a.b", 63) || !validLabel("tenant-a", 63) {
		t.Errorf("validLabel wrong")
	}
}

// Least privilege: the table grants exactly what spinport's code calls
// (spinkube's Deployer, cmd/spinport's health check, the namespace GET behind
// every namespaced operation) and nothing else. Widening it is a decision:
// change this list, kinds.go and rbac.yaml together.
var spinportCalls = map[string][]string{
	"Namespace":               {"get", "list", "apply", "delete"},
	"ResourceQuota":           {"apply"},
	"Secret":                  {"apply", "delete"},
	"Pod":                     {"list", "logs"},
	"Deployment":              {"get"},
	"Ingress":                 {"apply", "delete"},
	"Certificate":             {"get", "apply", "delete"},
	"SpinApp":                 {"get", "apply", "delete"},
	"SpinAppExecutor":         {"apply"},
	"HorizontalPodAutoscaler": {"apply", "delete"},
	"NetworkPolicy":           {"apply"},
	"ServiceAccount":          nil, // RequestToken of spinport's own only (TestRequestTokenOwnServiceAccountOnly)
}

func TestKindsGrantOnlyWhatSpinportCalls(t *testing.T) {
	opNames := map[op]string{opGet: "get", opList: "list", opApply: "apply", opDelete: "delete", opLogs: "logs"}
	if len(kinds) != len(spinportCalls) {
		t.Errorf("table has %d kinds, want %d", len(kinds), len(spinportCalls))
	}
	for _, k := range kinds {
		var got []string
		for _, o := range []op{opGet, opList, opApply, opDelete, opLogs} {
			if k.ops&o != 0 {
				got = append(got, opNames[o])
			}
		}
		if want, ok := spinportCalls[k.kind]; !ok || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: table grants %v, spinport calls %v", k.kind, got, want)
		}
	}

	// Through the Client: every kind (and a few that are not in the table)
	// times every operation. What is not granted is refused before any
	// request leaves; what is granted gets past the policy.
	call := func(c *Client, kind, o string) error {
		ns, name := "tenant-a", "x"
		if kind == "Namespace" {
			ns, name = "", "tenant-a"
		}
		switch o {
		case "get":
			_, err := c.Get(kind, ns, name)
			return err
		case "list":
			_, err := c.List(kind, ns, "")
			return err
		case "apply":
			av := "v1"
			if k, ok := lookupKind(kind); ok {
				av = k.apiVersion()
			}
			meta := `"name":"` + name + `","labels":{"app.kubernetes.io/managed-by":"spinport"}`
			if ns != "" {
				meta += `,"namespace":"` + ns + `"`
			}
			_, err := c.Apply([]byte(`{"apiVersion":"` + av + `","kind":"` + kind + `","metadata":{` + meta + `}}`))
			return err
		case "delete":
			return c.Delete(kind, ns, name, "")
		case "logs":
			if kind != "Pod" {
				return nil // PodLogs reads pods only
			}
			_, err := c.PodLogs(ns, name, 1, 0, "")
			return err
		}
		panic(o)
	}
	// The one Secret spinport reads back, by its name only.
	if _, err := newTestClient(t, &fakeDoer{}).Get("Secret", "tenant-a", TenantRedisSecret); IsPolicy(err) {
		t.Errorf("get Secret %s: %v, want it allowed", TenantRedisSecret, err)
	}
	all := []string{"Namespace", "ResourceQuota", "Secret", "Pod", "Deployment", "Ingress", "Certificate", "SpinApp",
		"SpinAppExecutor", "HorizontalPodAutoscaler", "NetworkPolicy", "Event", "ConfigMap", "ServiceAccount", "ReplicaSet"}
	for _, kind := range all {
		granted := map[string]bool{}
		for _, o := range spinportCalls[kind] {
			granted[o] = true
		}
		for _, o := range []string{"get", "list", "apply", "delete", "logs"} {
			if o == "logs" && kind != "Pod" {
				continue
			}
			d := &fakeDoer{}
			err := call(newTestClient(t, d), kind, o)
			if granted[o] {
				if err != nil {
					t.Errorf("%s %s: %v, want it allowed", o, kind, err)
				}
				continue
			}
			if !IsPolicy(err) || len(d.reqs) != 0 {
				t.Errorf("%s %s: %v after %d requests, want a refusal before any request", o, kind, err, len(d.reqs))
				continue
			}
			if msg := err.Error(); !strings.Contains(msg, "spinport may only") && !strings.Contains(msg, "is not one spinport may touch") {
				t.Errorf("%s %s: refused for another reason: %v", o, kind, err)
			}
		}
	}
}

// The TokenRequest is the one call outside managed namespaces: spinport's
// own service account in its own namespace, nothing else, and the token
// comes back from status.token.
func TestRequestTokenOwnServiceAccountOnly(t *testing.T) {
	d := &fakeDoer{route: func(r recorded) (int, string) {
		return 201, `{"kind":"TokenRequest","status":{"token":"eyJ.sa.token","expirationTimestamp":"2026-12-02T10:00:00Z"}}`
	}}
	c := newTestClient(t, d)
	c.SelfNamespace = "spinport-prod"
	tok, err := c.RequestToken("api://AzureADTokenExchange", 3600)
	if err != nil || tok != "eyJ.sa.token" {
		t.Fatalf("RequestToken = %q, %v", tok, err)
	}
	if len(d.reqs) != 1 {
		t.Fatalf("%d requests, want 1 (no namespace check: spinport's own namespace is not a tenant's)", len(d.reqs))
	}
	r := d.reqs[0]
	if r.Method != "POST" || r.Path != "/api/v1/namespaces/spinport-prod/serviceaccounts/spinport/token" ||
		!strings.Contains(string(r.Body), `"audiences":["api://AzureADTokenExchange"]`) || !strings.Contains(string(r.Body), `"expirationSeconds":3600`) {
		t.Errorf("request %s %s %s", r.Method, r.Path, r.Body)
	}
	for _, bad := range []struct {
		aud string
		exp int64
	}{{"", 3600}, {`a"b`, 3600}, {"api://x", 60}} {
		if _, err := c.RequestToken(bad.aud, bad.exp); !IsPolicy(err) {
			t.Errorf("RequestToken(%q, %d): %v, want a refusal", bad.aud, bad.exp, err)
		}
	}
	if len(d.reqs) != 1 {
		t.Errorf("refused calls sent requests")
	}
	// Another service account's token is not reachable through the Client.
	if _, err := c.check(opToken, "ServiceAccount", "kube-system", "default", true); !IsPolicy(err) {
		t.Errorf("token of kube-system/default: %v", err)
	}
}

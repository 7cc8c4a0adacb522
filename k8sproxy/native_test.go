//go:build !tinygo

package k8sproxy

// Tests over real net/http (httptest servers) and files: native Go only.

import (
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
)

// fakeAPIServer is a tiny stand-in for kube-apiserver: it knows managed
// namespace tenant-a, stores applied SpinApps and answers like the real one.
type fakeAPIServer struct {
	mu       sync.Mutex
	reqs     []recorded
	spinapps map[string]string
}

func (s *fakeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, recorded{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		w.WriteHeader(401)
		io.WriteString(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`)
		return
	}
	const spinapps = "/apis/core.spinkube.dev/v1alpha1/namespaces/tenant-a/spinapps/"
	switch {
	case r.Method == "GET" && r.URL.Path == "/api/v1/namespaces/tenant-a":
		io.WriteString(w, nsJSON("tenant-a", true))
	case r.Method == "PATCH" && strings.HasPrefix(r.URL.Path, spinapps):
		if r.Header.Get("Content-Type") != ApplyContentType || r.URL.Query().Get("fieldManager") != "spinport" {
			w.WriteHeader(415)
			io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"bad apply","reason":"UnsupportedMediaType","code":415}`)
			return
		}
		s.spinapps[strings.TrimPrefix(r.URL.Path, spinapps)] = string(body)
		w.WriteHeader(201)
		w.Write(body)
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, spinapps):
		name := strings.TrimPrefix(r.URL.Path, spinapps)
		if b, ok := s.spinapps[name]; ok {
			io.WriteString(w, b)
			return
		}
		w.WriteHeader(404)
		io.WriteString(w, notFound("spinapps.core.spinkube.dev", name))
	default:
		w.WriteHeader(404)
		io.WriteString(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}`)
	}
}

func TestOverHTTPTestServer(t *testing.T) {
	fake := &fakeAPIServer{spinapps: map[string]string{}}
	srv := httptest.NewTLSServer(fake)
	defer srv.Close()
	c, err := New(srv.URL, testToken, srv.Client())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	obj := []byte(`{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinApp","metadata":{"name":"web","namespace":"tenant-a",` +
		`"labels":{"app.kubernetes.io/managed-by":"spinport"}},"spec":{"image":"ghcr.io/x/web:1","replicas":1}}`)
	out, err := c.Apply(obj)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if string(out) != string(obj) {
		t.Errorf("Apply answered %s", out)
	}
	got, err := c.Get("SpinApp", "tenant-a", "web")
	if err != nil || string(got) != string(obj) {
		t.Errorf("Get = %s, %v", got, err)
	}
	_, err = c.Get("SpinApp", "tenant-a", "nope")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Reason != "NotFound" || ae.Message != `spinapps.core.spinkube.dev "nope" not found` || ae.Kind != "SpinApp" || ae.Name != "nope" {
		t.Errorf("Get missing: %#v", err)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.reqs) != 4 {
		t.Fatalf("%d requests, want 4", len(fake.reqs))
	}
	p := fake.reqs[1]
	if p.Method != "PATCH" || p.RawQuery != "fieldManager=spinport&force=true" || p.Header.Get("Content-Type") != ApplyContentType ||
		string(p.Body) != string(obj) || p.Header.Get("Authorization") != "Bearer "+testToken {
		t.Errorf("apply request over the wire: %+v", p)
	}
}

func TestWrongTokenIsUnauthorized(t *testing.T) {
	srv := httptest.NewServer(&fakeAPIServer{spinapps: map[string]string{}})
	defer srv.Close()
	c, _ := New(srv.URL, "wrong-"+testToken, http.DefaultClient)
	_, err := c.Get("SpinApp", "tenant-a", "web")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Reason != "Unauthorized" {
		t.Errorf("got %v", err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error leaks the token: %v", err)
	}
}

func TestTransportErrorsAreUnavailable(t *testing.T) {
	// A server that is gone.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, _ := New(url, testToken, &http.Client{})
	_, err := c.Get("SpinApp", "tenant-a", "web")
	var ue *UnavailableError
	if !errors.As(err, &ue) || !IsUnavailable(err) {
		t.Errorf("closed server: want *UnavailableError, got %T %v", err, err)
	}
	if err != nil && strings.Contains(err.Error(), testToken) {
		t.Errorf("error leaks the token: %v", err)
	}

	// A TLS server whose CA the client does not trust.
	tlsSrv := httptest.NewUnstartedServer(&fakeAPIServer{spinapps: map[string]string{}})
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failure is the point
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	c2, _ := New(tlsSrv.URL, testToken, &http.Client{})
	_, err = c2.List("Namespace", "", "")
	if !IsUnavailable(err) {
		t.Errorf("untrusted CA: want unavailable, got %v", err)
	}

	// A server that hangs up mid-answer.
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		io.WriteString(w, `{"kind":`)
		if hj, ok := w.(http.Hijacker); ok {
			conn, _, _ := hj.Hijack()
			conn.Close()
		}
	}))
	defer cut.Close()
	c3, _ := New(cut.URL, testToken, &http.Client{})
	_, err = c3.List("Namespace", "", "")
	if !IsUnavailable(err) {
		t.Errorf("cut answer: want unavailable, got %v", err)
	}
}

// rbacRule is one ClusterRole rule.
type rbacRule struct {
	Group, Resource string
	Names           []string // resourceNames; nil: any name
	Verbs           []string
}

// rbacRuleList derives the ClusterRole rules from the kinds table: what
// rbac.yaml must say (TestRBACYAMLMatchesKinds) and what the integration test
// binds to a fresh service account to prove it is enough.
func rbacRuleList() []rbacRule {
	var rules []rbacRule
	for _, k := range kinds {
		var verbs []string
		if k.ops&opGet != 0 {
			verbs = append(verbs, "get")
		}
		if k.ops&opList != 0 {
			verbs = append(verbs, "list")
		}
		if k.ops&opApply != 0 {
			verbs = append(verbs, "create", "patch") // server-side apply may create
		}
		if k.ops&opDelete != 0 {
			verbs = append(verbs, "delete")
		}
		if verbs != nil {
			rules = append(rules, rbacRule{k.group, k.resource, nil, verbs})
		}
		if k.ops&opLogs != 0 {
			rules = append(rules, rbacRule{k.group, k.resource + "/log", nil, []string{"get"}})
		}
		if names := k.named[opGet]; names != nil {
			rules = append(rules, rbacRule{k.group, k.resource, names, []string{"get"}})
		}
		if names := k.named[opToken]; names != nil {
			rules = append(rules, rbacRule{k.group, k.resource + "/token", names, []string{"create"}})
		}
	}
	return rules
}

// rbacRules renders rbacRuleList in the format of rbac.yaml.
func rbacRules() string {
	var b strings.Builder
	b.WriteString("rules:\n")
	for _, r := range rbacRuleList() {
		b.WriteString("  - apiGroups: [\"" + r.Group + "\"]\n")
		b.WriteString("    resources: [\"" + r.Resource + "\"]\n")
		if r.Names != nil {
			b.WriteString("    resourceNames: [\"" + strings.Join(r.Names, "\", \"") + "\"]\n")
		}
		b.WriteString("    verbs: [\"" + strings.Join(r.Verbs, "\", \"") + "\"]\n")
	}
	return b.String()
}

func TestRBACYAMLMatchesKinds(t *testing.T) {
	b, err := os.ReadFile("rbac.yaml")
	if err != nil {
		t.Fatalf("%v", err)
	}
	want := rbacRules()
	if !strings.Contains(string(b), want+"---\n") {
		t.Errorf("rbac.yaml's ClusterRole rules differ from the kinds table; they should read:\n%s", want)
	}
	// Every namespaced operation checks its namespace with a GET.
	if !strings.Contains(want, "resources: [\"namespaces\"]\n    verbs: [\"get\"") {
		t.Errorf("namespaces get missing")
	}
}

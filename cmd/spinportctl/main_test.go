package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	inv, err := parseArgs([]string{"deploy", "--token=t", "acme/web", "img:v1", "--wait", "90s", "-o", "json"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(inv.args, " ") != "deploy acme/web img:v1" || inv.token != "t" || inv.wait != 90*time.Second || inv.output != "json" {
		t.Errorf("parsed %+v", inv)
	}
	if inv, err = parseArgs([]string{"deploy", "a/b", "i", "--wait", "120"}); err != nil || inv.wait != 120*time.Second {
		t.Errorf("--wait 120: %+v %v", inv, err)
	}
	if inv, err = parseArgs([]string{"variables", "set", "a/b", "N", "--", "-1", "--secret"}); err != nil ||
		strings.Join(inv.args, " ") != "variables set a/b N -1 --secret" || inv.secret {
		t.Errorf("after --: %+v %v", inv, err)
	}
	for _, bad := range [][]string{{}, {"apps", "--bogus"}, {"deploy", "--wait"}, {"deploy", "--wait", "soon"},
		{"logs", "a/b", "--tail", "0"}, {"apps", "x", "--output", "yaml"}} {
		if _, err := parseArgs(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	for _, s := range []string{"acme", "/web", "acme/", "a/b/c"} {
		if _, _, err := splitApp(s); err == nil {
			t.Errorf("splitApp(%q) passed", s)
		}
	}
}

// fakeAPI is a stand-in for spinport: handlers by "METHOD /path".
type fakeAPI struct {
	*httptest.Server
	reqs []string
}

func newFakeAPI(t *testing.T, routes map[string]http.HandlerFunc) *fakeAPI {
	f := &fakeAPI{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.reqs = append(f.reqs, r.Method+" "+r.URL.RequestURI()+" "+strings.TrimSpace(string(body)))
		if r.Header.Get("Authorization") != "Bearer spt_good" {
			problemJSON(w, 401, "Unauthorized", "the token is not valid", "")
			return
		}
		h, ok := routes[r.Method+" "+r.URL.Path]
		if !ok {
			problemJSON(w, 404, "Not found", "no such resource", "")
			return
		}
		h(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func problemJSON(w http.ResponseWriter, status int, title, detail, field string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": title, "status": status, "detail": detail, "field": field})
}

func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func runCLI(t *testing.T, f *fakeAPI, args ...string) (string, string, int) {
	t.Helper()
	env := map[string]string{"SPINPORT_URL": f.URL, "SPINPORT_TOKEN": "spt_good", "XDG_CONFIG_HOME": t.TempDir()}
	var o, e bytes.Buffer
	code := run(args, func(k string) string { return env[k] }, &o, &e)
	return o.String(), e.String(), code
}

func TestAppsPagesAndFormats(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"GET /api/v1/tenants/acme/apps": func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("cursor") == "" {
				reply(200, `{"items":[{"name":"web","replicas":2,"domains":["www.acme.com"],"defaultHost":"web-acme.apps.example"}],"nextCursor":"p2"}`)(w, r)
				return
			}
			reply(200, `{"items":[{"name":"api","autoscaling":{"minReplicas":1,"maxReplicas":5},"domains":[],"defaultHost":"api-acme.apps.example"}],"nextCursor":null}`)(w, r)
		},
	})
	out, errOut, code := runCLI(t, f, "apps", "acme")
	if code != 0 || !strings.Contains(out, "web   2") || !strings.Contains(out, "web-acme.apps.example, www.acme.com") ||
		!strings.Contains(out, "1-5 (auto)") {
		t.Errorf("apps: %d\n%s\n%s", code, out, errOut)
	}
	out, _, code = runCLI(t, f, "apps", "acme", "--output", "json")
	var l struct{ Items []map[string]any }
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil || len(l.Items) != 2 {
		t.Errorf("apps --output json: %d %s", code, out)
	}
}

func TestProblemIsPrinted(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"PUT /api/v1/tenants/acme/apps/web/variables/BAD": func(w http.ResponseWriter, r *http.Request) {
			problemJSON(w, 400, "Invalid request", "a variable name is lowercase letters, digits and _", "name")
		},
	})
	_, errOut, code := runCLI(t, f, "variables", "set", "acme/web", "BAD", "x")
	if code != 1 || errOut != "spinportctl: Invalid request: a variable name is lowercase letters, digits and _ (field: name)\n" {
		t.Errorf("%d %q", code, errOut)
	}
	if f.reqs[0] != `PUT /api/v1/tenants/acme/apps/web/variables/BAD {"secret":false,"value":"x"}` {
		t.Errorf("request %q", f.reqs[0])
	}
	env := map[string]string{"SPINPORT_URL": f.URL, "SPINPORT_TOKEN": "spt_bad", "XDG_CONFIG_HOME": t.TempDir()}
	var o, e bytes.Buffer
	if code := run([]string{"apps", "acme"}, func(k string) string { return env[k] }, &o, &e); code != 1 ||
		e.String() != "spinportctl: Unauthorized: the token is not valid\n" {
		t.Errorf("bad token: %d %q", code, e.String())
	}
}

const (
	revPending = `{"number":3,"image":"ghcr.io/acme/web:v3","cause":"deploy","source":"api","actor":"token:ci","createdAt":"2025-01-01T00:00:00Z","state":"applied","variables":[],"domains":[]}`
	// The shape api/status.go writes: deployment, certificate and urls
	// beside spinApp (api/status_test.go pins it).
	stApplied = `{"app":"web","ready":false,"revision":{"number":3,"state":"applied"},"cluster":{"spinApp":{"revision":3,"image":"ghcr.io/acme/web:v3","replicas":2,"readyReplicas":1,"conditions":[]},"deployment":{"rollout":"progressing","updatedReplicas":1,"availableReplicas":1},"urls":["https://web-acme.apps.example"]}}`
	stReady   = `{"app":"web","ready":true,"revision":{"number":3,"state":"ready"},"cluster":{"spinApp":{"revision":3,"image":"ghcr.io/acme/web:v3","replicas":2,"readyReplicas":2,"conditions":[]},"urls":["https://web-acme.apps.example","https://www.acme.com"]}}`
	stFailed  = `{"app":"web","ready":false,"revision":{"number":3,"state":"failed","reason":"ImagePullBackOff: ghcr.io/acme/web:v3 not found"},"cluster":{"spinApp":null}}`
)

func deployAPI(t *testing.T, statuses ...string) *fakeAPI {
	pollInterval = time.Millisecond
	t.Cleanup(func() { pollInterval = 2 * time.Second })
	n := 0
	return newFakeAPI(t, map[string]http.HandlerFunc{
		"POST /api/v1/tenants/acme/apps/web/deployments": reply(201, revPending),
		"GET /api/v1/tenants/acme/apps/web/status": func(w http.ResponseWriter, r *http.Request) {
			s := statuses[len(statuses)-1]
			if n < len(statuses) {
				s = statuses[n]
			}
			n++
			reply(200, s)(w, r)
		},
	})
}

func TestDeployWaitReady(t *testing.T) {
	f := deployAPI(t, stApplied, stReady)
	out, errOut, code := runCLI(t, f, "deploy", "acme/web", "ghcr.io/acme/web:v3", "--wait", "10s")
	if code != 0 || out != "revision 3 of acme/web is ready\nhttps://web-acme.apps.example\nhttps://www.acme.com\n" {
		t.Errorf("%d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "revision 3: applied, 1/2 replicas ready") || !strings.Contains(errOut, "revision 3: ready, 2/2 replicas ready") {
		t.Errorf("progress:\n%s", errOut)
	}
	if f.reqs[0] != `POST /api/v1/tenants/acme/apps/web/deployments {"image":"ghcr.io/acme/web:v3"}` {
		t.Errorf("request %q", f.reqs[0])
	}
}

func TestDeployWaitFailed(t *testing.T) {
	f := deployAPI(t, stApplied, stFailed)
	out, errOut, code := runCLI(t, f, "deploy", "acme/web", "ghcr.io/acme/web:v3", "--wait", "10s")
	if code != 1 || out != "" || !strings.HasSuffix(errOut, "spinportctl: revision 3 failed: ImagePullBackOff: ghcr.io/acme/web:v3 not found\n") {
		t.Errorf("%d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestDeployWaitTimesOut(t *testing.T) {
	f := deployAPI(t, stApplied)
	start := time.Now()
	_, errOut, code := runCLI(t, f, "deploy", "acme/web", "ghcr.io/acme/web:v3", "--wait", "50ms")
	if code != 1 || !strings.Contains(errOut, "timed out after 50ms: revision 3 is applied") || time.Since(start) > 5*time.Second {
		t.Errorf("%d %s", code, errOut)
	}
}

func TestDeployNoWaitJSON(t *testing.T) {
	f := deployAPI(t, stReady)
	out, _, code := runCLI(t, f, "deploy", "acme/web", "ghcr.io/acme/web:v3", "--output", "json")
	if code != 0 || strings.TrimSpace(out) != revPending || len(f.reqs) != 1 {
		t.Errorf("%d %s %q", code, out, f.reqs)
	}
}

func TestStatusText(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{"GET /api/v1/tenants/acme/apps/web/status": reply(200, stReady)})
	out, _, code := runCLI(t, f, "status", "acme/web")
	for _, want := range []string{"ready:", "true", "3 (ready)", "2/2 ready", "https://www.acme.com"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("status lacks %q: %d\n%s", want, code, out)
		}
	}
}

func TestRollbackLogsUnset(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"POST /api/v1/tenants/acme/apps/web/rollback":             reply(201, `{"number":4,"image":"img:v1","state":"applied","rollbackOf":1}`),
		"GET /api/v1/tenants/acme/apps/web/logs":                  reply(200, `{"pods":[{"name":"web-1","phase":"Running","log":"hello\n"}]}`),
		"DELETE /api/v1/tenants/acme/apps/web/variables/greeting": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) },
	})
	if out, _, code := runCLI(t, f, "rollback", "acme/web", "1"); code != 0 || !strings.Contains(out, "revision 4 applied (rollback to revision 1)") {
		t.Errorf("rollback: %d %s", code, out)
	}
	if out, _, code := runCLI(t, f, "logs", "acme/web", "--tail", "5"); code != 0 || out != "hello\n" {
		t.Errorf("logs: %d %q", code, out)
	}
	if out, _, code := runCLI(t, f, "variables", "unset", "acme/web", "greeting"); code != 0 || !strings.Contains(out, "unset variable greeting") {
		t.Errorf("unset: %d %q", code, out)
	}
	want := []string{`POST /api/v1/tenants/acme/apps/web/rollback {"revision":1}`, "GET /api/v1/tenants/acme/apps/web/logs?tail=5 ",
		"DELETE /api/v1/tenants/acme/apps/web/variables/greeting "}
	if strings.Join(f.reqs, "|") != strings.Join(want, "|") {
		t.Errorf("requests %q", f.reqs)
	}
	if _, errOut, code := runCLI(t, f, "logs", "acme/web", "--secret"); code != 2 || !strings.Contains(errOut, "does not take --secret") {
		t.Errorf("logs --secret: %d %s", code, errOut)
	}
}

func TestLoginSavesConfig(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"GET /api/v1/me":                reply(200, `{"id":"token:ci"}`),
		"GET /api/v1/tenants/acme/apps": reply(200, `{"items":[],"nextCursor":null}`),
	})
	dir := t.TempDir()
	env := map[string]string{"XDG_CONFIG_HOME": dir}
	getenv := func(k string) string { return env[k] }
	var o, e bytes.Buffer
	if code := run([]string{"login", "--url", f.URL + "/", "--token", "spt_bad"}, getenv, &o, &e); code != 1 {
		t.Errorf("login with a bad token: %d %s", code, e.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "spinport", "config.json")); err == nil {
		t.Error("a refused token was saved")
	}
	if code := run([]string{"login", "--url", f.URL + "/", "--token", "spt_good"}, getenv, &o, &e); code != 0 {
		t.Fatalf("login: %d %s", code, e.String())
	}
	p := filepath.Join(dir, "spinport", "config.json")
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config: %v %v", fi, err)
	}
	b, _ := os.ReadFile(p)
	var c config
	if json.Unmarshal(b, &c) != nil || c.URL != f.URL || c.Token != "spt_good" {
		t.Errorf("config %s", b)
	}
	o.Reset()
	if code := run([]string{"apps", "acme"}, getenv, &o, &e); code != 0 || !strings.Contains(o.String(), "no apps in acme") {
		t.Errorf("apps with the saved login: %d %s %s", code, o.String(), e.String())
	}
	// The environment beats the saved login.
	env["SPINPORT_TOKEN"] = "spt_bad"
	if code := run([]string{"apps", "acme"}, getenv, &o, &e); code != 1 {
		t.Errorf("SPINPORT_TOKEN did not override the login: %d", code)
	}
}

// logs --follow prints each new line once, although every poll answers
// the last lines again.
func TestLogsFollowPrintsNewLinesOnce(t *testing.T) {
	answers := []string{"a\nb\n", "b\nc\n", "c\nd\n"}
	calls := 0
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"GET /api/v1/tenants/acme/apps/web/logs": func(w http.ResponseWriter, r *http.Request) {
			log := answers[calls%len(answers)]
			calls++
			b, _ := json.Marshal(map[string]any{"pods": []map[string]any{{"name": "web-1", "phase": "Running", "log": log}}})
			reply(200, string(b))(w, r)
		},
	})
	inv, err := parseArgs([]string{"logs", "acme/web", "--follow"})
	if err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	env := map[string]string{"SPINPORT_URL": f.URL, "SPINPORT_TOKEN": "spt_good", "XDG_CONFIG_HOME": t.TempDir()}
	c := &cli{inv: inv, getenv: func(k string) string { return env[k] }, stdout: &o, stderr: &e, sleep: func(time.Duration) {}, followRounds: 3}
	if err := c.dispatch(); err != nil {
		t.Fatal(err)
	}
	if want := "web-1: a\nweb-1: b\nweb-1: c\nweb-1: d\n"; o.String() != want {
		t.Errorf("followed:\n%s\nwant:\n%s", o.String(), want)
	}
}

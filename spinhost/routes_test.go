package spinhost

import (
	"testing"
)

func router(t *testing.T, routes ...string) *Router {
	t.Helper()
	var trs []HTTPTrigger
	for _, r := range routes {
		trs = append(trs, HTTPTrigger{Route: r, Component: r})
	}
	rt, err := NewRouter(trs)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func TestRouterMatching(t *testing.T) {
	cases := []struct {
		routes   []string
		path     string
		want     string // component (= raw route); "" for no match
		pathInfo string
	}{
		{[]string{"/..."}, "/", "/...", "/"},
		{[]string{"/..."}, "/foo/bar", "/...", "/foo/bar"},
		{[]string{"/..."}, "/foo/bar/", "/...", "/foo/bar/"},
		{[]string{"/test/..."}, "/test", "/test/...", ""},
		{[]string{"/test/..."}, "/test/", "/test/...", "/"},
		{[]string{"/test/..."}, "/test/hello", "/test/...", "/hello"},
		{[]string{"/test/..."}, "/test/hello/", "/test/...", "/hello/"},
		{[]string{"/test/..."}, "/testing", "", ""},
		{[]string{"/foo", "/foo/bar"}, "/foo", "/foo", ""},
		{[]string{"/foo", "/foo/bar"}, "/foo/bar", "/foo/bar", ""},
		{[]string{"/foo"}, "/foo/", "/foo", ""},
		{[]string{"/foo"}, "/foo/x", "", ""},
		{[]string{"/one", "/..."}, "/one", "/one", ""},
		{[]string{"/...", "/one"}, "/one", "/one", ""},
		{[]string{"/one/...", "/one/two/...", "/one/two/three/..."}, "/one/two/three/four", "/one/two/three/...", "/four"},
		{[]string{"/one/two/three/...", "/one/two/...", "/one/..."}, "/one/two/three/four", "/one/two/three/...", "/four"},
		{[]string{"/api/..."}, "/api/v1%2Fx", "/api/...", "/v1%2Fx"},
		{[]string{"/"}, "/", "/", ""},
		{[]string{"/static/*"}, "/static/a.css", "/static/*", "/a.css"},
	}
	for _, tc := range cases {
		m, ok := router(t, tc.routes...).Match(tc.path)
		got := ""
		if ok {
			got = m.Route.Component
		}
		if got != tc.want {
			t.Errorf("routes %v path %q: matched %q, want %q", tc.routes, tc.path, got, tc.want)
			continue
		}
		if ok && m.PathInfo != tc.pathInfo {
			t.Errorf("routes %v path %q: path info %q, want %q", tc.routes, tc.path, m.PathInfo, tc.pathInfo)
		}
	}
}

func TestRouterDuplicateLastWins(t *testing.T) {
	r, err := NewRouter([]HTTPTrigger{
		{Route: "/foo", Component: "first"},
		{Route: "/foo", Component: "second"},
		{Component: "private", Private: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Routes()) != 1 {
		t.Fatalf("routes = %d, want 1", len(r.Routes()))
	}
	if m, _ := r.Match("/foo"); m.Route.Component != "second" {
		t.Errorf("matched %q", m.Route.Component)
	}
}

func TestRouterNamedWildcards(t *testing.T) {
	m, ok := router(t, "/users/:user_id/...").Match("/users/42/posts")
	if !ok {
		t.Fatal("no match")
	}
	if m.Named["user_id"] != "42" || m.PathInfo != "/posts" {
		t.Errorf("named = %v, path info %q", m.Named, m.PathInfo)
	}
	hdrs := headerMap(SpinRequestHeaders(m, "http://h/users/42/posts", "127.0.0.1:1"))
	if hdrs["spin-path-match-user-id"] != "42" {
		t.Errorf("headers = %v", hdrs)
	}
	if hdrs["spin-component-route"] != "/users/:user_id" {
		t.Errorf("component route = %q", hdrs["spin-component-route"])
	}
}

func headerMap(h [][2]string) map[string]string {
	out := map[string]string{}
	for _, kv := range h {
		out[kv[0]] = kv[1]
	}
	return out
}

// Expected values from Spin's own header tests (trigger-http headers.rs)
// and from a real spin up: for route "/..." the component route is "" and
// the raw route is "/...".
func TestSpinRequestHeaders(t *testing.T) {
	cases := []struct {
		route, path, fullURL string
		want                 map[string]string
	}{
		{"/foo/...", "/foo/bar", "https://fermyon.dev/foo/bar?key1=value1&key2=value2", map[string]string{
			"spin-full-url":            "https://fermyon.dev/foo/bar?key1=value1&key2=value2",
			"spin-path-info":           "/bar",
			"spin-matched-route":       "/foo/...",
			"spin-base-path":           "/",
			"spin-raw-component-route": "/foo/...",
			"spin-component-route":     "/foo",
			"spin-client-addr":         "127.0.0.1:8777",
		}},
		{"/...", "/env/api", "http://127.0.0.1:8080/env/api", map[string]string{
			"spin-path-info":           "/env/api",
			"spin-matched-route":       "/...",
			"spin-raw-component-route": "/...",
			"spin-component-route":     "",
			"spin-base-path":           "/",
		}},
		{"/hello", "/hello", "http://h/hello", map[string]string{
			"spin-path-info":           "",
			"spin-matched-route":       "/hello",
			"spin-raw-component-route": "/hello",
			"spin-component-route":     "/hello",
		}},
	}
	for _, tc := range cases {
		m, ok := router(t, tc.route).Match(tc.path)
		if !ok {
			t.Fatalf("%s did not match %s", tc.route, tc.path)
		}
		got := headerMap(SpinRequestHeaders(m, tc.fullURL, "127.0.0.1:8777"))
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("route %s path %s: %s = %q, want %q", tc.route, tc.path, k, got[k], v)
			}
		}
	}
}

func TestRouteDisplay(t *testing.T) {
	for route, want := range map[string]string{"/...": " (wildcard)", "/api/...": "/api (wildcard)", "/hello": "/hello", "/": ""} {
		r := router(t, route)
		if got := r.Routes()[0].Display(); got != want {
			t.Errorf("%s displays %q, want %q", route, got, want)
		}
	}
}

package registry

import (
	"strings"
	"testing"
)

// Pure tests: they also run compiled by TinyGo (make test-tinygo). TinyGo's
// t.Fatal does not stop a test, so every Fatal is followed by return.

const dgst = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseReference(t *testing.T) {
	for _, c := range []struct {
		in                        string
		registry, repo, tag, dgst string
		canon, api                string
	}{
		{"ghcr.io/acme/web:v1", "ghcr.io", "acme/web", "v1", "", "ghcr.io/acme/web:v1", "ghcr.io"},
		{"ghcr.io/acme/web", "ghcr.io", "acme/web", "latest", "", "ghcr.io/acme/web:latest", "ghcr.io"},
		{"127.0.0.1:5000/a/b/c:1.0-rc_1", "127.0.0.1:5000", "a/b/c", "1.0-rc_1", "", "127.0.0.1:5000/a/b/c:1.0-rc_1", "127.0.0.1:5000"},
		{"localhost:5000/web@" + dgst, "localhost:5000", "web", "", dgst, "localhost:5000/web@" + dgst, "localhost:5000"},
		{"ghcr.io/acme/web:v1@" + dgst, "ghcr.io", "acme/web", "v1", dgst, "ghcr.io/acme/web:v1@" + dgst, "ghcr.io"},
		{"docker.io/nginx", "docker.io", "library/nginx", "latest", "", "docker.io/library/nginx:latest", "registry-1.docker.io"},
		{"myacr.azurecr.io/team-a/app__x.y--z:t", "myacr.azurecr.io", "team-a/app__x.y--z", "t", "", "myacr.azurecr.io/team-a/app__x.y--z:t", "myacr.azurecr.io"},
		{"[::1]:5000/web:v1", "[::1]:5000", "web", "v1", "", "[::1]:5000/web:v1", "[::1]:5000"},
	} {
		r, err := ParseReference(c.in)
		if err != nil {
			t.Errorf("ParseReference(%q): %v", c.in, err)
			continue
		}
		if r.Registry != c.registry || r.Repository != c.repo || r.Tag != c.tag || r.Digest != c.dgst {
			t.Errorf("ParseReference(%q) = %+v", c.in, r)
		}
		if r.String() != c.canon || r.apiHost() != c.api {
			t.Errorf("ParseReference(%q): String %q apiHost %q", c.in, r.String(), r.apiHost())
		}
	}
}

func TestParseReferenceRefusals(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "empty"},
		{"acme/web:v1", "is not a host name"},
		{"web", "names no registry"},
		{"https://ghcr.io/acme/web", "drop the scheme"},
		{"ghcr.io/Acme/web", "lowercase"},
		{"ghcr.io/acme//web", "empty component"},
		{"ghcr.io/acme/web:", "tag"},
		{"ghcr.io/acme/web:-x", "tag"},
		{"ghcr.io/acme/web@sha256:abc", "64 hex"},
		{"ghcr.io/acme/web@sha512:" + strings.Repeat("a", 128), "not supported"},
		{"ghcr.io/acme/web@sha256:" + strings.Repeat("A", 64), "lowercase hex"},
		{"ghcr.io/acme/we..b", "separator"},
		{"ghcr.io/acme/-web", "start and end"},
		{"ghcr.io:0/acme/web", "not a host name"},
	} {
		_, err := ParseReference(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseReference(%q) = %v, want an error with %q", c.in, err, c.want)
		}
	}
}

func TestParseRepo(t *testing.T) {
	r, err := parseRepo("127.0.0.1:5000/acme/web")
	if err != nil || r.Registry != "127.0.0.1:5000" || r.Repository != "acme/web" || r.Tag != "" {
		t.Errorf("parseRepo: %+v, %v", r, err)
	}
	for _, bad := range []string{"ghcr.io/acme/web:v1", "ghcr.io/acme/web@" + dgst, "acme"} {
		if _, err := parseRepo(bad); err == nil {
			t.Errorf("parseRepo(%q) accepted", bad)
		}
	}
}

func TestParseChallenges(t *testing.T) {
	cs := ParseChallenges([]string{
		`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:acme/web:pull,push"`,
		`Basic realm="x\"y", Bearer realm=https://b.example/t , error="insufficient_scope"`,
		`Negotiate`,
		`,,, =garbage "unterminated`,
	})
	if len(cs) < 4 {
		t.Fatalf("got %d challenges: %+v", len(cs), cs)
		return
	}
	if cs[0].Scheme != "bearer" || cs[0].Params["realm"] != "https://auth.example/token" || cs[0].Params["service"] != "registry.example" || cs[0].Params["scope"] != "repository:acme/web:pull,push" {
		t.Errorf("challenge 0: %+v", cs[0])
	}
	if cs[1].Scheme != "basic" || cs[1].Params["realm"] != `x"y` {
		t.Errorf("challenge 1: %+v", cs[1])
	}
	if cs[2].Scheme != "bearer" || cs[2].Params["realm"] != "https://b.example/t" || cs[2].Params["error"] != "insufficient_scope" {
		t.Errorf("challenge 2: %+v", cs[2])
	}
	if cs[3].Scheme != "negotiate" || len(cs[3].Params) != 0 {
		t.Errorf("challenge 3: %+v", cs[3])
	}
	if got := ParseChallenges(nil); len(got) != 0 {
		t.Errorf("no header: %+v", got)
	}
	// Case of scheme and keys does not matter.
	cs = ParseChallenges([]string{`BEARER Realm="r", SERVICE="s"`})
	if len(cs) != 1 || cs[0].Scheme != "bearer" || cs[0].Params["realm"] != "r" || cs[0].Params["service"] != "s" {
		t.Errorf("upper case: %+v", cs)
	}
}

func TestTemplateVariables(t *testing.T) {
	got := strings.Join(TemplateVariables("https://{{ api_host }}:{{port}}/{{ Bad-Name }}{{ x"), ",")
	if got != "api_host,port" {
		t.Errorf("TemplateVariables = %q", got)
	}
}

func TestRedactURL(t *testing.T) {
	got := redactURL(`Get "https://user:pa55@auth.example/token?x=1": dial tcp: refused; http://a@b/`)
	if strings.Contains(got, "pa55") || strings.Contains(got, "user") || !strings.Contains(got, "auth.example/token") {
		t.Errorf("redactURL = %q", got)
	}
}

package spinport

import "testing"

// Pure tests: they also run compiled by TinyGo (make test-tinygo).

func TestParseImage(t *testing.T) {
	d := "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	good := map[string]string{
		"ghcr.io/acme/web:v1":                    "ghcr.io/acme/web:v1",
		"myacr.azurecr.io/team/app/web@" + d:     "myacr.azurecr.io/team/app/web@" + d,
		"localhost:5000/web:latest@" + d:         "localhost:5000/web@" + d,
		"registry.example.com:8443/a__b/c-d:1.0": "registry.example.com:8443/a__b/c-d:1.0",
	}
	for in, pinned := range good {
		im, err := ParseImage(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if im.Pinned() != pinned || im.String() != in {
			t.Errorf("%s: pinned %s string %s", in, im.Pinned(), im.String())
		}
	}
	bad := []string{"", "nginx", "nginx:latest", "library/nginx:1", "ghcr.io/acme/web", "ghcr.io/Acme/web:v1",
		"ghcr.io/acme/web:-x", "ghcr.io/acme/web@sha256:abc", "ghcr.io/acme/web@md5:" + d[7:], "ghcr.io//web:v1",
		"ghcr.io/acme/web:v1 ", "ghcr.io:99999/a:b", "gh_cr.io/a:b", "ghcr.io/a..b:c", "ghcr.io/a-:b"}
	for _, in := range bad {
		if _, err := ParseImage(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestNamesAndVariables(t *testing.T) {
	for _, ok := range []string{"a", "web-api", "a1", "abcdefghijklmnopqrst"} {
		if err := CheckTenantSlug(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1a", "-a", "a-", "A", "a_b", "abcdefghijklmnopqrstu", "a.b"} {
		if CheckTenantSlug(bad) == nil {
			t.Errorf("tenant %q accepted", bad)
		}
	}
	for _, ok := range []string{"a", "api_url", "x1_y2"} {
		if err := CheckVariableName(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "A", "1a", "_a", "a_", "a__b", "a-b", "api.url"} {
		if CheckVariableName(bad) == nil {
			t.Errorf("variable %q accepted", bad)
		}
	}
	if CheckDomain("www.example.com", "apps.example.com") != nil || CheckDomain("x.apps.example.com", "apps.example.com") == nil ||
		CheckDomain("example", "") == nil || CheckDomain("*.example.com", "") == nil {
		t.Error("domain checks")
	}
}

func TestPinned(t *testing.T) {
	d := "sha256:abc"
	for in, want := range map[string]string{
		"ghcr.io/a/b:v1@" + d:      "ghcr.io/a/b@" + d,
		"localhost:5000/b:v1@" + d: "localhost:5000/b@" + d,
		"localhost:5000/b@" + d:    "localhost:5000/b@" + d,
	} {
		if got := Pin(in, d); got != want {
			t.Errorf("pinned(%s) = %s, want %s", in, got, want)
		}
	}
}

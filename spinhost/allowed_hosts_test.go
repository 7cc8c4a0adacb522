package spinhost

import (
	"strings"
	"testing"
)

func TestAllowedHosts(t *testing.T) {
	cases := []struct {
		entry string
		allow []string
		deny  []string
	}{
		{"https://example.com",
			[]string{"https://example.com", "https://example.com/path?q", "https://EXAMPLE.com:443/x", "example.com/no-scheme"},
			[]string{"http://example.com", "https://example.com:8443", "https://sub.example.com", "https://example.com.evil.io"}},
		{"http://example.com/", // a trailing slash is allowed in the entry
			[]string{"http://example.com:80/"},
			[]string{"https://example.com"}},
		{"http://127.0.0.1:8080",
			[]string{"http://127.0.0.1:8080/x"},
			[]string{"http://127.0.0.1/x", "http://127.0.0.1:8081/", "http://localhost:8080/"}},
		{"https://*.example.com",
			[]string{"https://a.example.com", "https://a.b.example.com/x"},
			[]string{"https://example.com", "https://a.example.org"}},
		{"*://api.test:*",
			[]string{"http://api.test", "https://api.test:9999", "redis://api.test:1"},
			[]string{"http://other.test"}},
		{"http://*:*",
			[]string{"http://anything:1/", "http://10.0.0.1:65535"},
			[]string{"https://anything"}},
		{"http://localhost:3000..3003",
			[]string{"http://localhost:3000", "http://localhost:3002"},
			[]string{"http://localhost:3003", "http://localhost:2999"}},
		{"http://10.0.0.0/8:*",
			[]string{"http://10.1.2.3:8080"},
			[]string{"http://11.0.0.1:8080", "http://ten.example:80"}},
		{"redis://127.0.0.1:6379",
			[]string{"redis://127.0.0.1:6379", "redis://127.0.0.1", "redis://127.0.0.1:6379/0", "redis://user:pw@127.0.0.1:6379"},
			[]string{"redis://127.0.0.1:6380", "http://127.0.0.1:6379"}},
		{"http://[::1]:8080",
			[]string{"http://[::1]:8080/"},
			[]string{"http://127.0.0.1:8080/"}},
	}
	for _, tc := range cases {
		hs, err := ParseAllowedHosts([]string{tc.entry}, nil)
		if err != nil {
			t.Errorf("%q: %v", tc.entry, err)
			continue
		}
		for _, u := range tc.allow {
			scheme := "https"
			if strings.HasPrefix(tc.entry, "redis") {
				scheme = "redis"
			}
			if !hs.Allows(u, scheme) {
				t.Errorf("%q should allow %q", tc.entry, u)
			}
		}
		for _, u := range tc.deny {
			if hs.Allows(u, "https") {
				t.Errorf("%q should not allow %q", tc.entry, u)
			}
		}
	}
}

func TestAllowedHostsEmptyAllowsNothing(t *testing.T) {
	var hs AllowedHosts
	if hs.Allows("https://example.com", "https") || hs.AllowsRelative("http", "https") {
		t.Error("an empty allow-list allowed something")
	}
}

func TestAllowedHostsSelf(t *testing.T) {
	hs, err := ParseAllowedHosts([]string{"http://self"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !hs.AllowsRelative("http", "https") {
		t.Error("http://self does not allow relative requests")
	}
	if hs.Allows("http://self/x", "https") {
		t.Error("self matched an absolute URL")
	}
	other, _ := ParseAllowedHosts([]string{"https://example.com"}, nil)
	if other.AllowsRelative("http", "https") {
		t.Error("a plain host allows relative requests")
	}
}

func TestAllowedHostsTemplates(t *testing.T) {
	values := map[string]string{"kube": "https://kubernetes.default.svc", "redis": "redis://127.0.0.1:6379", "port": "8080"}
	hs, err := ParseAllowedHosts([]string{"{{ kube }}", "{{ redis }}", "http://localhost:{{ port }}"}, values)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"https://kubernetes.default.svc/api", "http://localhost:8080/x"} {
		if !hs.Allows(u, "https") {
			t.Errorf("not allowed: %s", u)
		}
	}
	if !hs.Allows("redis://127.0.0.1:6379", "redis") {
		t.Error("redis not allowed")
	}
	if hs[0].Original != "{{ kube }}" {
		t.Errorf("Original = %q", hs[0].Original)
	}
}

func TestAllowedHostsErrors(t *testing.T) {
	cases := map[string]string{
		"example.com":                  "does not contain a scheme",
		"example.com:80":               "does not contain a scheme",
		"https://example.com/path":     "hosts must not contain paths",
		"redis://127.0.0.1:6379/0":     "has a path but is not allowed to",
		"ftp://example.com":            "does not have a known default port",
		"https://ex*ample.com":         "wildcards are allowed only as subdomains",
		"https://*.ex*ample.com":       "wildcards are allowed only as prefixes",
		"https://example.com:notaport": "is not a number",
		"ht-tp://example.com":          "non alphabetic",
	}
	for entry, want := range cases {
		_, err := ParseAllowedHosts([]string{entry}, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", entry, err, want)
		}
	}
	if _, err := ParseAllowedHosts([]string{"insecure:allow-all"}, nil); err == nil {
		t.Error("insecure:allow-all accepted")
	}
	_, err := ParseAllowedHosts([]string{"{{ url }}"}, map[string]string{"url": "redis://h:6379/0"})
	if err == nil || !strings.Contains(err.Error(), `resolved to "redis://h:6379/0"`) {
		t.Errorf("templated error = %v", err)
	}
}

func TestWithoutPassword(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:s3cret@10.0.0.1:6379/0": "redis://REDACTED@10.0.0.1:6379/0",
		"https://example.com/x":           "https://example.com/x",
		"not a url %zz":                   "not a url %zz",
	} {
		if got := withoutPassword(in); got != want {
			t.Errorf("withoutPassword(%q) = %q, want %q", in, got, want)
		}
	}
}

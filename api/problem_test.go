package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/kv"
)

// Pure tests: they also run compiled by TinyGo (make test-tinygo), which is
// the point: under TinyGo 0.30 errors.As with an interface-typed target
// matched every error and the old mapping trapped the instance on any
// internal error.

type downError struct{}

func (downError) Error() string     { return "connection refused" }
func (downError) Unavailable() bool { return true }

type recorder struct {
	h      http.Header
	status int
	body   strings.Builder
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) WriteHeader(s int)           { r.status = s }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

func TestErrorMapping(t *testing.T) {
	for _, c := range []struct {
		name   string
		err    error
		status int
		detail string
	}{
		{"plain error", errors.New("boom"), 500, "failed to complete"},
		{"wrapped plain error", fmt.Errorf("ctx: %w", errors.New("boom")), 500, "failed to complete"},
		{"kv store down", &kv.UnavailableError{Op: "get", Err: errors.New("io error")}, 503, "key-value store"},
		{"kv store down, wrapped", fmt.Errorf("list apps: %w", &kv.UnavailableError{Op: "INCRBY", Err: errors.New("refused")}), 503, "key-value store"},
		{"dependency down", fmt.Errorf("apply: %w", downError{}), 503, "retry"},
		{"joined", errors.Join(errors.New("a"), downError{}), 503, "retry"},
		{"not found", kv.ErrNotFound, 404, "no such"},
		{"conflict", kv.ErrConflict, 409, "retry"},
		{"quota", &spinport.QuotaError{Quota: "maxApps", Limit: 3}, 403, "maxApps"},
		{"problem", badRequest("name", "bad name"), 400, "bad name"},
	} {
		var logged []string
		w := &recorder{h: http.Header{}}
		writeError(w, c.err, func(s string) { logged = append(logged, s) })
		if w.status != c.status || !strings.Contains(w.body.String(), c.detail) {
			t.Errorf("%s: %d %s, want %d containing %q", c.name, w.status, w.body.String(), c.status, c.detail)
		}
		if ct := w.h.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s: content type %q", c.name, ct)
		}
		if (c.status == 503) != (w.h.Get("Retry-After") != "") {
			t.Errorf("%s: Retry-After %q", c.name, w.h.Get("Retry-After"))
		}
		if c.status >= 500 && len(logged) != 1 {
			t.Errorf("%s: logged %v, want the cause once", c.name, logged)
		}
		if c.status >= 500 && strings.Contains(w.body.String(), "refused") {
			t.Errorf("%s: the cause leaked into the answer: %s", c.name, w.body.String())
		}
	}
}

func TestFromRuntimeKeepsTheRuntimesURL(t *testing.T) {
	// What the Go SDK builds from Spin's headers when a client sent its
	// own spin-full-url: the client's value first, the runtime's last.
	r, _ := http.NewRequest("GET", "http://x/api/v1/tenants/t/tokens", nil)
	r.Header.Add("Spin-Full-Url", "http://x/api/v1/tenants/t/tokens")
	r.Header.Add("Spin-Full-Url", "https://spinport.example.com/healthz")
	r.Header.Add("Spin-Client-Addr", "6.6.6.6:1")
	r.Header.Add("Spin-Client-Addr", "10.0.0.7:4711")
	got, err := FromRuntime(r)
	if err != nil {
		t.Fatal(err)
	}
	if got.URL.Path != "/healthz" || got.URL.Scheme != "https" || got.RemoteAddr != "10.0.0.7:4711" {
		t.Fatalf("request after FromRuntime: %s from %s", got.URL, got.RemoteAddr)
	}
	if v := got.Header.Values("Spin-Full-Url"); len(v) != 1 {
		t.Fatalf("spin-full-url values left: %v", v)
	}
	for _, path := range []string{"/api/v1/tenants/a%2Fapps/web", "/api/v1/tenants/a%2fb"} {
		r, _ := http.NewRequest("GET", "http://x"+path, nil)
		r.Header.Set("Spin-Full-Url", "http://x"+path)
		if _, err := FromRuntime(r); err == nil {
			t.Errorf("%s: encoded slash accepted", path)
		} else if p := toProblem(err); p.Status != 400 {
			t.Errorf("%s: status %d", path, p.Status)
		}
	}
}

func TestRFC3339(t *testing.T) {
	for _, u := range []int64{1, 59, 86399, 951782400, 1700000000, 1735689599, 4102444800, 253402300799, 253402300800, -1, -62135596800, -62135596801} {
		if got, want := rfc3339(u), time.Unix(u, 0).UTC().Format(time.RFC3339); got != want {
			t.Errorf("rfc3339(%d) = %q, want %q", u, got, want)
		}
	}
	if rfc3339(0) != "" {
		t.Error("0 is no time")
	}
}

package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPortalFiles(t *testing.T) {
	h := Handler()
	for path, want := range map[string]string{
		"/":             "text/html; charset=utf-8",
		"/t/acme/a/web": "text/html; charset=utf-8", // unknown paths get the page
		"/app.js":       "text/javascript; charset=utf-8",
		"/app.css":      "text/css; charset=utf-8",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || rec.Header().Get("Content-Type") != want {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Header().Get("Content-Type"))
		}
		if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("%s: no CSP", path)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/../../etc/passwd", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "<title>spinport</title>") {
		t.Errorf("path traversal served %d %.60s", rec.Code, rec.Body.String())
	}
}

package bench

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/spinport/spinport/api"
	"github.com/spinport/spinport/kv"
	"github.com/spinport/spinport/ui"
)

// BenchmarkNativeHandler is the same routes as the test host's latency
// benchmark (e2e BenchmarkHostLatencyRedis) run as native Go: what the
// handlers cost without WebAssembly, instantiation or KV round trips (the
// records are in kv.Memory). As in the component, every request builds its
// own Server and router. The README puts these beside the .wasm figures.
func BenchmarkNativeHandler(b *testing.B) {
	mem, _ := world(b, 50)
	portal := ui.Handler()
	routes := []struct{ name, path string }{
		{"static-file", "/app.css"},
		{"healthz", "/healthz"},
		{"get-app", "/api/v1/tenants/acme/apps/web"},
		{"list-apps-50", "/api/v1/tenants/acme/apps?limit=50"},
	}
	for _, rt := range routes {
		b.Run(rt.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest("GET", rt.path, nil)
				req.Header.Set("Authorization", "Bearer "+adminToken)
				rec := httptest.NewRecorder()
				var h http.Handler = portal
				if api.Serves(rt.path) {
					srv := &api.Server{DB: kv.DB{B: mem.Backend()}, Config: api.Config{AdminToken: adminToken, BaseDomain: "apps.test"}, Now: time.Now, Rand: rand.Reader}
					h = srv.Handler()
				}
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("%s: %d %s", rt.path, rec.Code, rec.Body.String())
				}
			}
		})
	}
}

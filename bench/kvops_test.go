package bench

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spinport/spinport"

	"github.com/spinport/spinport/api"
	"github.com/spinport/spinport/kv"
)

const adminToken = "bench-admin-token"

// world is a tenant "acme" with n apps; app "web" has 20 revisions.
func world(b *testing.B, n int) (*kv.Memory, http.Handler) {
	mem := kv.NewMemory()
	db := kv.DB{B: mem.Backend()}
	q := spinport.Quotas{MaxApps: int64(n) + 10, MaxReplicasPerApp: 5, MaxTotalReplicas: int64(n)*5 + 50}
	if err := db.CreateTenant(spinport.Tenant{Slug: "acme", Quotas: q}, spinport.Member{UserID: "admin", Role: spinport.RoleOwner}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n-1; i++ {
		if err := db.CreateApp(spinport.App{Tenant: "acme", Name: fmt.Sprintf("app-%d", i), Scaling: spinport.Scaling{Replicas: 1}}, q); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.CreateApp(spinport.App{Tenant: "acme", Name: "web", Scaling: spinport.Scaling{Replicas: 1}}, q); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, _, err := db.AddRevision("acme", "web", spinport.Revision{Cause: spinport.CauseDeploy, Image: fmt.Sprintf("ghcr.io/acme/web:v%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	srv := &api.Server{DB: db, Config: api.Config{AdminToken: adminToken, BaseDomain: "apps.test"}, Now: time.Now, Rand: rand.Reader}
	return mem, srv.Handler()
}

func BenchmarkKVOpsPerRequest(b *testing.B) {
	requests := []struct{ name, method, path, body string }{
		{"list-apps", "GET", "/api/v1/tenants/acme/apps?limit=50", ""},
		{"get-app", "GET", "/api/v1/tenants/acme/apps/web", ""},
		{"deploy", "POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/acme/web:next"}`},
		{"list-revisions", "GET", "/api/v1/tenants/acme/apps/web/revisions?limit=20", ""},
	}
	for _, n := range []int{10, 1000, 100000} {
		mem, h := world(b, n)
		for _, rq := range requests {
			b.Run(fmt.Sprintf("%s/apps=%d", rq.name, n), func(b *testing.B) {
				var ops int64
				for i := 0; i < b.N; i++ {
					req := httptest.NewRequest(rq.method, rq.path, strings.NewReader(rq.body))
					req.Header.Set("Authorization", "Bearer "+adminToken)
					rec := httptest.NewRecorder()
					before := mem.OpCount()
					h.ServeHTTP(rec, req)
					ops += mem.OpCount() - before
					if rec.Code >= 300 {
						b.Fatalf("%s: %d %s", rq.path, rec.Code, rec.Body.String())
					}
				}
				b.ReportMetric(float64(ops)/float64(b.N), "kvops/req")
			})
		}
	}
}

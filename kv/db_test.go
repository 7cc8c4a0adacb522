package kv

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/spinport/spinport"
)

func newDB() (DB, *Memory) {
	m := NewMemory()
	return DB{B: m.Backend()}, m
}

func TestCollectionListsEachRecordOnce(t *testing.T) {
	db, _ := newDB()
	c := db.apps("acme")
	for i := 0; i < 7; i++ {
		if err := c.Create(fmt.Sprintf("app%d", i), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Create("app3", []byte(`{}`)); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate create: got %v, want ErrExists", err)
	}
	if err := c.Delete("app2"); err != nil {
		t.Fatal(err)
	}
	var names []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		items, next, err := c.List(cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			names = append(names, it.Name)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	want := "[app0 app1 app3 app4 app5 app6]"
	if got := fmt.Sprint(names); got != want {
		t.Errorf("listed %s, want %s", got, want)
	}
	if _, _, err := c.List("x", 2); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: got %v", err)
	}
}

func TestConcurrentCreatesAndDeploys(t *testing.T) {
	db, _ := newDB()
	q := spinport.Quotas{MaxApps: 1000, MaxReplicasPerApp: 5, MaxTotalReplicas: 10000}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 50; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			errs <- db.CreateApp(spinport.App{Tenant: "acme", Name: fmt.Sprintf("app-%d", i), Scaling: spinport.Scaling{Replicas: 1}}, q)
		}(i)
		go func(i int) {
			defer wg.Done()
			_, _, err := db.AddRevision("acme", "web", spinport.Revision{Cause: spinport.CauseDeploy, Image: fmt.Sprintf("r.io/web:%d", i), Digest: fmt.Sprintf("sha256:%064d", i)})
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	apps, next, err := db.ListApps("acme", "", 100)
	if err != nil || next != "" || len(apps) != 50 {
		t.Fatalf("apps: %d next=%q err=%v", len(apps), next, err)
	}
	seen := map[string]bool{}
	for _, a := range apps {
		if seen[a.Name] {
			t.Errorf("app %s listed twice", a.Name)
		}
		seen[a.Name] = true
	}
	if n, _ := db.AppCount("acme"); n != 50 {
		t.Errorf("app counter %d, want 50", n)
	}
	revs, _, err := db.ListRevisions("acme", "web", 0, 100)
	if err != nil || len(revs) != 50 {
		t.Fatalf("revisions: %d err=%v", len(revs), err)
	}
	images := map[string]bool{}
	for _, r := range revs {
		images[r.Image] = true
	}
	if len(images) != 50 {
		t.Errorf("%d distinct images among revisions, want 50", len(images))
	}
}

func TestConcurrentDuplicateDigestMakesOneRevision(t *testing.T) {
	db, _ := newDB()
	var wg sync.WaitGroup
	numbers := make(chan int64, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rev, _, err := db.AddRevision("acme", "web", spinport.Revision{Cause: spinport.CauseDeploy, Image: "r.io/web@sha256:" + fmt.Sprintf("%064d", 7), Digest: "sha256:" + fmt.Sprintf("%064d", 7)})
			if err != nil {
				t.Error(err)
			}
			numbers <- rev.Number
		}()
	}
	wg.Wait()
	close(numbers)
	distinct := map[int64]bool{}
	for n := range numbers {
		distinct[n] = true
	}
	revs, _, _ := db.ListRevisions("acme", "web", 0, 100)
	if len(revs) != 1 || len(distinct) != 1 {
		t.Fatalf("got %d revisions and %d distinct answers, want 1 and 1", len(revs), len(distinct))
	}
}

func TestQuotasHoldUnderConcurrency(t *testing.T) {
	db, _ := newDB()
	q := spinport.Quotas{MaxApps: 5, MaxReplicasPerApp: 3, MaxTotalReplicas: 100}
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, refused := 0, 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := db.CreateApp(spinport.App{Tenant: "acme", Name: fmt.Sprintf("a%d", i), Scaling: spinport.Scaling{Replicas: 1}}, q)
			mu.Lock()
			defer mu.Unlock()
			var qe *spinport.QuotaError
			switch {
			case err == nil:
				created++
			case errors.As(err, &qe) && qe.Quota == "maxApps":
				refused++
			default:
				t.Errorf("unexpected %v", err)
			}
		}(i)
	}
	wg.Wait()
	if created != 5 || refused != 15 {
		t.Errorf("created %d refused %d, want 5 and 15", created, refused)
	}
	err := db.CreateApp(spinport.App{Tenant: "other", Name: "big", Scaling: spinport.Scaling{Replicas: 4}}, q)
	var qe *spinport.QuotaError
	if !errors.As(err, &qe) || qe.Quota != "maxReplicasPerApp" {
		t.Errorf("replicas per app: got %v", err)
	}
}

func TestDeleteAppGivesQuotaBackAndForgetsEverything(t *testing.T) {
	db, m := newDB()
	q := spinport.DefaultQuotas
	a := spinport.App{Tenant: "acme", Name: "web", Scaling: spinport.Scaling{Replicas: 2}, Domains: []string{"www.example.com"}}
	if err := db.CreateApp(a, q); err != nil {
		t.Fatal(err)
	}
	if err := db.ClaimDomain("www.example.com", "acme", "web"); err != nil {
		t.Fatal(err)
	}
	if err := db.ClaimDomain("www.example.com", "other", "web"); !errors.Is(err, ErrExists) {
		t.Fatalf("domain claimed twice: %v", err)
	}
	_ = db.SetVariable("acme", "web", spinport.Variable{Name: "greeting", Value: "hi"})
	_, _, _ = db.AddRevision("acme", "web", spinport.Revision{Image: "r.io/web:1"})
	_, _, _ = db.AddRevision("acme", "web", spinport.Revision{Cause: spinport.CauseDeploy, Image: "r.io/web@sha256:1", Digest: "sha256:1"})
	if err := db.DeleteApp(a); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.AppCount("acme"); n != 0 {
		t.Errorf("app count %d after delete", n)
	}
	if n, _ := db.ReplicaCount("acme"); n != 0 {
		t.Errorf("replica count %d after delete", n)
	}
	for _, k := range m.Keys() {
		if k != appCountKey("acme") && k != replicaCountKey("acme") && k != appsPrefix("acme")+"/seq" {
			t.Errorf("key left behind: %s", k)
		}
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	rev := spinport.Revision{Number: 3, Image: "ghcr.io/a/b:v1", Digest: "sha256:abc", Source: "ci", GitRef: "refs/tags/v1", State: spinport.StateApplied,
		RollbackOf: 1, Scaling: spinport.Scaling{Autoscale: true, MinReplicas: 1, MaxReplicas: 4}, Domains: []string{"x.example.com"},
		Variables: []spinport.Variable{{Name: "a", Value: "1"}, {Name: "s", Secret: true, Value: "must-not-be-stored"}}}
	got, err := ParseRevision(marshalRevision(rev))
	if err != nil {
		t.Fatal(err)
	}
	if got.Image != rev.Image || got.RollbackOf != 1 || got.Scaling != rev.Scaling || len(got.Variables) != 2 || got.Variables[1].Value != "" {
		t.Errorf("round trip: %+v", got)
	}
	if _, err := ParseApp([]byte(`{"schema":99}`)); err == nil {
		t.Error("newer schema accepted")
	}
	if _, err := ParseApp([]byte(`{"schema":`)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("corrupt: %v", err)
	}
}

func TestTenantRedisDBNeverReused(t *testing.T) {
	db, _ := newDB()
	a1, _ := db.TenantRedisDB("acme")
	a2, _ := db.TenantRedisDB("acme")
	b, _ := db.TenantRedisDB("beta")
	if a1 != 1 || a2 != 1 || b != 2 {
		t.Fatalf("got %d %d %d, want 1 1 2", a1, a2, b)
	}
	if err := db.CreateTenant(spinport.Tenant{Slug: "acme"}, spinport.Member{UserID: "u", Role: spinport.RoleOwner}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteTenant("acme"); err != nil {
		t.Fatal(err)
	}
	if again, _ := db.TenantRedisDB("acme"); again != 3 {
		t.Errorf("recreated tenant got database %d, want a fresh one (3)", again)
	}
}

package kv

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/spinport/spinport"
)

// Pure tests: they also run compiled by TinyGo (make test-tinygo).

// clock is a settable time for claims that expire.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newClockDB() (DB, *Memory, *clock) {
	m := NewMemory()
	c := &clock{now: time.Unix(1_700_000_000, 0)}
	return DB{B: m.Backend(), Now: c.Now, LockTTL: time.Minute, IdempotencyTTL: time.Hour}, m, c
}

func countApps(t *testing.T, db DB, tenant string) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		apps, next, err := db.ListApps(tenant, cursor, 200)
		if err != nil {
			t.Fatal(err)
		}
		n += len(apps)
		if next == "" {
			return n
		}
		cursor = next
	}
}

// Ten parallel deletes of one app: exactly one wins and gives the quota
// back, so the tenant cannot then create more apps than maxApps.
func TestParallelDeletesOfOneAppDecrementOnce(t *testing.T) {
	db, _, _ := newClockDB()
	q := spinport.Quotas{MaxApps: 3, MaxReplicasPerApp: 5, MaxTotalReplicas: 100}
	if err := db.CreateApp(spinport.App{Tenant: "acme", Name: "web", Scaling: spinport.Scaling{Replicas: 2}}, q); err != nil {
		t.Fatal(err)
	}
	app, _ := db.GetApp("acme", "web")
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, lost := 0, 0
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := db.DeleteApp(app)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, ErrNotFound):
				lost++
			default:
				t.Errorf("delete: %v", err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || lost != 9 {
		t.Fatalf("%d deletes won, %d lost; want exactly 1 winner", won, lost)
	}
	if n, _ := db.AppCount("acme"); n != 0 {
		t.Fatalf("app counter %d after the delete, want 0", n)
	}
	if n, _ := db.ReplicaCount("acme"); n != 0 {
		t.Fatalf("replica counter %d after the delete, want 0", n)
	}
	created := 0
	for i := 0; i < 6; i++ {
		err := db.CreateApp(spinport.App{Tenant: "acme", Name: fmt.Sprintf("app%d", i), Scaling: spinport.Scaling{Replicas: 1}}, q)
		if err == nil {
			created++
		}
	}
	if created != 3 || countApps(t, db, "acme") != 3 {
		t.Fatalf("created %d apps (%d listed) under maxApps=3", created, countApps(t, db, "acme"))
	}
}

// Racing deletes and re-creates of one name: afterwards the counters equal
// what is listed.
func TestDeleteCreateRaceKeepsCountersExact(t *testing.T) {
	db, _, _ := newClockDB()
	q := spinport.Quotas{MaxApps: 100, MaxReplicasPerApp: 5, MaxTotalReplicas: 1000}
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_ = db.CreateApp(spinport.App{Tenant: "acme", Name: "web", Scaling: spinport.Scaling{Replicas: 2}}, q)
		}()
		go func() {
			defer wg.Done()
			if app, err := db.GetApp("acme", "web"); err == nil {
				_ = db.DeleteApp(app)
			}
		}()
	}
	wg.Wait()
	listed := countApps(t, db, "acme")
	if n, _ := db.AppCount("acme"); n != int64(listed) {
		t.Fatalf("app counter %d, %d apps listed", n, listed)
	}
	if n, _ := db.ReplicaCount("acme"); n != int64(2*listed) {
		t.Fatalf("replica counter %d, %d apps of 2 replicas listed", n, listed)
	}
}

// Racing scale changes move the replica counter by what each write
// actually replaced.
func TestRacingUpdatesKeepReplicaCounterExact(t *testing.T) {
	db, _, _ := newClockDB()
	q := spinport.Quotas{MaxApps: 10, MaxReplicasPerApp: 50, MaxTotalReplicas: 1000}
	if err := db.CreateApp(spinport.App{Tenant: "acme", Name: "web", Scaling: spinport.Scaling{Replicas: 1}}, q); err != nil {
		t.Fatal(err)
	}
	old, _ := db.GetApp("acme", "web")
	var wg sync.WaitGroup
	for i := 1; i <= 30; i++ {
		wg.Add(1)
		go func(n int64) {
			defer wg.Done()
			a := old
			a.Scaling = spinport.Scaling{Replicas: n}
			if err := db.UpdateApp(old, a, q); err != nil && !errors.Is(err, ErrConflict) {
				t.Errorf("update: %v", err)
			}
		}(int64(i))
	}
	wg.Wait()
	got, _ := db.GetApp("acme", "web")
	if n, _ := db.ReplicaCount("acme"); n != got.Scaling.Peak() {
		t.Fatalf("replica counter %d, the app runs %d", n, got.Scaling.Peak())
	}
}

// A delete whose instance died mid-way hides the app until the lock
// expires; then the app is visible again and a retried delete finishes.
func TestAbandonedDeleteCanBeRetried(t *testing.T) {
	db, _, clk := newClockDB()
	q := spinport.DefaultQuotas
	if err := db.CreateApp(spinport.App{Tenant: "acme", Name: "web", Scaling: spinport.Scaling{Replicas: 1}}, q); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("instance died")
	err := db.apps("acme").Remove("web", db.deadline(db.LockTTL, DefaultLockTTL), func([]byte) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("remove: %v", err)
	}
	if _, err := db.GetApp("acme", "web"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("app being deleted: got %v, want ErrNotFound", err)
	}
	if err := db.CreateApp(spinport.App{Tenant: "acme", Name: "web"}, q); !errors.Is(err, ErrExists) {
		t.Fatalf("re-create while being deleted: %v", err)
	}
	clk.add(2 * time.Minute)
	app, err := db.GetApp("acme", "web")
	if err != nil {
		t.Fatalf("after the lock expired the app should be visible again: %v", err)
	}
	if err := db.DeleteApp(app); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.AppCount("acme"); n != 0 || countApps(t, db, "acme") != 0 {
		t.Fatalf("counter %d after the retried delete", n)
	}
}

func TestIdempotencyClaims(t *testing.T) {
	db, _, clk := newClockDB()
	first, _, err := db.ClaimIdempotency("s", "h1")
	if err != nil || !first {
		t.Fatalf("first claim: %v %v", first, err)
	}
	first, rec, _ := db.ClaimIdempotency("s", "h1")
	if first || !rec.Pending || rec.Hash != "h1" {
		t.Fatalf("second claim while pending: first=%v rec=%+v", first, rec)
	}
	// The first request died: after lock_ttl exactly one retry takes over.
	clk.add(61 * time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if f, _, err := db.ClaimIdempotency("s", "h1"); err == nil && f {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if winners != 1 {
		t.Fatalf("%d retries took over the stale claim, want 1", winners)
	}
	if err := db.StoreIdempotency("s", Idempotency{Hash: "h1", Status: 201, Body: []byte(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	clk.add(59 * time.Minute)
	if f, rec, _ := db.ClaimIdempotency("s", "h1"); f || rec.Status != 201 || string(rec.Body) != `{"a":1}` {
		t.Fatalf("stored answer: first=%v %+v", f, rec)
	}
	clk.add(2 * time.Minute) // past idempotency_ttl: the key is free again
	if f, _, _ := db.ClaimIdempotency("s", "h2"); !f {
		t.Fatal("an expired answer still blocks the key")
	}
}

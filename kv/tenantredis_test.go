package kv

import (
	"errors"
	"sync"
	"testing"

	"github.com/spinport/spinport"
)

// Pure tests: they also run compiled by TinyGo (make test-tinygo).

func TestAppRedisDBOnePerAppAndKeptByName(t *testing.T) {
	db, _ := newDB()
	if err := db.PutTenantRedis("acme", spinport.TenantRedis{Databases: 2}); err != nil {
		t.Fatal(err)
	}
	web, _ := db.AppRedisDB("acme", "web", 2)
	api, _ := db.AppRedisDB("acme", "api", 2)
	again, _ := db.AppRedisDB("acme", "web", 2)
	if web != 0 || api != 1 || again != 0 {
		t.Fatalf("web %d api %d web again %d, want 0 1 0", web, api, again)
	}
	if _, err := db.AppRedisDB("acme", "third", 2); !errors.Is(err, ErrNoDatabase) {
		t.Fatalf("third app on a 2-database Redis: %v, want ErrNoDatabase", err)
	}
	// Another tenant's Redis is another namespace of claims.
	if n, _ := db.AppRedisDB("beta", "web", 2); n != 0 {
		t.Errorf("beta/web got %d, want 0", n)
	}
	got, err := db.AppDatabases("acme", 2)
	if err != nil || len(got) != 2 || got[0] != (spinport.AppDatabase{DB: 0, App: "web"}) || got[1] != (spinport.AppDatabase{DB: 1, App: "api"}) {
		t.Fatalf("AppDatabases = %v, %v", got, err)
	}
	// Forgetting the Redis frees every database for the next one.
	if err := db.DeleteTenantRedis("acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetTenantRedis("acme"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record still there: %v", err)
	}
	if n, _ := db.AppRedisDB("acme", "third", 2); n != 0 {
		t.Errorf("after the Redis was replaced, third got %d, want 0", n)
	}
}

// A request that died between claiming a database and recording it: the
// app's next deploy finds its own claim instead of taking another one.
func TestAppRedisDBResumesAHalfDoneClaim(t *testing.T) {
	db, m := newDB()
	if err := m.Set(redisSlotKey("acme", 0), []byte("web")); err != nil {
		t.Fatal(err)
	}
	if n, err := db.AppRedisDB("acme", "web", 4); n != 0 || err != nil {
		t.Fatalf("got %d, %v; want its own claim 0", n, err)
	}
	if n, _ := db.AppRedisDB("acme", "api", 4); n != 1 {
		t.Fatalf("api got %d, want 1", n)
	}
}

// Racing first deploys on several replicas: every app gets exactly one
// database, no database has two apps, and the losers of a full Redis are
// refused rather than doubled up.
func TestAppRedisDBUnderRacingDeploys(t *testing.T) {
	db, _ := newDB()
	const databases = 6
	apps := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	var mu sync.Mutex
	got := map[string]map[int64]bool{}
	var wg sync.WaitGroup
	for round := 0; round < 3; round++ {
		for _, app := range apps {
			wg.Add(1)
			go func(app string) {
				defer wg.Done()
				n, err := db.AppRedisDB("acme", app, databases)
				mu.Lock()
				defer mu.Unlock()
				if errors.Is(err, ErrNoDatabase) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				if got[app] == nil {
					got[app] = map[int64]bool{}
				}
				got[app][n] = true
			}(app)
		}
	}
	wg.Wait()
	// A same-app race gives a database back; an app refused at that
	// moment gets it on its next deploy. Settle sequentially.
	for _, app := range apps {
		if got[app] != nil {
			continue
		}
		if n, err := db.AppRedisDB("acme", app, databases); err == nil {
			got[app] = map[int64]bool{n: true}
		} else if !errors.Is(err, ErrNoDatabase) {
			t.Fatal(err)
		}
	}
	holders := map[int64]string{}
	for app, dbs := range got {
		if len(dbs) != 1 {
			t.Errorf("%s got databases %v, want one", app, dbs)
		}
		for n := range dbs {
			if other, ok := holders[n]; ok {
				t.Errorf("database %d handed to %s and %s", n, other, app)
			}
			holders[n] = app
		}
	}
	if len(got) != databases {
		t.Errorf("%d apps got a database, want all %d", len(got), databases)
	}
	listed, _ := db.AppDatabases("acme", databases)
	if len(listed) != databases {
		t.Errorf("claims listed: %v", listed)
	}
	for _, d := range listed {
		if holders[d.DB] != d.App {
			t.Errorf("claim %d names %s, the app recorded %s", d.DB, d.App, holders[d.DB])
		}
	}
}

func TestDeleteTenantForgetsItsRedis(t *testing.T) {
	db, m := newDB()
	if err := db.CreateTenant(spinport.Tenant{Slug: "acme"}, spinport.Member{UserID: "u", Role: spinport.RoleOwner}); err != nil {
		t.Fatal(err)
	}
	_ = db.PutTenantRedis("acme", spinport.TenantRedis{Databases: 16})
	_, _ = db.AppRedisDB("acme", "web", 16)
	if err := db.DeleteTenant("acme"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{tenantRedisKey("acme"), redisSlotKey("acme", 0), appRedisDBKey("acme", "web")} {
		if _, err := m.Get(k); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s survived the tenant: %v", k, err)
		}
	}
}

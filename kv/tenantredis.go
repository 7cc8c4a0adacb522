package kv

import (
	"errors"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/jsonw"
	"github.com/valyala/fastjson"
)

// A tenant's own Redis: one record (how many databases it has), and one
// claim per database naming the app that holds it, with a reverse key from
// the app to its database. The claims are SET NX, so racing deploys on
// several replicas never hand one database to two apps.

// ErrNoDatabase: every database of the tenant's Redis is held by another app.
var ErrNoDatabase = errors.New("kv: no free database on the tenant's Redis")

func (db DB) PutTenantRedis(tenant string, r spinport.TenantRedis) error {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Num("databases", r.Databases).
		Num("updatedAt", r.UpdatedAt).Str("updatedBy", r.UpdatedBy).End()
	return db.B.Set(tenantRedisKey(tenant), w.Bytes())
}

// GetTenantRedis answers ErrNotFound for a tenant on the shared app Redis.
func (db DB) GetTenantRedis(tenant string) (spinport.TenantRedis, error) {
	b, err := db.B.Get(tenantRedisKey(tenant))
	if err != nil {
		return spinport.TenantRedis{}, err
	}
	return parseOne(b, func(r *fastjson.Value) spinport.TenantRedis {
		return spinport.TenantRedis{Databases: num(r.Get("databases")), UpdatedAt: num(r.Get("updatedAt")),
			UpdatedBy: str(r.Get("updatedBy"))}
	})
}

// DeleteTenantRedis forgets the tenant's own Redis and every database
// allocation on it: a Redis set later starts with all databases free.
func (db DB) DeleteTenantRedis(tenant string) error {
	r, err := db.GetTenantRedis(tenant)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// Up to the largest count ever allowed: a smaller Databases set later
	// may have left claims above it.
	for i := int64(0); i < spinport.MaxRedisDatabases; i++ {
		app, err := db.B.Get(redisSlotKey(tenant, i))
		if errors.Is(err, ErrNotFound) {
			if i >= r.Databases {
				break
			}
			continue
		}
		if err != nil {
			return err
		}
		if err := db.B.Delete(appRedisDBKey(tenant, string(app))); err != nil {
			return err
		}
		if err := db.B.Delete(redisSlotKey(tenant, i)); err != nil {
			return err
		}
	}
	return db.B.Delete(tenantRedisKey(tenant))
}

// AppRedisDB returns the database of the tenant's Redis that app holds,
// claiming the lowest free one below databases on first use. An app keeps
// its database when it is deleted, so an app re-created under the same
// name finds its data again and no other app ever sees it.
func (db DB) AppRedisDB(tenant, app string, databases int64) (int64, error) {
	if n, err := db.appRedisDB(tenant, app); !errors.Is(err, ErrNotFound) {
		return n, err
	}
	for i := int64(0); i < databases; i++ {
		ok, err := db.B.SetNX(redisSlotKey(tenant, i), []byte(app))
		if err != nil {
			return 0, err
		}
		if !ok {
			holder, err := db.B.Get(redisSlotKey(tenant, i))
			if err != nil && !errors.Is(err, ErrNotFound) {
				return 0, err
			}
			if string(holder) != app {
				continue
			}
			// This app's own claim, from a request that died before
			// writing the reverse key or that is writing it now.
		}
		won, err := db.B.SetNX(appRedisDBKey(tenant, app), formatInt(i))
		if err != nil {
			return 0, err
		}
		if won {
			return i, nil
		}
		// A racing request for the same app recorded another database:
		// use that one and give this one back.
		n, err := db.appRedisDB(tenant, app)
		if err != nil {
			return 0, err
		}
		if n != i {
			if err := db.B.Delete(redisSlotKey(tenant, i)); err != nil {
				return 0, err
			}
		}
		return n, nil
	}
	return 0, ErrNoDatabase
}

func (db DB) appRedisDB(tenant, app string) (int64, error) {
	b, err := db.B.Get(appRedisDBKey(tenant, app))
	if err != nil {
		return 0, err
	}
	n, ok := parseInt(b)
	if !ok {
		return 0, ErrCorrupt
	}
	return n, nil
}

// AppDatabases lists which app holds each database of the tenant's Redis.
func (db DB) AppDatabases(tenant string, databases int64) ([]spinport.AppDatabase, error) {
	var out []spinport.AppDatabase
	for i := int64(0); i < databases; i++ {
		app, err := db.B.Get(redisSlotKey(tenant, i))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, spinport.AppDatabase{DB: i, App: string(app)})
	}
	return out, nil
}

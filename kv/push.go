package kv

import (
	"errors"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/jsonw"
	"github.com/valyala/fastjson"
)

// Push credentials (the password is only in the answer that made it).

func (db DB) pushCreds(t string) Collection { return db.coll(pushPrefix(t)) }

func (db DB) CreatePushCredential(tenant string, c spinport.PushCredential) error {
	return db.pushCreds(tenant).Create(c.Name, marshalPushCredential(c))
}

func (db DB) PutPushCredential(tenant string, c spinport.PushCredential) error {
	return db.pushCreds(tenant).Put(c.Name, marshalPushCredential(c))
}

func (db DB) GetPushCredential(tenant, name string) (spinport.PushCredential, error) {
	b, err := db.pushCreds(tenant).Get(name)
	if err != nil {
		return spinport.PushCredential{}, err
	}
	return parsePushCredential(b)
}

func (db DB) ListPushCredentials(tenant, cursor string, limit int) ([]spinport.PushCredential, string, error) {
	return listDocs(db.pushCreds(tenant), cursor, limit, readPushCredential)
}

func (db DB) DeletePushCredential(tenant, name string) error {
	return db.pushCreds(tenant).Delete(name)
}

func marshalPushCredential(c spinport.PushCredential) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("name", c.Name).Str("username", c.Username).Num("slot", int64(c.Slot)).
		Num("expires", c.Expires).Num("createdAt", c.CreatedAt).Str("createdBy", c.CreatedBy).Num("rotatedAt", c.RotatedAt).End()
	return w.Bytes()
}

func parsePushCredential(b []byte) (spinport.PushCredential, error) {
	return parseOne(b, readPushCredential)
}

func readPushCredential(r *fastjson.Value) spinport.PushCredential {
	return spinport.PushCredential{Name: str(r.Get("name")), Username: str(r.Get("username")), Slot: int(num(r.Get("slot"))),
		Expires: num(r.Get("expires")), CreatedAt: num(r.Get("createdAt")), CreatedBy: str(r.Get("createdBy")),
		RotatedAt: num(r.Get("rotatedAt"))}
}

// ---- cached blobs (sealed by their owner, e.g. spinport's Entra token)

func cacheKey(name string) string { return root + "cache/" + name }

// GetCached returns a cached blob, nil when absent.
func (db DB) GetCached(name string) ([]byte, error) {
	b, err := db.B.Get(cacheKey(name))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return b, err
}

func (db DB) PutCached(name string, value []byte) error { return db.B.Set(cacheKey(name), value) }

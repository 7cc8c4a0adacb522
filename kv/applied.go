package kv

import (
	"errors"
	"sort"
	"strconv"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/jsonw"
	"github.com/valyala/fastjson"
)

// What an app's last successful apply left in the cluster (a digest per
// object), so the next apply sends only what changed. Absent: unknown,
// and the next apply sends everything.

func appliedKey(t, a string) string { return appPrefix(t, a) + "/applied" }

// AppApplied returns the app's applied digests, nil when none are recorded.
func (db DB) AppApplied(tenant, app string) (spinport.Applied, error) {
	b, err := db.B.Get(appliedKey(tenant, app))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p fastjson.Parser
	r, err := parse(&p, b)
	if err != nil {
		return nil, nil // unreadable: apply everything
	}
	out := spinport.Applied{}
	// As gjson's ForEach read it: an object's members; for anything else
	// the index or "" as the key.
	switch objs := r.Get("objects"); {
	case objs == nil:
	case objs.Type() == fastjson.TypeObject:
		objs.GetObject().Visit(func(k []byte, v *fastjson.Value) { out[string(k)] = str(v) })
	case objs.Type() == fastjson.TypeArray:
		for i, v := range objs.GetArray() {
			out[strconv.Itoa(i)] = str(v)
		}
	default:
		out[""] = str(objs)
	}
	return out, nil
}

func (db DB) PutAppApplied(tenant, app string, a spinport.Applied) error {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Key("objects").Object()
	for _, k := range sortedKeys(a) {
		w.Str(k, a[k])
	}
	w.End().End()
	return db.B.Set(appliedKey(tenant, app), w.Bytes())
}

// ForgetAppApplied makes the next apply send everything (after a failed
// apply, whose objects are in an unknown state, or when the app goes).
func (db DB) ForgetAppApplied(tenant, app string) error {
	return db.B.Delete(appliedKey(tenant, app))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func tenantAppliedKey(t string) string { return tenantPrefix(t) + "/applied" }

// TenantApplied is the digest of the tenant's objects as last applied, ""
// when unknown (the next apply sends them).
func (db DB) TenantApplied(tenant string) (string, error) {
	b, err := db.B.Get(tenantAppliedKey(tenant))
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return string(b), err
}

func (db DB) PutTenantApplied(tenant, digest string) error {
	return db.B.Set(tenantAppliedKey(tenant), []byte(digest))
}

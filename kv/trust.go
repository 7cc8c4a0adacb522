package kv

import (
	"strconv"
	"time"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/jsonw"
	"github.com/valyala/fastjson"
)

// CI trust policies (per app), exchanged OIDC token ids (replay
// protection) and cached issuer keys.

func (db DB) trust(t, a string) Collection { return db.coll(appPrefix(t, a) + "/trust") }

func (db DB) CreateTrustPolicy(p spinport.TrustPolicy) error {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("id", p.ID).Str("tenant", p.Tenant).Str("app", p.App).Str("provider", p.Provider).
		Str("issuer", p.Issuer).OptStr("repositoryId", p.RepositoryID).OptStr("repositoryOwnerId", p.RepositoryOwnerID).
		OptStr("repository", p.Repository).OptStr("workflow", p.Workflow).OptStr("environment", p.Environment).
		OptStr("projectId", p.ProjectID).Flag("protectedOnly", p.ProtectedOnly).Strings("refs", p.Refs).
		Num("createdAt", p.CreatedAt).Str("createdBy", p.CreatedBy).End()
	return db.trust(p.Tenant, p.App).Create(p.ID, w.Bytes())
}

func readTrustPolicy(r *fastjson.Value) spinport.TrustPolicy {
	g := func(k string) string { return str(r.Get(k)) }
	return spinport.TrustPolicy{ID: g("id"), Tenant: g("tenant"), App: g("app"), Provider: g("provider"), Issuer: g("issuer"),
		RepositoryID: g("repositoryId"), RepositoryOwnerID: g("repositoryOwnerId"), Repository: g("repository"),
		Workflow: g("workflow"), Environment: g("environment"), ProjectID: g("projectId"), ProtectedOnly: flag(r.Get("protectedOnly")),
		Refs: strings(r.Get("refs")), CreatedAt: num(r.Get("createdAt")), CreatedBy: g("createdBy")}
}

func (db DB) ListTrustPolicies(tenant, app, cursor string, limit int) ([]spinport.TrustPolicy, string, error) {
	return listDocs(db.trust(tenant, app), cursor, limit, readTrustPolicy)
}

func (db DB) DeleteTrustPolicy(tenant, app, id string) error {
	if _, err := db.trust(tenant, app).Get(id); err != nil {
		return err
	}
	return db.trust(tenant, app).Delete(id)
}

func (db DB) deleteTrust(tenant, app string) error {
	return db.eachName(db.trust(tenant, app), func(id string) error { return db.trust(tenant, app).Delete(id) })
}

// ClaimTokenID records that the OIDC token (issuer, jti) was exchanged;
// false when it already was: a replay.
func (db DB) ClaimTokenID(issuer, jti string) (bool, error) {
	return db.B.SetNX(root+"ci/jti/"+digestHex(issuer+"\x00"+jti), formatInt(db.unix()))
}

// CachedKeys returns an issuer's cached JWKS and when it was fetched.
func (db DB) CachedKeys(issuer string) ([]byte, time.Time, bool) {
	b, err := db.B.Get(root + "ci/jwks/" + digestHex(issuer))
	if err != nil {
		return nil, time.Time{}, false
	}
	var p fastjson.Parser
	r, err := p.ParseBytes(b)
	if err != nil || r.Get("jwks") == nil {
		return nil, time.Time{}, false
	}
	// Re-encoded: the same keys, without the issuer's spacing.
	return r.Get("jwks").MarshalTo(nil), time.Unix(num(r.Get("fetched")), 0), true
}

func (db DB) CacheKeys(issuer string, jwks []byte) {
	if fastjson.ValidateBytes(jwks) != nil {
		return
	}
	b := []byte(`{"fetched":` + strconv.FormatInt(db.unix(), 10) + `,"jwks":` + string(jwks) + `}`)
	_ = db.B.Set(root+"ci/jwks/"+digestHex(issuer), b)
}

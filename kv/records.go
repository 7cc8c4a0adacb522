package kv

import (
	"errors"

	"github.com/spinport/spinport"

	"github.com/spinport/spinport/jsonw"
	"github.com/tidwall/gjson"
)

// SchemaVersion is written into every record. Readers accept this version
// and older ones; a newer version (written by a newer spinport during a
// rolling upgrade) is refused rather than misread.
const SchemaVersion = 1

// ErrCorrupt is returned for a stored document spinport cannot read.
var ErrCorrupt = errors.New("kv: stored record is unreadable")

func parse(b []byte) (gjson.Result, error) {
	if !gjson.ValidBytes(b) {
		return gjson.Result{}, ErrCorrupt
	}
	r := gjson.ParseBytes(b)
	if v := r.Get("schema").Int(); v > SchemaVersion {
		return gjson.Result{}, errors.New("kv: record written by a newer spinport (schema " + r.Get("schema").String() + ")")
	}
	return r, nil
}

func strings(r gjson.Result) []string {
	arr := r.Array()
	out := make([]string, 0, len(arr))
	for _, v := range arr {
		out = append(out, v.String())
	}
	return out
}

func marshalTenant(t spinport.Tenant) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("slug", t.Slug).Str("displayName", t.DisplayName)
	w.Key("quotas").Object().Num("maxApps", t.Quotas.MaxApps).Num("maxReplicasPerApp", t.Quotas.MaxReplicasPerApp).Num("maxTotalReplicas", t.Quotas.MaxTotalReplicas).End()
	w.Num("createdAt", t.CreatedAt).Str("createdBy", t.CreatedBy)
	if t.ClusterPending {
		w.Flag("clusterPending", true)
	}
	w.End()
	return w.Bytes()
}

func ParseTenant(b []byte) (spinport.Tenant, error) {
	r, err := parse(b)
	if err != nil {
		return spinport.Tenant{}, err
	}
	q := r.Get("quotas")
	return spinport.Tenant{
		Slug: r.Get("slug").String(), DisplayName: r.Get("displayName").String(),
		Quotas:    spinport.Quotas{MaxApps: q.Get("maxApps").Int(), MaxReplicasPerApp: q.Get("maxReplicasPerApp").Int(), MaxTotalReplicas: q.Get("maxTotalReplicas").Int()},
		CreatedAt: r.Get("createdAt").Int(), CreatedBy: r.Get("createdBy").String(),
		ClusterPending: r.Get("clusterPending").Bool(),
	}, nil
}

func marshalMember(m spinport.Member) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("user", m.UserID).Str("role", m.Role).Num("addedAt", m.AddedAt).Str("addedBy", m.AddedBy).End()
	return w.Bytes()
}

func ParseMember(b []byte) (spinport.Member, error) {
	r, err := parse(b)
	if err != nil {
		return spinport.Member{}, err
	}
	return spinport.Member{UserID: r.Get("user").String(), Role: r.Get("role").String(), AddedAt: r.Get("addedAt").Int(), AddedBy: r.Get("addedBy").String()}, nil
}

func marshalUser(u spinport.User) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("id", u.ID).Str("issuer", u.Issuer).Str("subject", u.Subject).
		Str("displayName", u.DisplayName).OptStr("email", u.Email).Num("createdAt", u.CreatedAt).End()
	return w.Bytes()
}

func ParseUser(b []byte) (spinport.User, error) {
	r, err := parse(b)
	if err != nil {
		return spinport.User{}, err
	}
	return spinport.User{ID: r.Get("id").String(), Issuer: r.Get("issuer").String(), Subject: r.Get("subject").String(),
		DisplayName: r.Get("displayName").String(), Email: r.Get("email").String(), CreatedAt: r.Get("createdAt").Int()}, nil
}

func writeScaling(w *jsonw.W, s spinport.Scaling) {
	w.Key("scaling").Object().Num("replicas", s.Replicas).Flag("autoscale", s.Autoscale).Num("minReplicas", s.MinReplicas).Num("maxReplicas", s.MaxReplicas).End()
}

func readScaling(r gjson.Result) spinport.Scaling {
	s := r.Get("scaling")
	return spinport.Scaling{Replicas: s.Get("replicas").Int(), Autoscale: s.Get("autoscale").Bool(), MinReplicas: s.Get("minReplicas").Int(), MaxReplicas: s.Get("maxReplicas").Int()}
}

func marshalApp(a spinport.App) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("tenant", a.Tenant).Str("name", a.Name)
	writeScaling(&w, a.Scaling)
	w.Strings("domains", a.Domains).Flag("kv", a.KV).Num("createdAt", a.CreatedAt).Num("updatedAt", a.UpdatedAt).Str("createdBy", a.CreatedBy).End()
	return w.Bytes()
}

func ParseApp(b []byte) (spinport.App, error) {
	r, err := parse(b)
	if err != nil {
		return spinport.App{}, err
	}
	return spinport.App{Tenant: r.Get("tenant").String(), Name: r.Get("name").String(), Scaling: readScaling(r),
		Domains: strings(r.Get("domains")), KV: r.Get("kv").Bool(), CreatedAt: r.Get("createdAt").Int(),
		UpdatedAt: r.Get("updatedAt").Int(), CreatedBy: r.Get("createdBy").String()}, nil
}

func marshalVariable(v spinport.Variable) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("name", v.Name).Flag("secret", v.Secret)
	if !v.Secret {
		w.Str("value", v.Value)
	}
	w.Num("updatedAt", v.UpdatedAt).End()
	return w.Bytes()
}

func ParseVariable(b []byte) (spinport.Variable, error) {
	r, err := parse(b)
	if err != nil {
		return spinport.Variable{}, err
	}
	return spinport.Variable{Name: r.Get("name").String(), Value: r.Get("value").String(), Secret: r.Get("secret").Bool(), UpdatedAt: r.Get("updatedAt").Int()}, nil
}

func marshalRevision(r spinport.Revision) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Num("number", r.Number).Str("image", r.Image).OptStr("digest", r.Digest).
		Str("source", r.Source).OptStr("gitRef", r.GitRef).OptStr("gitSha", r.GitSHA).Str("actor", r.Actor).
		Num("createdAt", r.CreatedAt).Str("state", r.State).OptStr("reason", r.Reason)
	if r.RollbackOf > 0 {
		w.Num("rollbackOf", r.RollbackOf)
	}
	w.OptStr("cause", r.Cause)
	writeScaling(&w, r.Scaling)
	w.Key("variables").Array()
	for _, v := range r.Variables {
		w.Raw(marshalVariable(v))
	}
	w.End().Strings("domains", r.Domains).Flag("kv", r.KV)
	if r.Artifact != nil {
		w.Key("artifact").Raw(MarshalArtifact(*r.Artifact))
	}
	writeCIRun(&w, r.CI)
	w.End()
	return w.Bytes()
}

// MarshalArtifact is an artifact's record (in a revision and in the
// per-digest cache).
func MarshalArtifact(a spinport.Artifact) []byte {
	var w jsonw.W
	w.Object().Strings("components", a.Components).Strings("routes", a.Routes).Key("variables").Array()
	for _, v := range a.Variables {
		w.Object().Str("name", v.Name).Flag("required", v.Required).Flag("secret", v.Secret).End()
	}
	w.End().Strings("keyValueStores", a.KeyValueStores).Strings("sqliteDatabases", a.SQLiteDatabases).
		Strings("allowedOutboundHosts", a.AllowedOutboundHosts).End()
	return w.Bytes()
}

func parseArtifact(r gjson.Result) *spinport.Artifact {
	if !r.Exists() {
		return nil
	}
	a := &spinport.Artifact{Components: strings(r.Get("components")), Routes: strings(r.Get("routes")),
		KeyValueStores: strings(r.Get("keyValueStores")), SQLiteDatabases: strings(r.Get("sqliteDatabases")),
		AllowedOutboundHosts: strings(r.Get("allowedOutboundHosts"))}
	for _, v := range r.Get("variables").Array() {
		a.Variables = append(a.Variables, spinport.ArtifactVariable{Name: v.Get("name").String(), Required: v.Get("required").Bool(), Secret: v.Get("secret").Bool()})
	}
	return a
}

func ParseRevision(b []byte) (spinport.Revision, error) {
	r, err := parse(b)
	if err != nil {
		return spinport.Revision{}, err
	}
	rev := spinport.Revision{Number: r.Get("number").Int(), Image: r.Get("image").String(), Digest: r.Get("digest").String(),
		Source: r.Get("source").String(), GitRef: r.Get("gitRef").String(), GitSHA: r.Get("gitSha").String(),
		Actor: r.Get("actor").String(), CreatedAt: r.Get("createdAt").Int(), State: r.Get("state").String(),
		Reason: r.Get("reason").String(), RollbackOf: r.Get("rollbackOf").Int(), Cause: r.Get("cause").String(), Scaling: readScaling(r),
		Domains: strings(r.Get("domains")), KV: r.Get("kv").Bool(), Artifact: parseArtifact(r.Get("artifact")), CI: readCIRun(r.Get("ci"))}
	for _, v := range r.Get("variables").Array() {
		rev.Variables = append(rev.Variables, spinport.Variable{Name: v.Get("name").String(), Value: v.Get("value").String(), Secret: v.Get("secret").Bool()})
	}
	return rev, nil
}

func marshalToken(t spinport.Token) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("id", t.ID).Str("tenant", t.Tenant).Str("name", t.Name).
		Strings("scopes", t.Scopes).OptStr("app", t.App).Str("sha256", t.Hash).Num("createdAt", t.CreatedAt).
		Str("createdBy", t.CreatedBy).Num("expiresAt", t.ExpiresAt).Num("lastUsed", t.LastUsed)
	writeCIRun(&w, t.CI)
	w.End()
	return w.Bytes()
}

func writeCIRun(w *jsonw.W, c *spinport.CIRun) {
	if c == nil {
		return
	}
	w.Key("ci").Object().Str("issuer", c.Issuer).Str("repository", c.Repository).Str("ref", c.Ref).Str("sha", c.SHA).
		Str("workflow", c.Workflow).Str("run", c.Run).End()
}

func readCIRun(r gjson.Result) *spinport.CIRun {
	if !r.Exists() {
		return nil
	}
	return &spinport.CIRun{Issuer: r.Get("issuer").String(), Repository: r.Get("repository").String(), Ref: r.Get("ref").String(),
		SHA: r.Get("sha").String(), Workflow: r.Get("workflow").String(), Run: r.Get("run").String()}
}

func ParseToken(b []byte) (spinport.Token, error) {
	r, err := parse(b)
	if err != nil {
		return spinport.Token{}, err
	}
	return spinport.Token{ID: r.Get("id").String(), Tenant: r.Get("tenant").String(), Name: r.Get("name").String(),
		Scopes: strings(r.Get("scopes")), App: r.Get("app").String(), Hash: r.Get("sha256").String(),
		CreatedAt: r.Get("createdAt").Int(), CreatedBy: r.Get("createdBy").String(),
		ExpiresAt: r.Get("expiresAt").Int(), LastUsed: r.Get("lastUsed").Int(), CI: readCIRun(r.Get("ci"))}, nil
}

func marshalAuditEvent(e spinport.AuditEvent) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Num("seq", e.Seq).Num("time", e.Time).Str("actor", e.Actor).
		Str("action", e.Action).Str("target", e.Target).Str("outcome", e.Outcome).OptStr("detail", e.Detail).End()
	return w.Bytes()
}

func ParseAuditEvent(b []byte) (spinport.AuditEvent, error) {
	r, err := parse(b)
	if err != nil {
		return spinport.AuditEvent{}, err
	}
	return spinport.AuditEvent{Seq: r.Get("seq").Int(), Time: r.Get("time").Int(), Actor: r.Get("actor").String(),
		Action: r.Get("action").String(), Target: r.Get("target").String(), Outcome: r.Get("outcome").String(),
		Detail: r.Get("detail").String()}, nil
}

func marshalDomainClaim(d spinport.DomainClaim) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("host", d.Host).Str("tenant", d.Tenant).Str("app", d.App).
		OptStr("state", d.State).OptStr("token", d.Token).Num("verifiedAt", d.VerifiedAt).Num("checkedAt", d.CheckedAt).End()
	return w.Bytes()
}

func ParseDomainClaim(b []byte) (spinport.DomainClaim, error) {
	r, err := parse(b)
	if err != nil {
		return spinport.DomainClaim{}, err
	}
	return spinport.DomainClaim{Host: r.Get("host").String(), Tenant: r.Get("tenant").String(), App: r.Get("app").String(),
		State: r.Get("state").String(), Token: r.Get("token").String(), VerifiedAt: r.Get("verifiedAt").Int(), CheckedAt: r.Get("checkedAt").Int()}, nil
}

func marshalSession(s spinport.Session) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("user", s.UserID).Str("csrf", s.CSRF).Num("createdAt", s.CreatedAt).Num("expiresAt", s.ExpiresAt).End()
	return w.Bytes()
}

func ParseSession(b []byte) (spinport.Session, error) {
	r, err := parse(b)
	if err != nil {
		return spinport.Session{}, err
	}
	return spinport.Session{UserID: r.Get("user").String(), CSRF: r.Get("csrf").String(), CreatedAt: r.Get("createdAt").Int(), ExpiresAt: r.Get("expiresAt").Int()}, nil
}

// Idempotency is the record of one Idempotency-Key: the hash of the first
// request that carried it, and its answer once there is one. Until is the
// deadline after which the record counts as absent (Spin's KV store has no
// expiry). Body is raw JSON and never holds a secret.
type Idempotency struct {
	Hash    string // hex SHA-256 of method, path and body of the first request
	Pending bool   // the first request has not answered yet
	Status  int
	Body    []byte
	Until   int64
}

func (r Idempotency) Marshal() []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("hash", r.Hash).Num("until", r.Until)
	if r.Pending {
		w.Flag("pending", true)
	} else {
		w.Num("status", int64(r.Status))
		if len(r.Body) > 0 {
			w.Key("body").Raw(r.Body)
		}
	}
	w.End()
	return w.Bytes()
}

func ParseIdempotency(b []byte) (Idempotency, error) {
	r, err := parse(b)
	if err != nil {
		return Idempotency{}, err
	}
	rec := Idempotency{Hash: r.Get("hash").String(), Pending: r.Get("pending").Bool(), Status: int(r.Get("status").Int()), Until: r.Get("until").Int()}
	if body := r.Get("body"); body.Exists() {
		rec.Body = []byte(body.Raw)
	}
	return rec, nil
}

func marshalRegistryCredential(c spinport.RegistryCredential) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("registry", c.Registry).Str("username", c.Username).
		Num("updatedAt", c.UpdatedAt).Str("updatedBy", c.UpdatedBy).End()
	return w.Bytes()
}

func parseRegistryCredential(b []byte) (spinport.RegistryCredential, error) {
	r, err := parse(b)
	if err != nil {
		return spinport.RegistryCredential{}, err
	}
	return spinport.RegistryCredential{Registry: r.Get("registry").String(), Username: r.Get("username").String(),
		UpdatedAt: r.Get("updatedAt").Int(), UpdatedBy: r.Get("updatedBy").String()}, nil
}

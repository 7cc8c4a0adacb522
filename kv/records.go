package kv

import (
	"errors"
	"strconv"
	gostrings "strings"

	"github.com/spinport/spinport"

	"github.com/spinport/spinport/jsonw"
	"github.com/valyala/fastjson"
)

// SchemaVersion is written into every record. Readers accept this version
// and older ones; a newer version (written by a newer spinport during a
// rolling upgrade) is refused rather than misread.
const SchemaVersion = 1

// ErrCorrupt is returned for a stored document spinport cannot read.
var ErrCorrupt = errors.New("kv: stored record is unreadable")

// parse reads a record in one pass (gjson rescanned the document for each
// field: most of the cost of a list page under TinyGo). The values point
// into p's buffers until its next parse, so readers copy strings out (str)
// and a list reuses one parser for its page: a fresh parser allocates ~2 KB
// per record, which in a leaking-GC instance costs more than the parse.
func parse(p *fastjson.Parser, b []byte) (*fastjson.Value, error) {
	r, err := p.ParseBytes(b)
	if err != nil {
		return nil, ErrCorrupt
	}
	return r, checkSchema(r)
}

// checkSchema refuses a record written by a newer spinport.
func checkSchema(r *fastjson.Value) error {
	if v := r.Get("schema"); num(v) > SchemaVersion {
		return errors.New("kv: record written by a newer spinport (schema " + str(v) + ")")
	}
	return nil
}

// parseOne parses a single record with a parser of its own.
func parseOne[T any](b []byte, read func(*fastjson.Value) T) (T, error) {
	var p fastjson.Parser
	r, err := parse(&p, b)
	if err != nil {
		var zero T
		return zero, err
	}
	return read(r), nil
}

// str, num, flag and elems read a field (nil when missing) the way gjson's
// String, Int, Bool and Array did, so records read as before whatever the
// type found: a missing field is the zero value, a number or a numeric
// string converts, a single value is a one-element array.

func str(v *fastjson.Value) string {
	if v == nil {
		return ""
	}
	switch v.Type() {
	case fastjson.TypeString:
		return string(v.GetStringBytes()) // a copy: v points into the parser
	case fastjson.TypeNumber:
		raw := v.String()
		if _, ok := atoi(raw); ok {
			return raw
		}
		f, _ := strconv.ParseFloat(raw, 64)
		return strconv.FormatFloat(f, 'f', -1, 64)
	case fastjson.TypeTrue:
		return "true"
	case fastjson.TypeFalse:
		return "false"
	case fastjson.TypeObject, fastjson.TypeArray:
		return v.String() // compact: gjson kept the stored spacing
	}
	return ""
}

func num(v *fastjson.Value) int64 {
	if v == nil {
		return 0
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		if n, err := v.Int64(); err == nil { // what spinport writes
			return n
		}
		raw := v.String()
		f, _ := strconv.ParseFloat(raw, 64)
		if f >= -9007199254740991 && f <= 9007199254740991 { // exact in a float64
			return int64(f)
		}
		if n, ok := atoi(raw); ok {
			return n
		}
		return int64(f)
	case fastjson.TypeString:
		n, _ := atoi(string(v.GetStringBytes()))
		return n
	case fastjson.TypeTrue:
		return 1
	}
	return 0
}

// atoi is gjson's integer parse: an optional minus and digits, no range check.
func atoi(s string) (int64, bool) {
	i, neg := 0, len(s) > 0 && s[0] == '-'
	if neg {
		i++
	}
	if i == len(s) {
		return 0, false
	}
	var n int64
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func flag(v *fastjson.Value) bool {
	if v == nil {
		return false
	}
	switch v.Type() {
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeString:
		b, _ := strconv.ParseBool(gostrings.ToLower(string(v.GetStringBytes())))
		return b
	case fastjson.TypeNumber:
		f, _ := strconv.ParseFloat(v.String(), 64)
		return f != 0
	}
	return false
}

func elems(v *fastjson.Value) []*fastjson.Value {
	if v == nil {
		return nil
	}
	switch v.Type() {
	case fastjson.TypeNull:
		return nil
	case fastjson.TypeArray:
		return v.GetArray()
	}
	return []*fastjson.Value{v}
}

// strings reads an array of strings, never nil (a missing field is []).
func strings(v *fastjson.Value) []string {
	arr := elems(v)
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		out = append(out, str(e))
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

func ParseTenant(b []byte) (spinport.Tenant, error) { return parseOne(b, readTenant) }

func readTenant(r *fastjson.Value) spinport.Tenant {
	q := r.Get("quotas")
	return spinport.Tenant{
		Slug: str(r.Get("slug")), DisplayName: str(r.Get("displayName")),
		Quotas:    spinport.Quotas{MaxApps: num(q.Get("maxApps")), MaxReplicasPerApp: num(q.Get("maxReplicasPerApp")), MaxTotalReplicas: num(q.Get("maxTotalReplicas"))},
		CreatedAt: num(r.Get("createdAt")), CreatedBy: str(r.Get("createdBy")),
		ClusterPending: flag(r.Get("clusterPending")),
	}
}

func marshalMember(m spinport.Member) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("user", m.UserID).Str("role", m.Role).Num("addedAt", m.AddedAt).Str("addedBy", m.AddedBy).End()
	return w.Bytes()
}

func ParseMember(b []byte) (spinport.Member, error) { return parseOne(b, readMember) }

func readMember(r *fastjson.Value) spinport.Member {
	return spinport.Member{UserID: str(r.Get("user")), Role: str(r.Get("role")), AddedAt: num(r.Get("addedAt")), AddedBy: str(r.Get("addedBy"))}
}

func marshalUser(u spinport.User) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("id", u.ID).Str("issuer", u.Issuer).Str("subject", u.Subject).
		Str("displayName", u.DisplayName).OptStr("email", u.Email).Num("createdAt", u.CreatedAt).End()
	return w.Bytes()
}

func ParseUser(b []byte) (spinport.User, error) { return parseOne(b, readUser) }

func readUser(r *fastjson.Value) spinport.User {
	return spinport.User{ID: str(r.Get("id")), Issuer: str(r.Get("issuer")), Subject: str(r.Get("subject")),
		DisplayName: str(r.Get("displayName")), Email: str(r.Get("email")), CreatedAt: num(r.Get("createdAt"))}
}

func writeScaling(w *jsonw.W, s spinport.Scaling) {
	w.Key("scaling").Object().Num("replicas", s.Replicas).Flag("autoscale", s.Autoscale).Num("minReplicas", s.MinReplicas).Num("maxReplicas", s.MaxReplicas).End()
}

func readScaling(r *fastjson.Value) spinport.Scaling {
	s := r.Get("scaling")
	return spinport.Scaling{Replicas: num(s.Get("replicas")), Autoscale: flag(s.Get("autoscale")), MinReplicas: num(s.Get("minReplicas")), MaxReplicas: num(s.Get("maxReplicas"))}
}

func marshalApp(a spinport.App) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("tenant", a.Tenant).Str("name", a.Name)
	writeScaling(&w, a.Scaling)
	w.Strings("domains", a.Domains).Flag("kv", a.KV).Num("createdAt", a.CreatedAt).Num("updatedAt", a.UpdatedAt).Str("createdBy", a.CreatedBy).End()
	return w.Bytes()
}

func ParseApp(b []byte) (spinport.App, error) { return parseOne(b, readApp) }

func readApp(r *fastjson.Value) spinport.App {
	return spinport.App{Tenant: str(r.Get("tenant")), Name: str(r.Get("name")), Scaling: readScaling(r),
		Domains: strings(r.Get("domains")), KV: flag(r.Get("kv")), CreatedAt: num(r.Get("createdAt")),
		UpdatedAt: num(r.Get("updatedAt")), CreatedBy: str(r.Get("createdBy"))}
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

func ParseVariable(b []byte) (spinport.Variable, error) { return parseOne(b, readVariable) }

func readVariable(r *fastjson.Value) spinport.Variable {
	return spinport.Variable{Name: str(r.Get("name")), Value: str(r.Get("value")), Secret: flag(r.Get("secret")), UpdatedAt: num(r.Get("updatedAt"))}
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

func parseArtifact(r *fastjson.Value) *spinport.Artifact {
	if r == nil {
		return nil
	}
	a := &spinport.Artifact{Components: strings(r.Get("components")), Routes: strings(r.Get("routes")),
		KeyValueStores: strings(r.Get("keyValueStores")), SQLiteDatabases: strings(r.Get("sqliteDatabases")),
		AllowedOutboundHosts: strings(r.Get("allowedOutboundHosts"))}
	for _, v := range elems(r.Get("variables")) {
		a.Variables = append(a.Variables, spinport.ArtifactVariable{Name: str(v.Get("name")), Required: flag(v.Get("required")), Secret: flag(v.Get("secret"))})
	}
	return a
}

func ParseRevision(b []byte) (spinport.Revision, error) { return parseOne(b, readRevision) }

func readRevision(r *fastjson.Value) spinport.Revision {
	rev := spinport.Revision{Number: num(r.Get("number")), Image: str(r.Get("image")), Digest: str(r.Get("digest")),
		Source: str(r.Get("source")), GitRef: str(r.Get("gitRef")), GitSHA: str(r.Get("gitSha")),
		Actor: str(r.Get("actor")), CreatedAt: num(r.Get("createdAt")), State: str(r.Get("state")),
		Reason: str(r.Get("reason")), RollbackOf: num(r.Get("rollbackOf")), Cause: str(r.Get("cause")), Scaling: readScaling(r),
		Domains: strings(r.Get("domains")), KV: flag(r.Get("kv")), Artifact: parseArtifact(r.Get("artifact")), CI: readCIRun(r.Get("ci"))}
	for _, v := range elems(r.Get("variables")) {
		rev.Variables = append(rev.Variables, spinport.Variable{Name: str(v.Get("name")), Value: str(v.Get("value")), Secret: flag(v.Get("secret"))})
	}
	return rev
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

func readCIRun(r *fastjson.Value) *spinport.CIRun {
	if r == nil {
		return nil
	}
	return &spinport.CIRun{Issuer: str(r.Get("issuer")), Repository: str(r.Get("repository")), Ref: str(r.Get("ref")),
		SHA: str(r.Get("sha")), Workflow: str(r.Get("workflow")), Run: str(r.Get("run"))}
}

func ParseToken(b []byte) (spinport.Token, error) { return parseOne(b, readToken) }

func readToken(r *fastjson.Value) spinport.Token {
	return spinport.Token{ID: str(r.Get("id")), Tenant: str(r.Get("tenant")), Name: str(r.Get("name")),
		Scopes: strings(r.Get("scopes")), App: str(r.Get("app")), Hash: str(r.Get("sha256")),
		CreatedAt: num(r.Get("createdAt")), CreatedBy: str(r.Get("createdBy")),
		ExpiresAt: num(r.Get("expiresAt")), LastUsed: num(r.Get("lastUsed")), CI: readCIRun(r.Get("ci"))}
}

func marshalAuditEvent(e spinport.AuditEvent) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Num("seq", e.Seq).Num("time", e.Time).Str("actor", e.Actor).
		Str("action", e.Action).Str("target", e.Target).Str("outcome", e.Outcome).OptStr("detail", e.Detail).End()
	return w.Bytes()
}

func ParseAuditEvent(b []byte) (spinport.AuditEvent, error) { return parseOne(b, readAuditEvent) }

func readAuditEvent(r *fastjson.Value) spinport.AuditEvent {
	return spinport.AuditEvent{Seq: num(r.Get("seq")), Time: num(r.Get("time")), Actor: str(r.Get("actor")),
		Action: str(r.Get("action")), Target: str(r.Get("target")), Outcome: str(r.Get("outcome")),
		Detail: str(r.Get("detail"))}
}

func marshalDomainClaim(d spinport.DomainClaim) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("host", d.Host).Str("tenant", d.Tenant).Str("app", d.App).
		OptStr("state", d.State).OptStr("token", d.Token).Num("verifiedAt", d.VerifiedAt).Num("checkedAt", d.CheckedAt).End()
	return w.Bytes()
}

func ParseDomainClaim(b []byte) (spinport.DomainClaim, error) { return parseOne(b, readDomainClaim) }

func readDomainClaim(r *fastjson.Value) spinport.DomainClaim {
	return spinport.DomainClaim{Host: str(r.Get("host")), Tenant: str(r.Get("tenant")), App: str(r.Get("app")),
		State: str(r.Get("state")), Token: str(r.Get("token")), VerifiedAt: num(r.Get("verifiedAt")), CheckedAt: num(r.Get("checkedAt"))}
}

func marshalSession(s spinport.Session) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("user", s.UserID).Str("csrf", s.CSRF).Num("createdAt", s.CreatedAt).Num("expiresAt", s.ExpiresAt).End()
	return w.Bytes()
}

func ParseSession(b []byte) (spinport.Session, error) { return parseOne(b, readSession) }

func readSession(r *fastjson.Value) spinport.Session {
	return spinport.Session{UserID: str(r.Get("user")), CSRF: str(r.Get("csrf")), CreatedAt: num(r.Get("createdAt")), ExpiresAt: num(r.Get("expiresAt"))}
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

func ParseIdempotency(b []byte) (Idempotency, error) { return parseOne(b, readIdempotency) }

func readIdempotency(r *fastjson.Value) Idempotency {
	rec := Idempotency{Hash: str(r.Get("hash")), Pending: flag(r.Get("pending")), Status: int(num(r.Get("status"))), Until: num(r.Get("until"))}
	if body := r.Get("body"); body != nil {
		// Re-encoded: an untouched value keeps its strings, numbers and keys
		// as stored, so a compact answer (jsonw's) comes back byte for byte.
		rec.Body = body.MarshalTo(nil)
	}
	return rec
}

func marshalRegistryCredential(c spinport.RegistryCredential) []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("registry", c.Registry).Str("username", c.Username).
		Num("updatedAt", c.UpdatedAt).Str("updatedBy", c.UpdatedBy).End()
	return w.Bytes()
}

func parseRegistryCredential(b []byte) (spinport.RegistryCredential, error) {
	return parseOne(b, readRegistryCredential)
}

func readRegistryCredential(r *fastjson.Value) spinport.RegistryCredential {
	return spinport.RegistryCredential{Registry: str(r.Get("registry")), Username: str(r.Get("username")),
		UpdatedAt: num(r.Get("updatedAt")), UpdatedBy: str(r.Get("updatedBy"))}
}

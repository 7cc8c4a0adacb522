package kv

import (
	"errors"

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

// Roles, weakest first.
const (
	RoleViewer   = "viewer"
	RoleDeployer = "deployer"
	RoleOwner    = "owner"
)

// RoleRank orders roles; 0 means not a role.
func RoleRank(role string) int {
	switch role {
	case RoleViewer:
		return 1
	case RoleDeployer:
		return 2
	case RoleOwner:
		return 3
	}
	return 0
}

// Quotas bound what a tenant may run.
type Quotas struct {
	MaxApps           int64
	MaxReplicasPerApp int64
	MaxTotalReplicas  int64
}

// DefaultQuotas apply when a tenant is created without quotas.
var DefaultQuotas = Quotas{MaxApps: 20, MaxReplicasPerApp: 5, MaxTotalReplicas: 40}

// Tenant is a team that owns apps. Members are kept in their own collection.
type Tenant struct {
	Slug        string
	DisplayName string
	Quotas      Quotas
	CreatedAt   int64
	CreatedBy   string
	// ClusterPending: the tenant's cluster objects (namespace, quota,
	// executor) have not been applied yet, because Kubernetes refused or
	// was unreachable when the tenant was created. The next write that
	// needs them (a retried create, a secret, a deploy) applies them.
	ClusterPending bool
}

func (t Tenant) Marshal() []byte {
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

func ParseTenant(b []byte) (Tenant, error) {
	r, err := parse(b)
	if err != nil {
		return Tenant{}, err
	}
	q := r.Get("quotas")
	return Tenant{
		Slug: r.Get("slug").String(), DisplayName: r.Get("displayName").String(),
		Quotas:    Quotas{MaxApps: q.Get("maxApps").Int(), MaxReplicasPerApp: q.Get("maxReplicasPerApp").Int(), MaxTotalReplicas: q.Get("maxTotalReplicas").Int()},
		CreatedAt: r.Get("createdAt").Int(), CreatedBy: r.Get("createdBy").String(),
		ClusterPending: r.Get("clusterPending").Bool(),
	}, nil
}

// Member is one user's role in a tenant.
type Member struct {
	UserID  string
	Role    string
	AddedAt int64
	AddedBy string
}

func (m Member) Marshal() []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("user", m.UserID).Str("role", m.Role).Num("addedAt", m.AddedAt).Str("addedBy", m.AddedBy).End()
	return w.Bytes()
}

func ParseMember(b []byte) (Member, error) {
	r, err := parse(b)
	if err != nil {
		return Member{}, err
	}
	return Member{UserID: r.Get("user").String(), Role: r.Get("role").String(), AddedAt: r.Get("addedAt").Int(), AddedBy: r.Get("addedBy").String()}, nil
}

// User is a person known through an identity provider (issuer + subject).
type User struct {
	ID          string
	Issuer      string
	Subject     string
	DisplayName string
	Email       string
	CreatedAt   int64
}

func (u User) Marshal() []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("id", u.ID).Str("issuer", u.Issuer).Str("subject", u.Subject).
		Str("displayName", u.DisplayName).OptStr("email", u.Email).Num("createdAt", u.CreatedAt).End()
	return w.Bytes()
}

func ParseUser(b []byte) (User, error) {
	r, err := parse(b)
	if err != nil {
		return User{}, err
	}
	return User{ID: r.Get("id").String(), Issuer: r.Get("issuer").String(), Subject: r.Get("subject").String(),
		DisplayName: r.Get("displayName").String(), Email: r.Get("email").String(), CreatedAt: r.Get("createdAt").Int()}, nil
}

// Scaling is either a fixed replica count or autoscaling bounds.
type Scaling struct {
	Replicas    int64
	Autoscale   bool
	MinReplicas int64
	MaxReplicas int64
}

// Peak is the most replicas the scaling can run, for quota accounting.
func (s Scaling) Peak() int64 {
	if s.Autoscale {
		return s.MaxReplicas
	}
	return s.Replicas
}

func (s Scaling) write(w *jsonw.W) {
	w.Key("scaling").Object().Num("replicas", s.Replicas).Flag("autoscale", s.Autoscale).Num("minReplicas", s.MinReplicas).Num("maxReplicas", s.MaxReplicas).End()
}

func readScaling(r gjson.Result) Scaling {
	s := r.Get("scaling")
	return Scaling{Replicas: s.Get("replicas").Int(), Autoscale: s.Get("autoscale").Bool(), MinReplicas: s.Get("minReplicas").Int(), MaxReplicas: s.Get("maxReplicas").Int()}
}

// App is a tenant's Spin application. Variables live in their own
// collection (one key each) and the current revision in its own key, so
// concurrent variable sets and deploys never overwrite the app record.
type App struct {
	Tenant    string
	Name      string
	Scaling   Scaling
	Domains   []string
	KV        bool // bind a Redis-backed KV store (runtime config secret)
	CreatedAt int64
	UpdatedAt int64
	CreatedBy string
}

func (a App) Marshal() []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("tenant", a.Tenant).Str("name", a.Name)
	a.Scaling.write(&w)
	w.Strings("domains", a.Domains).Flag("kv", a.KV).Num("createdAt", a.CreatedAt).Num("updatedAt", a.UpdatedAt).Str("createdBy", a.CreatedBy).End()
	return w.Bytes()
}

func ParseApp(b []byte) (App, error) {
	r, err := parse(b)
	if err != nil {
		return App{}, err
	}
	return App{Tenant: r.Get("tenant").String(), Name: r.Get("name").String(), Scaling: readScaling(r),
		Domains: strings(r.Get("domains")), KV: r.Get("kv").Bool(), CreatedAt: r.Get("createdAt").Int(),
		UpdatedAt: r.Get("updatedAt").Int(), CreatedBy: r.Get("createdBy").String()}, nil
}

// Variable is an app variable. A secret's value is never stored here: it
// goes straight to the app's Kubernetes Secret.
type Variable struct {
	Name      string
	Value     string
	Secret    bool
	UpdatedAt int64
}

func (v Variable) Marshal() []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("name", v.Name).Flag("secret", v.Secret)
	if !v.Secret {
		w.Str("value", v.Value)
	}
	w.Num("updatedAt", v.UpdatedAt).End()
	return w.Bytes()
}

func ParseVariable(b []byte) (Variable, error) {
	r, err := parse(b)
	if err != nil {
		return Variable{}, err
	}
	return Variable{Name: r.Get("name").String(), Value: r.Get("value").String(), Secret: r.Get("secret").Bool(), UpdatedAt: r.Get("updatedAt").Int()}, nil
}

// Revision causes.
const (
	CauseDeploy   = "deploy"
	CauseRollback = "rollback"
	CauseConfig   = "config"
)

// Revision states.
const (
	StatePending = "pending" // recorded, not yet applied
	StateApplied = "applied"
	StateReady   = "ready"
	StateFailed  = "failed"
)

// Revision is one deploy of an app: the image and the app spec it ran with.
type Revision struct {
	Number     int64
	Image      string // as given: registry/repo[:tag][@sha256:...]
	Digest     string // sha256:... when known
	Source     string // portal, api or ci
	GitRef     string
	GitSHA     string
	Actor      string
	CreatedAt  int64
	State      string
	Reason     string
	RollbackOf int64
	Cause      string // deploy, rollback or config (variables or settings changed)
	Scaling    Scaling
	Variables  []Variable // plain values and secret names at deploy time
	Domains    []string
	KV         bool
}

func (r Revision) Marshal() []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Num("number", r.Number).Str("image", r.Image).OptStr("digest", r.Digest).
		Str("source", r.Source).OptStr("gitRef", r.GitRef).OptStr("gitSha", r.GitSHA).Str("actor", r.Actor).
		Num("createdAt", r.CreatedAt).Str("state", r.State).OptStr("reason", r.Reason)
	if r.RollbackOf > 0 {
		w.Num("rollbackOf", r.RollbackOf)
	}
	w.OptStr("cause", r.Cause)
	r.Scaling.write(&w)
	w.Key("variables").Array()
	for _, v := range r.Variables {
		w.Raw(v.Marshal())
	}
	w.End().Strings("domains", r.Domains).Flag("kv", r.KV).End()
	return w.Bytes()
}

func ParseRevision(b []byte) (Revision, error) {
	r, err := parse(b)
	if err != nil {
		return Revision{}, err
	}
	rev := Revision{Number: r.Get("number").Int(), Image: r.Get("image").String(), Digest: r.Get("digest").String(),
		Source: r.Get("source").String(), GitRef: r.Get("gitRef").String(), GitSHA: r.Get("gitSha").String(),
		Actor: r.Get("actor").String(), CreatedAt: r.Get("createdAt").Int(), State: r.Get("state").String(),
		Reason: r.Get("reason").String(), RollbackOf: r.Get("rollbackOf").Int(), Cause: r.Get("cause").String(), Scaling: readScaling(r),
		Domains: strings(r.Get("domains")), KV: r.Get("kv").Bool()}
	for _, v := range r.Get("variables").Array() {
		rev.Variables = append(rev.Variables, Variable{Name: v.Get("name").String(), Value: v.Get("value").String(), Secret: v.Get("secret").Bool()})
	}
	return rev, nil
}

// Token is an API token. Only the SHA-256 of its secret is stored.
type Token struct {
	ID        string
	Tenant    string
	Name      string
	Scopes    []string // read, deploy, manage
	App       string   // optional: only this app
	Hash      string   // hex SHA-256 of the secret part
	CreatedAt int64
	CreatedBy string
	ExpiresAt int64
	LastUsed  int64
}

func (t Token) Marshal() []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("id", t.ID).Str("tenant", t.Tenant).Str("name", t.Name).
		Strings("scopes", t.Scopes).OptStr("app", t.App).Str("sha256", t.Hash).Num("createdAt", t.CreatedAt).
		Str("createdBy", t.CreatedBy).Num("expiresAt", t.ExpiresAt).Num("lastUsed", t.LastUsed).End()
	return w.Bytes()
}

func ParseToken(b []byte) (Token, error) {
	r, err := parse(b)
	if err != nil {
		return Token{}, err
	}
	return Token{ID: r.Get("id").String(), Tenant: r.Get("tenant").String(), Name: r.Get("name").String(),
		Scopes: strings(r.Get("scopes")), App: r.Get("app").String(), Hash: r.Get("sha256").String(),
		CreatedAt: r.Get("createdAt").Int(), CreatedBy: r.Get("createdBy").String(),
		ExpiresAt: r.Get("expiresAt").Int(), LastUsed: r.Get("lastUsed").Int()}, nil
}

// AuditEvent records one change (or refused change) in a tenant.
type AuditEvent struct {
	Seq     int64
	Time    int64
	Actor   string
	Action  string // e.g. app.create, deploy, token.revoke
	Target  string // e.g. app/web, token/abc
	Outcome string // ok, denied, failed
	Detail  string
}

func (e AuditEvent) Marshal() []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Num("seq", e.Seq).Num("time", e.Time).Str("actor", e.Actor).
		Str("action", e.Action).Str("target", e.Target).Str("outcome", e.Outcome).OptStr("detail", e.Detail).End()
	return w.Bytes()
}

func ParseAuditEvent(b []byte) (AuditEvent, error) {
	r, err := parse(b)
	if err != nil {
		return AuditEvent{}, err
	}
	return AuditEvent{Seq: r.Get("seq").Int(), Time: r.Get("time").Int(), Actor: r.Get("actor").String(),
		Action: r.Get("action").String(), Target: r.Get("target").String(), Outcome: r.Get("outcome").String(),
		Detail: r.Get("detail").String()}, nil
}

// DomainClaim reserves a host name for one app across the installation.
type DomainClaim struct {
	Host   string
	Tenant string
	App    string
}

func (d DomainClaim) Marshal() []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("host", d.Host).Str("tenant", d.Tenant).Str("app", d.App).End()
	return w.Bytes()
}

func ParseDomainClaim(b []byte) (DomainClaim, error) {
	r, err := parse(b)
	if err != nil {
		return DomainClaim{}, err
	}
	return DomainClaim{Host: r.Get("host").String(), Tenant: r.Get("tenant").String(), App: r.Get("app").String()}, nil
}

// Session is a signed-in portal browser. Stored under the SHA-256 of the
// cookie value, so the KV store never holds a usable session secret.
type Session struct {
	UserID    string
	CSRF      string
	CreatedAt int64
	ExpiresAt int64
}

func (s Session) Marshal() []byte {
	var w jsonw.W
	w.Object().Num("schema", SchemaVersion).Str("user", s.UserID).Str("csrf", s.CSRF).Num("createdAt", s.CreatedAt).Num("expiresAt", s.ExpiresAt).End()
	return w.Bytes()
}

func ParseSession(b []byte) (Session, error) {
	r, err := parse(b)
	if err != nil {
		return Session{}, err
	}
	return Session{UserID: r.Get("user").String(), CSRF: r.Get("csrf").String(), CreatedAt: r.Get("createdAt").Int(), ExpiresAt: r.Get("expiresAt").Int()}, nil
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

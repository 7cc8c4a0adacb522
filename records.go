package spinport

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

// Member is one user's role in a tenant.
type Member struct {
	UserID  string
	Role    string
	AddedAt int64
	AddedBy string
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

// Variable is an app variable. A secret's value is never stored here: it
// goes straight to the app's Kubernetes Secret.
type Variable struct {
	Name      string
	Value     string
	Secret    bool
	UpdatedAt int64
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
	// Artifact is what the image declares, when the installation
	// inspects artifacts (nil: not inspected).
	Artifact *Artifact
	// CI is the run that deployed it, for deploys by an exchanged CI token.
	CI *CIRun
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
	// CI is the CI run a token was exchanged for (a trust policy matched
	// its OIDC token); deploys with it record the run.
	CI *CIRun
}

// CIRun is what a CI platform's OIDC token says about the job.
type CIRun struct {
	Issuer, Repository, Ref, SHA, Workflow, Run string
}

// TrustPolicy lets CI jobs of one repository deploy an app with no stored
// secret: a job's OIDC token that matches it is exchanged for a
// short-lived credential for that app (docs/ci.md).
type TrustPolicy struct {
	ID       string
	Tenant   string
	App      string
	Provider string // "github" or "gitlab"
	Issuer   string // one of the installation's ci issuers
	// GitHub Actions: numeric ids (the sub claim's format changes; ids do not).
	RepositoryID, RepositoryOwnerID string
	Repository                      string // owner/name, for people
	Workflow                        string // optional: job_workflow_ref must start with it
	Environment                     string // optional
	// GitLab CI.
	ProjectID     string
	ProtectedOnly bool // ref_protected must be true
	// Refs the job may run on: exact, or a prefix ending in "*" (refs/tags/v*).
	Refs      []string
	CreatedAt int64
	CreatedBy string
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

// DomainClaim reserves a host name for one app across the installation.
// A custom domain is routed and certified only once its owner proved
// control of it (docs/domains.md): publishing TXT ChallengeName(host) with
// the value Token.
type DomainClaim struct {
	Host   string
	Tenant string
	App    string
	// State: DomainPending, DomainVerified or DomainLost; "" for an app's
	// default host (spinport's own) and for claims made before
	// verification existed, which count as verified.
	State      string
	Token      string
	VerifiedAt int64
	CheckedAt  int64
}

// Verification states of a custom domain.
const (
	DomainPending  = "pending"  // the TXT record was not seen yet: not routed
	DomainVerified = "verified" // routed and certified
	DomainLost     = "lost"     // verified once, the record is gone: still routed, flagged
)

// Routed reports whether the host gets an Ingress rule and a Certificate.
func (d DomainClaim) Routed() bool { return d.State != DomainPending }

// ChallengeName is the TXT record that proves control of host.
func ChallengeName(host string) string { return "_spinport-challenge." + host }

// Session is a signed-in portal browser. Stored under the SHA-256 of the
// cookie value, so the KV store never holds a usable session secret.
type Session struct {
	UserID    string
	CSRF      string
	CreatedAt int64
	ExpiresAt int64
}

// TenantRedis records that an installation admin gave a tenant a Redis of
// its own for its apps' KV stores. The URL (with its password) is only in
// the tenant's Kubernetes Secret; each KV-bound app of the tenant gets a
// database of its own on it (docs/tenancy.md).
type TenantRedis struct {
	Databases int64 // how many databases it has: at most that many KV-bound apps
	UpdatedAt int64
	UpdatedBy string
}

// MaxRedisDatabases bounds TenantRedis.Databases: Azure Cache for Redis
// offers at most 64 (Premium P5), a self-run Redis 16 unless configured.
const MaxRedisDatabases = 64

// AppDatabase is a database of a tenant's own Redis and the app holding it.
type AppDatabase struct {
	DB  int64
	App string
}

// RegistryCredential records that a tenant registered pull credentials for
// a registry. The password is only in the tenant's Kubernetes Secret.
type RegistryCredential struct {
	Registry  string // host[:port], e.g. myacr.azurecr.io
	Username  string
	UpdatedAt int64
	UpdatedBy string
}

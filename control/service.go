// Package control holds spinport's use cases: tenants, members, apps,
// variables, deploys and rollbacks, tokens, the audit log and the access
// rules that guard them. It takes a principal and plain values and returns
// domain values and spinport.Error; it knows nothing of HTTP (package api
// binds requests and renders answers) and reaches storage and the cluster
// only through kv.DB and spinport.Deployer.
package control

import (
	"encoding/hex"
	"io"
	"time"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/kv"
	"github.com/spinport/spinport/oidc"
)

// Config is what the use cases need of the installation's settings.
type Config struct {
	AdminToken        string // bootstrap admin bearer token (secret)
	BaseDomain        string
	PublicHost        string // spinport's own host (from public_url), never an app's
	RegistryAllowlist []string
	// AppKV: the installation has a Redis for apps' KV stores
	// (app_redis_url), with AppRedisDBs databases, one per tenant (index 0
	// is never handed out).
	AppKV       bool
	AppRedisDBs int64
	// CIIssuers are the OIDC issuers whose CI tokens trust policies may
	// name (ci_issuers); CITokenTTL how long an exchanged token lives.
	CIIssuers  []string
	CITokenTTL time.Duration
	// IngressAddress is where app hosts should point: the ingress's IPv4
	// address or host name (dns_target).
	IngressAddress string
	// RestrictRegistryRepos: images from the installation registry
	// (Service.Registry) must be in the tenant's own repositories.
	RestrictRegistryRepos bool
}

// Service runs the use cases for one request (in Spin an instance serves
// one request, so nothing here is shared between requests).
type Service struct {
	DB       kv.DB
	Deployer spinport.Deployer     // RecordOnly when no cluster is configured
	Registry spinport.PushRegistry // nil: the installation issues no push credentials
	DNS      spinport.HostDNS      // nil: no managed DNS zones
	Resolver spinport.Resolver     // nil: custom domains cannot be verified (no doh_resolver)
	// Artifacts resolves and inspects images before a deploy (nil:
	// inspect_artifacts=off, images go to the cluster as given).
	Artifacts spinport.Artifacts
	// CIVerifier verifies CI OIDC tokens of one issuer (nil: no CI exchange).
	CIVerifier func(issuer string) *oidc.WorkloadVerifier
	Config     Config
	Now        func() time.Time
	Rand       io.Reader // crypto/rand.Reader in production
	Log        func(string)
}

// Principal is who is calling.
type Principal struct {
	ID      string // audit actor: "admin", "user:<id>", "token:<id>"
	UserID  string // set for users (and "admin" for the bootstrap admin)
	Name    string
	Admin   bool
	Token   *spinport.Token   // set for API tokens
	Session *spinport.Session // set for portal sessions
}

// AdminUserID is the user id of the bootstrap admin.
const AdminUserID = "admin"

func (s *Service) now() int64 { return s.Now().Unix() }

func (s *Service) logf(msg string) {
	if s.Log != nil {
		s.Log(msg)
	}
}

// hasCluster reports whether a real deployer is configured.
func (s *Service) hasCluster() bool {
	_, recordOnly := s.Deployer.(RecordOnly)
	return s.Deployer != nil && !recordOnly
}

// RandomHex returns n random bytes as hex.
func (s *Service) RandomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := s.Rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// audit records an event in the tenant's log. A failure to audit is
// logged, not returned: the change itself already happened.
func (s *Service) audit(tenant string, p *Principal, action, target, outcome, detail string) {
	err := s.DB.Audit(tenant, spinport.AuditEvent{Time: s.now(), Actor: p.ID, Action: action, Target: target, Outcome: outcome, Detail: detail})
	if err != nil {
		s.logf("audit write failed: " + err.Error())
	}
}

func outcome(err error) string {
	if err != nil {
		return "failed"
	}
	return "ok"
}

func invalid(field, detail string) *spinport.Error {
	return &spinport.Error{Kind: spinport.Invalid, Field: field, Detail: detail}
}

func notFound(detail string) *spinport.Error {
	return &spinport.Error{Kind: spinport.NotFound, Detail: detail}
}

func conflict(detail string) *spinport.Error {
	return &spinport.Error{Kind: spinport.Conflict, Detail: detail}
}

func forbidden(detail string) *spinport.Error {
	return &spinport.Error{Kind: spinport.Forbidden, Detail: detail}
}

func unauthorized(detail string) *spinport.Error {
	return &spinport.Error{Kind: spinport.Unauthorized, Detail: detail}
}

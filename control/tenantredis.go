package control

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/kv"
)

// TenantRedisInput gives a tenant a Redis of its own.
type TenantRedisInput struct {
	URL       string
	Databases int64 // 0: 16, Redis's default
}

// TenantRedisView is what anyone in the tenant may see of its KV setup:
// never the URL.
type TenantRedisView struct {
	Mode   string // "own", "shared" (the installation's app Redis) or "none"
	Own    *spinport.TenantRedis
	Apps   []spinport.AppDatabase // own: which app holds which database
	Shared int64                  // shared: the tenant's database, 0 before its first KV deploy
}

// SetTenantRedis gives the tenant its own Redis for its apps' KV stores
// (installation admins only). The URL goes to the tenant's Kubernetes
// Secret only: never the KV store, the audit log or an answer. Apps move
// to it on their next deploy, each to a database of its own; data is not
// copied.
func (s *Service) SetTenantRedis(p *Principal, slug string, bind func() (TenantRedisInput, error)) (TenantRedisView, bool, error) {
	a, err := s.tenantAs(p, slug, spinport.RoleViewer)
	if err != nil {
		return TenantRedisView{}, false, err
	}
	if !p.Admin {
		return TenantRedisView{}, false, forbidden("only an installation admin gives a tenant its own Redis")
	}
	in, err := bind()
	if err != nil {
		return TenantRedisView{}, false, err
	}
	if err := checkRedisURL(in.URL); err != nil {
		return TenantRedisView{}, false, err
	}
	if in.Databases == 0 {
		in.Databases = 16
	}
	if in.Databases < 1 || in.Databases > spinport.MaxRedisDatabases {
		return TenantRedisView{}, false, invalid("databases", "databases is how many the Redis has (its `databases` setting; Azure Cache for Redis: 16, up to 64 on Premium P5; Enterprise tiers: 1), from 1 to "+strconv.Itoa(spinport.MaxRedisDatabases))
	}
	_, err = s.DB.GetTenantRedis(a.Tenant.Slug)
	created := errors.Is(err, kv.ErrNotFound)
	if err != nil && !created {
		return TenantRedisView{}, false, err
	}
	if err := s.ensureTenant(&a.Tenant); err != nil {
		return TenantRedisView{}, false, err
	}
	if err := s.Deployer.SetTenantRedis(a.Tenant.Slug, strings.TrimSuffix(in.URL, "/")); err != nil {
		return TenantRedisView{}, false, err
	}
	r := spinport.TenantRedis{Databases: in.Databases, UpdatedAt: s.now(), UpdatedBy: p.ID}
	if err := s.DB.PutTenantRedis(a.Tenant.Slug, r); err != nil {
		return TenantRedisView{}, false, err
	}
	s.audit(a.Tenant.Slug, p, "redis.set", "redis", "ok", strconv.FormatInt(in.Databases, 10)+" databases")
	v, err := s.tenantRedisView(a.Tenant.Slug)
	return v, created, err
}

// TenantRedis shows where the tenant's apps keep their KV stores.
func (s *Service) TenantRedis(p *Principal, slug string) (TenantRedisView, error) {
	a, err := s.tenantAs(p, slug, spinport.RoleViewer)
	if err != nil {
		return TenantRedisView{}, err
	}
	return s.tenantRedisView(a.Tenant.Slug)
}

func (s *Service) tenantRedisView(slug string) (TenantRedisView, error) {
	own, err := s.DB.GetTenantRedis(slug)
	if err == nil {
		apps, err := s.DB.AppDatabases(slug, own.Databases)
		return TenantRedisView{Mode: "own", Own: &own, Apps: apps}, err
	}
	if !errors.Is(err, kv.ErrNotFound) {
		return TenantRedisView{}, err
	}
	if !s.Config.AppKV {
		return TenantRedisView{Mode: "none"}, nil
	}
	v := TenantRedisView{Mode: "shared"}
	v.Shared, err = s.DB.SharedRedisDB(slug)
	return v, err
}

// DeleteTenantRedis takes the tenant back to the installation's app
// Redis (installation admins only). Running apps keep their runtime
// configs until their next deploy; the databases' data stays where it is.
func (s *Service) DeleteTenantRedis(p *Principal, slug string) error {
	a, err := s.tenantAs(p, slug, spinport.RoleViewer)
	if err != nil {
		return err
	}
	if !p.Admin {
		return forbidden("only an installation admin changes a tenant's Redis")
	}
	if _, err := s.DB.GetTenantRedis(a.Tenant.Slug); errors.Is(err, kv.ErrNotFound) {
		return notFound("tenant " + a.Tenant.Slug + " has no Redis of its own")
	} else if err != nil {
		return err
	}
	if err := s.Deployer.DeleteTenantRedis(a.Tenant.Slug); err != nil {
		return err
	}
	if err := s.DB.DeleteTenantRedis(a.Tenant.Slug); err != nil {
		return err
	}
	s.audit(a.Tenant.Slug, p, "redis.delete", "redis", "ok", "")
	return nil
}

// checkRedisURL accepts what Spin's Redis KV provider (the redis crate)
// connects to: redis:// or rediss:// with a host, optionally a password,
// and no database (spinport appends each app's).
func checkRedisURL(raw string) error {
	const field = "url"
	fix := "give redis://[:password@]host:port or rediss://... (TLS, e.g. Azure Cache for Redis on 6380) without a database path"
	if raw == "" || len(raw) > 2048 {
		return invalid(field, "url is required; "+fix)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f {
			return invalid(field, "url holds a space or control character; percent-encode the password")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalid(field, "url does not parse; "+fix+" (percent-encode special characters of the password)")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return invalid(field, "url scheme must be redis or rediss; "+fix)
	}
	if u.Hostname() == "" {
		return invalid(field, "url has no host; "+fix)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return invalid(field, "url must not name a database or carry a query: spinport gives each app a database of its own; "+fix)
	}
	return nil
}

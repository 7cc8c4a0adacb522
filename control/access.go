package control

import (
	"crypto/subtle"
	"errors"
	"strings"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/kv"
)

// TokenPrefix starts every API token: spt_<id>_<secret>.
const TokenPrefix = "spt_"

// Bearer finds the principal for a bearer token: the admin token or an
// API token.
func (s *Service) Bearer(tok string) (*Principal, error) {
	if s.Config.AdminToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.Config.AdminToken)) == 1 {
		return &Principal{ID: "admin", UserID: AdminUserID, Name: "Installation admin", Admin: true}, nil
	}
	id, secret, ok := splitToken(tok)
	if !ok {
		return nil, unauthorized("the bearer token is not a spinport token (spt_<id>_<secret>)")
	}
	t, err := s.DB.TokenByID(id)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, unauthorized("the API token is unknown or revoked")
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(kv.SecretHash(secret)), []byte(t.Hash)) != 1 {
		return nil, unauthorized("the API token is unknown or revoked")
	}
	now := s.now()
	if t.ExpiresAt > 0 && now >= t.ExpiresAt {
		return nil, unauthorized("the API token expired; create a new one")
	}
	// Record use at most once a minute: a write per request would double
	// the KV traffic of every CI call.
	if now-t.LastUsed >= 60 {
		t.LastUsed = now
		if err := s.DB.TouchToken(t); err != nil {
			s.logf("token last-use update failed: " + err.Error())
		}
	}
	return &Principal{ID: "token:" + t.ID, Name: t.Name, Token: &t}, nil
}

// splitToken parses spt_<id>_<secret>.
func splitToken(tok string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(tok, TokenPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || !spinport.IsHex(id) || len(secret) != 64 || !spinport.IsHex(secret) {
		return "", "", false
	}
	return id, secret, true
}

// SessionPrincipal finds the principal for a portal session cookie.
func (s *Service) SessionPrincipal(cookie string) (*Principal, error) {
	hash := kv.SecretHash(cookie)
	sess, err := s.DB.GetSession(hash)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, unauthorized("your session ended; sign in again")
	}
	if err != nil {
		return nil, err
	}
	if s.now() >= sess.ExpiresAt {
		_ = s.DB.DeleteSession(hash)
		return nil, unauthorized("your session expired; sign in again")
	}
	if sess.UserID == AdminUserID {
		return &Principal{ID: "admin", UserID: AdminUserID, Name: "Installation admin", Admin: true, Session: &sess}, nil
	}
	u, err := s.DB.GetUser(sess.UserID)
	if err != nil {
		return nil, err
	}
	return &Principal{ID: "user:" + u.ID, UserID: u.ID, Name: u.DisplayName, Session: &sess}, nil
}

// scopeRole maps token scopes to the role they act with.
func scopeRole(scopes []string) string {
	role := ""
	for _, sc := range scopes {
		r := map[string]string{"read": spinport.RoleViewer, "deploy": spinport.RoleDeployer, "manage": spinport.RoleOwner}[sc]
		if spinport.RoleRank(r) > spinport.RoleRank(role) {
			role = r
		}
	}
	return role
}

// Access is what a principal may do in one tenant.
type Access struct {
	Tenant spinport.Tenant
	Role   string
	P      *Principal
}

// TenantAccess loads the tenant if p may see it. A tenant the caller does
// not belong to answers 404, so tenants cannot probe each other's names.
func (s *Service) TenantAccess(p *Principal, slug string) (Access, error) {
	hidden := notFound("no tenant \"" + slug + "\" that you can see")
	// The name's form only: a tenant created before a name was reserved stays reachable.
	if err := spinport.CheckName("slug", "tenant", slug, spinport.MaxTenantLen); err != nil {
		return Access{}, hidden
	}
	var role string
	switch {
	case p.Admin:
		role = spinport.RoleOwner
	case p.Token != nil:
		if p.Token.Tenant != slug {
			return Access{}, hidden
		}
		role = scopeRole(p.Token.Scopes)
	default:
		m, err := s.DB.GetMember(slug, p.UserID)
		if errors.Is(err, kv.ErrNotFound) {
			return Access{}, hidden
		}
		if err != nil {
			return Access{}, err
		}
		role = m.Role
	}
	t, err := s.DB.GetTenant(slug)
	if errors.Is(err, kv.ErrNotFound) {
		return Access{}, hidden
	}
	if err != nil {
		return Access{}, err
	}
	return Access{Tenant: t, Role: role, P: p}, nil
}

// tenantAs resolves the tenant and requires a role in it.
func (s *Service) tenantAs(p *Principal, slug, need string) (Access, error) {
	a, err := s.TenantAccess(p, slug)
	if err == nil {
		err = a.require(need)
	}
	return a, err
}

// tenantAsHuman is tenantAs for changes API tokens may not make.
func (s *Service) tenantAsHuman(p *Principal, slug, need string) (Access, error) {
	a, err := s.TenantAccess(p, slug)
	if err == nil {
		err = a.requireHuman(need)
	}
	return a, err
}

// appAccess resolves the tenant and app and requires a role.
func (s *Service) appAccess(p *Principal, slug, name, need string) (Access, spinport.App, error) {
	a, err := s.tenantAs(p, slug, need)
	if err != nil {
		return a, spinport.App{}, err
	}
	app, err := s.loadApp(a, name)
	return a, app, err
}

// require refuses unless the caller's role is at least need.
func (a Access) require(need string) error {
	if spinport.RoleRank(a.Role) >= spinport.RoleRank(need) {
		return nil
	}
	return forbidden("this needs the " + need + " role in tenant " + a.Tenant.Slug + "; you have " + orNone(a.Role))
}

// requireHuman refuses API tokens for changes that could widen access
// (members, tokens, the tenant itself): those need a signed-in owner.
func (a Access) requireHuman(need string) error {
	if a.P.Token != nil {
		return forbidden("API tokens cannot change members, tokens or the tenant; sign in as an owner")
	}
	return a.require(need)
}

// app checks an app-restricted token against the app named.
func (a Access) app(name string) error {
	if a.P.Token != nil && a.P.Token.App != "" && a.P.Token.App != name {
		return notFound("no app \"" + name + "\" that this token can see")
	}
	return nil
}

func orNone(role string) string {
	if role == "" {
		return "no role"
	}
	return role
}

func (s *Service) loadApp(a Access, name string) (spinport.App, error) {
	if err := a.app(name); err != nil {
		return spinport.App{}, err
	}
	app, err := s.DB.GetApp(a.Tenant.Slug, name)
	if errors.Is(err, kv.ErrNotFound) {
		return spinport.App{}, notFound("no app \"" + name + "\" in tenant " + a.Tenant.Slug)
	}
	return app, err
}

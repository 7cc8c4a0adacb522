package api

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/spinport/spinport"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/kv"
)

// Principal is who is calling.
type Principal struct {
	ID      string // audit actor: "admin", "user:<id>", "token:<id>"
	UserID  string // set for users (and "admin" for the bootstrap admin)
	Name    string
	Admin   bool
	Token   *spinport.Token   // set for API tokens
	Session *spinport.Session // set for portal sessions
}

const (
	sessionCookie = "spinport_session"
	csrfHeader    = "X-CSRF-Token"
	tokenPrefix   = "spt_"
	adminUserID   = "admin"
)

// authenticate finds the principal from a bearer token or a session cookie.
func (s *Server) authenticate(r *http.Request) (*Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		raw, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, unauthorized("the Authorization header must be \"Bearer <token>\"")
		}
		return s.bearer(strings.TrimSpace(raw))
	}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		p, err := s.session(c.Value)
		if err != nil {
			return nil, err
		}
		if !safeMethod(r.Method) {
			got := r.Header.Get(csrfHeader)
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.Session.CSRF)) != 1 {
				return nil, forbidden("missing or wrong " + csrfHeader + " header: send the csrfToken from GET /api/v1/me with every change made with a session cookie")
			}
		}
		return p, nil
	}
	return nil, unauthorized("sign in: send \"Authorization: Bearer <token>\" (an API token or the admin token) or sign in to the portal")
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func (s *Server) bearer(tok string) (*Principal, error) {
	if s.Config.AdminToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.Config.AdminToken)) == 1 {
		return &Principal{ID: "admin", UserID: adminUserID, Name: "Installation admin", Admin: true}, nil
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
	rest, ok := strings.CutPrefix(tok, tokenPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || !spinport.IsHex(id) || len(secret) != 64 || !spinport.IsHex(secret) {
		return "", "", false
	}
	return id, secret, true
}

func (s *Server) session(cookie string) (*Principal, error) {
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
	if sess.UserID == adminUserID {
		return &Principal{ID: "admin", UserID: adminUserID, Name: "Installation admin", Admin: true, Session: &sess}, nil
	}
	u, err := s.DB.GetUser(sess.UserID)
	if err != nil {
		return nil, err
	}
	return &Principal{ID: "user:" + u.ID, UserID: u.ID, Name: u.DisplayName, Session: &sess}, nil
}

// randomHex returns n random bytes as hex.
func (s *Server) randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := s.Rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
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

// access is what a principal may do in one tenant.
type access struct {
	tenant spinport.Tenant
	role   string
	p      *Principal
}

// tenantAccess loads the tenant if p may see it. A tenant the caller does
// not belong to answers 404, so tenants cannot probe each other's names.
func (s *Server) tenantAccess(p *Principal, slug string) (access, error) {
	hidden := notFound("no tenant \"" + slug + "\" that you can see")
	// The name's form only: a tenant created before a name was reserved stays reachable.
	if err := spinport.CheckName("slug", "tenant", slug, spinport.MaxTenantLen); err != nil {
		return access{}, hidden
	}
	var role string
	switch {
	case p.Admin:
		role = spinport.RoleOwner
	case p.Token != nil:
		if p.Token.Tenant != slug {
			return access{}, hidden
		}
		role = scopeRole(p.Token.Scopes)
	default:
		m, err := s.DB.GetMember(slug, p.UserID)
		if errors.Is(err, kv.ErrNotFound) {
			return access{}, hidden
		}
		if err != nil {
			return access{}, err
		}
		role = m.Role
	}
	t, err := s.DB.GetTenant(slug)
	if errors.Is(err, kv.ErrNotFound) {
		return access{}, hidden
	}
	if err != nil {
		return access{}, err
	}
	return access{tenant: t, role: role, p: p}, nil
}

// tenantAs resolves the route's tenant and requires a role in it.
func (s *Server) tenantAs(p *Principal, ps httprouter.Params, need string) (access, error) {
	a, err := s.tenantAccess(p, ps.ByName("tenant"))
	if err == nil {
		err = a.require(need)
	}
	return a, err
}

// tenantAsHuman is tenantAs for changes API tokens may not make.
func (s *Server) tenantAsHuman(p *Principal, ps httprouter.Params, need string) (access, error) {
	a, err := s.tenantAccess(p, ps.ByName("tenant"))
	if err == nil {
		err = a.requireHuman(need)
	}
	return a, err
}

// appAccess resolves the route's tenant and app and requires a role.
func (s *Server) appAccess(p *Principal, ps httprouter.Params, need string) (access, spinport.App, error) {
	a, err := s.tenantAs(p, ps, need)
	if err != nil {
		return a, spinport.App{}, err
	}
	app, err := s.loadApp(a, ps.ByName("app"))
	return a, app, err
}

// require refuses unless the caller's role is at least need.
func (a access) require(need string) error {
	if spinport.RoleRank(a.role) >= spinport.RoleRank(need) {
		return nil
	}
	return forbidden("this needs the " + need + " role in tenant " + a.tenant.Slug + "; you have " + orNone(a.role))
}

// requireHuman refuses API tokens for changes that could widen access
// (members, tokens, the tenant itself): those need a signed-in owner.
func (a access) requireHuman(need string) error {
	if a.p.Token != nil {
		return forbidden("API tokens cannot change members, tokens or the tenant; sign in as an owner")
	}
	return a.require(need)
}

// app checks an app-restricted token against the app named.
func (a access) app(name string) error {
	if a.p.Token != nil && a.p.Token.App != "" && a.p.Token.App != name {
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

// audit records an event in the tenant's log. A failure to audit is
// logged, not returned: the change itself already happened.
func (s *Server) audit(tenant string, p *Principal, action, target, outcome, detail string) {
	err := s.DB.Audit(tenant, spinport.AuditEvent{Time: s.now(), Actor: p.ID, Action: action, Target: target, Outcome: outcome, Detail: detail})
	if err != nil {
		s.logf("audit write failed: " + err.Error())
	}
}

package api

import (
	"errors"
	"net/http"

	"github.com/spinport/spinport"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/jsonw"
	"github.com/spinport/spinport/kv"
)

func getMe(s *Server, r *http.Request, _ httprouter.Params, p *Principal) (int, []byte, error) {
	var w jsonw.W
	w.Object().Str("id", p.ID).Str("name", p.Name).Flag("admin", p.Admin)
	kind := "user"
	switch {
	case p.Token != nil:
		kind = "token"
		w.Str("tenant", p.Token.Tenant).Strings("scopes", p.Token.Scopes).OptStr("app", p.Token.App)
	case p.Admin:
		kind = "admin"
	}
	w.Str("kind", kind)
	if p.Session != nil {
		w.Str("csrfToken", p.Session.CSRF)
	}
	if p.Token == nil && !p.Admin {
		slugs, _, err := s.DB.UserTenants(p.UserID, "", 200)
		if err != nil {
			return 0, nil, err
		}
		w.Strings("tenants", slugs)
	}
	w.End()
	return http.StatusOK, w.Bytes(), nil
}

func readQuotas(b body, q spinport.Quotas) (spinport.Quotas, error) {
	qb, ok, err := b.obj("quotas", "maxApps", "maxReplicasPerApp", "maxTotalReplicas")
	if err != nil || !ok {
		return q, err
	}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"maxApps", &q.MaxApps}, {"maxReplicasPerApp", &q.MaxReplicasPerApp}, {"maxTotalReplicas", &q.MaxTotalReplicas}} {
		n, err := qb.int(f.name, *f.dst)
		if err != nil {
			return q, badRequest("quotas."+f.name, "quotas."+f.name+" must be an integer")
		}
		if n < 1 || n > 10000 {
			return q, badRequest("quotas."+f.name, "quotas."+f.name+" must be between 1 and 10000")
		}
		*f.dst = n
	}
	return q, nil
}

func createTenant(s *Server, r *http.Request, _ httprouter.Params, p *Principal) (int, []byte, error) {
	if p.Token != nil {
		return 0, nil, forbidden("API tokens belong to one tenant and cannot create tenants; sign in to the portal")
	}
	b, err := readBody(r, "slug", "displayName", "quotas", "owner")
	if err != nil {
		return 0, nil, err
	}
	slug, err := b.str("slug")
	if err != nil {
		return 0, nil, err
	}
	if err := spinport.CheckTenantSlug(slug); err != nil {
		return 0, nil, err
	}
	display, err := b.str("displayName")
	if err != nil {
		return 0, nil, err
	}
	if display == "" {
		display = slug
	}
	if len(display) > 100 {
		return 0, nil, badRequest("displayName", "displayName is at most 100 characters")
	}
	q := spinport.DefaultQuotas
	if b.has("quotas") {
		if !p.Admin {
			return 0, nil, forbidden("only an installation admin sets quotas; leave \"quotas\" out to get the defaults")
		}
		if q, err = readQuotas(b, q); err != nil {
			return 0, nil, err
		}
	}
	owner := p.UserID
	if o, _ := b.str("owner"); o != "" {
		if !p.Admin {
			return 0, nil, badRequest("owner", "only an installation admin names another owner; you become the owner of tenants you create")
		}
		if _, err := s.DB.GetUser(o); err != nil {
			return 0, nil, badRequest("owner", "no user \""+o+"\": the owner must have signed in once")
		}
		owner = o
	}
	t := spinport.Tenant{Slug: slug, DisplayName: display, Quotas: q, CreatedAt: s.now(), CreatedBy: p.ID, ClusterPending: s.Deployer != nil}
	err = s.DB.CreateTenant(t, spinport.Member{UserID: owner, Role: spinport.RoleOwner, AddedAt: t.CreatedAt, AddedBy: p.ID})
	if errors.Is(err, kv.ErrExists) {
		// A retry of a create whose cluster objects never got applied
		// (Kubernetes refused or was away) converges instead of answering 409.
		existing, gerr := s.DB.GetTenant(slug)
		if gerr != nil || !existing.ClusterPending || (!p.Admin && existing.CreatedBy != p.ID) {
			return 0, nil, conflict("tenant \"" + slug + "\" already exists; choose another slug")
		}
		t, err = existing, nil
	}
	if err != nil {
		return 0, nil, err
	}
	if err := s.ensureTenant(&t); err != nil {
		s.audit(slug, p, "tenant.create", "tenant/"+slug, "failed", err.Error())
		return 0, nil, err
	}
	s.audit(slug, p, "tenant.create", "tenant/"+slug, "ok", "")
	return http.StatusCreated, one(func(w *jsonw.W) { writeTenant(w, t, spinport.RoleOwner) }), nil
}

// ensureTenant applies the tenant's cluster objects if they never were
// (spinport.Tenant.ClusterPending) and records that they now are. Every write
// that needs the namespace calls it first, so a tenant created while
// Kubernetes refused converges on the next such write.
func (s *Server) ensureTenant(t *spinport.Tenant) error {
	if !t.ClusterPending || s.Deployer == nil {
		return nil
	}
	if err := s.Deployer.ApplyTenant(*t); err != nil {
		return err
	}
	return s.tenantApplied(t)
}

// tenantApplied records that the tenant's cluster objects exist.
func (s *Server) tenantApplied(t *spinport.Tenant) error {
	if !t.ClusterPending {
		return nil
	}
	t.ClusterPending = false
	return s.DB.UpdateTenant(*t)
}

func listTenants(s *Server, r *http.Request, _ httprouter.Params, p *Principal) (int, []byte, error) {
	limit, cursor, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	type row struct {
		t    spinport.Tenant
		role string
	}
	var rows []row
	next := ""
	switch {
	case p.Admin:
		ts, n, err := s.DB.ListTenants(cursor, limit)
		if err != nil {
			return 0, nil, err
		}
		for _, t := range ts {
			rows = append(rows, row{t, spinport.RoleOwner})
		}
		next = n
	case p.Token != nil:
		a, err := s.tenantAccess(p, p.Token.Tenant)
		if err != nil {
			return 0, nil, err
		}
		rows = append(rows, row{a.tenant, a.role})
	default:
		slugs, n, err := s.DB.UserTenants(p.UserID, cursor, limit)
		if err != nil {
			return 0, nil, err
		}
		for _, slug := range slugs {
			a, err := s.tenantAccess(p, slug)
			if err != nil {
				continue // removed meanwhile
			}
			rows = append(rows, row{a.tenant, a.role})
		}
		next = n
	}
	return http.StatusOK, list(len(rows), func(w *jsonw.W, i int) { writeTenant(w, rows[i].t, rows[i].role) }, next), nil
}

func getTenant(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, err := s.tenantAccess(p, ps.ByName("tenant"))
	if err != nil {
		return 0, nil, err
	}
	apps, err := s.DB.AppCount(a.tenant.Slug)
	if err != nil {
		return 0, nil, err
	}
	replicas, err := s.DB.ReplicaCount(a.tenant.Slug)
	if err != nil {
		return 0, nil, err
	}
	var w jsonw.W
	w.Object().Key("tenant")
	writeTenant(&w, a.tenant, a.role)
	w.Key("usage").Object().Num("apps", apps).Num("replicas", replicas).End().End()
	return http.StatusOK, w.Bytes(), nil
}

func updateTenant(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, err := s.tenantAsHuman(p, ps, spinport.RoleOwner)
	if err != nil {
		return 0, nil, err
	}
	b, err := readBody(r, "displayName", "quotas")
	if err != nil {
		return 0, nil, err
	}
	t := a.tenant
	if b.has("displayName") {
		d, err := b.str("displayName")
		if err != nil {
			return 0, nil, err
		}
		if d == "" || len(d) > 100 {
			return 0, nil, badRequest("displayName", "displayName must be 1-100 characters")
		}
		t.DisplayName = d
	}
	if b.has("quotas") {
		if !p.Admin {
			return 0, nil, forbidden("only an installation admin changes quotas")
		}
		if t.Quotas, err = readQuotas(b, t.Quotas); err != nil {
			return 0, nil, err
		}
	}
	if err := s.DB.UpdateTenant(t); err != nil {
		return 0, nil, err
	}
	if s.Deployer != nil {
		if err := s.Deployer.ApplyTenant(t); err != nil {
			return 0, nil, err
		}
	}
	s.audit(t.Slug, p, "tenant.update", "tenant/"+t.Slug, "ok", "")
	return http.StatusOK, one(func(w *jsonw.W) { writeTenant(w, t, a.role) }), nil
}

func deleteTenant(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, err := s.tenantAsHuman(p, ps, spinport.RoleOwner)
	if err != nil {
		return 0, nil, err
	}
	slug := a.tenant.Slug
	if n, err := s.DB.AppCount(slug); err != nil {
		return 0, nil, err
	} else if n > 0 {
		return 0, nil, conflict("tenant \"" + slug + "\" still has apps: delete them first")
	}
	if s.Deployer != nil {
		if err := s.Deployer.DeleteTenant(slug); err != nil {
			return 0, nil, err
		}
	}
	if err := s.DB.DeleteTenant(slug); err != nil {
		if errors.Is(err, kv.ErrHasApps) {
			return 0, nil, conflict("tenant \"" + slug + "\" still has apps: delete them first")
		}
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// ---- members

func checkRole(role string) error {
	if spinport.RoleRank(role) == 0 {
		return badRequest("role", "role must be owner, deployer or viewer")
	}
	return nil
}

func listMembers(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, err := s.tenantAccess(p, ps.ByName("tenant"))
	if err != nil {
		return 0, nil, err
	}
	limit, cursor, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	ms, next, err := s.DB.ListMembers(a.tenant.Slug, cursor, limit)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, list(len(ms), func(w *jsonw.W, i int) {
		u, _ := s.DB.GetUser(ms[i].UserID)
		writeMember(w, ms[i], u)
	}, next), nil
}

func addMember(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, err := s.tenantAsHuman(p, ps, spinport.RoleOwner)
	if err != nil {
		return 0, nil, err
	}
	b, err := readBody(r, "user", "role")
	if err != nil {
		return 0, nil, err
	}
	userID, err := b.str("user")
	if err != nil {
		return 0, nil, err
	}
	role, err := b.str("role")
	if err != nil {
		return 0, nil, err
	}
	if err := checkRole(role); err != nil {
		return 0, nil, err
	}
	u, err := s.DB.GetUser(userID)
	if userID == "" || errors.Is(err, kv.ErrNotFound) {
		return 0, nil, badRequest("user", "no user \""+userID+"\": ask them to sign in to the portal once, then use the id GET /api/v1/me shows them")
	}
	if err != nil {
		return 0, nil, err
	}
	m := spinport.Member{UserID: userID, Role: role, AddedAt: s.now(), AddedBy: p.ID}
	if err := s.DB.AddMember(a.tenant.Slug, m); errors.Is(err, kv.ErrExists) {
		return 0, nil, conflict("user \"" + userID + "\" is already a member; change their role with PATCH")
	} else if err != nil {
		return 0, nil, err
	}
	s.audit(a.tenant.Slug, p, "member.add", "member/"+userID, "ok", role)
	return http.StatusCreated, one(func(w *jsonw.W) { writeMember(w, m, u) }), nil
}

func updateMember(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, err := s.tenantAsHuman(p, ps, spinport.RoleOwner)
	if err != nil {
		return 0, nil, err
	}
	b, err := readBody(r, "role")
	if err != nil {
		return 0, nil, err
	}
	role, err := b.str("role")
	if err != nil {
		return 0, nil, err
	}
	if err := checkRole(role); err != nil {
		return 0, nil, err
	}
	userID := ps.ByName("user")
	m, err := s.DB.GetMember(a.tenant.Slug, userID)
	if errors.Is(err, kv.ErrNotFound) {
		return 0, nil, notFound("user \"" + userID + "\" is not a member of " + a.tenant.Slug)
	}
	if err != nil {
		return 0, nil, err
	}
	if m.Role == spinport.RoleOwner && role != spinport.RoleOwner {
		if err := s.keepAnOwner(a.tenant.Slug, userID); err != nil {
			return 0, nil, err
		}
	}
	m.Role = role
	if err := s.DB.UpdateMember(a.tenant.Slug, m); err != nil {
		return 0, nil, err
	}
	s.audit(a.tenant.Slug, p, "member.update", "member/"+userID, "ok", role)
	u, _ := s.DB.GetUser(userID)
	return http.StatusOK, one(func(w *jsonw.W) { writeMember(w, m, u) }), nil
}

// keepAnOwner refuses to demote or remove the last owner.
func (s *Server) keepAnOwner(tenant, leaving string) error {
	ms, _, err := s.DB.ListMembers(tenant, "", 200)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.Role == spinport.RoleOwner && m.UserID != leaving {
			return nil
		}
	}
	return conflict("a tenant needs at least one owner: make someone else owner first")
}

func removeMember(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, err := s.tenantAsHuman(p, ps, spinport.RoleOwner)
	if err != nil {
		return 0, nil, err
	}
	userID := ps.ByName("user")
	m, err := s.DB.GetMember(a.tenant.Slug, userID)
	if errors.Is(err, kv.ErrNotFound) {
		return 0, nil, notFound("user \"" + userID + "\" is not a member of " + a.tenant.Slug)
	}
	if err != nil {
		return 0, nil, err
	}
	if m.Role == spinport.RoleOwner {
		if err := s.keepAnOwner(a.tenant.Slug, userID); err != nil {
			return 0, nil, err
		}
	}
	if err := s.DB.RemoveMember(a.tenant.Slug, userID); err != nil {
		return 0, nil, err
	}
	s.audit(a.tenant.Slug, p, "member.remove", "member/"+userID, "ok", "")
	return http.StatusNoContent, nil, nil
}

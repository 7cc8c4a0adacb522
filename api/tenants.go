package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/control"
	"github.com/spinport/spinport/jsonw"
)

func getMe(s *Server, r *http.Request, _ httprouter.Params, p *Principal) (int, []byte, error) {
	var tenants []string
	if p.Token == nil && !p.Admin {
		var err error
		if tenants, err = s.svc().MyTenants(p); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusOK, one(func(w *jsonw.W) { writeMe(w, p, tenants) }), nil
}

func createTenant(s *Server, r *http.Request, _ httprouter.Params, p *Principal) (int, []byte, error) {
	t, err := s.svc().CreateTenant(p, func() (control.TenantInput, error) {
		b := bind(r, "slug", "displayName", "quotas", "owner")
		in := control.TenantInput{Slug: b.str("slug"), DisplayName: b.str("displayName"), Quotas: b.quotas(), Owner: b.str("owner")}
		return in, b.err
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, one(func(w *jsonw.W) { writeTenant(w, control.TenantRow{Tenant: t, Role: "owner"}) }), nil
}

func listTenants(s *Server, r *http.Request, _ httprouter.Params, p *Principal) (int, []byte, error) {
	limit, cursor, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	rows, next, err := s.svc().ListTenants(p, cursor, limit)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, list(len(rows), func(w *jsonw.W, i int) { writeTenant(w, rows[i]) }, next), nil
}

func getTenant(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, usage, err := s.svc().Tenant(p, ps.ByName("tenant"))
	if err != nil {
		return 0, nil, err
	}
	var w jsonw.W
	w.Object().Key("tenant")
	writeTenant(&w, control.TenantRow{Tenant: a.Tenant, Role: a.Role})
	w.Key("usage").Object().Num("apps", usage.Apps).Num("replicas", usage.Replicas).End().End()
	return http.StatusOK, w.Bytes(), nil
}

func updateTenant(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	row, err := s.svc().UpdateTenant(p, ps.ByName("tenant"), func() (control.TenantPatch, error) {
		b := bind(r, "displayName", "quotas")
		in := control.TenantPatch{DisplayName: b.optStr("displayName"), Quotas: b.quotas()}
		return in, b.err
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, one(func(w *jsonw.W) { writeTenant(w, row) }), nil
}

func deleteTenant(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	return http.StatusNoContent, nil, s.svc().DeleteTenant(p, ps.ByName("tenant"))
}

// ---- members

func listMembers(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	limit, cursor, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	rows, next, err := s.svc().ListMembers(p, ps.ByName("tenant"), cursor, limit)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, list(len(rows), func(w *jsonw.W, i int) { writeMember(w, rows[i]) }, next), nil
}

func addMember(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	row, err := s.svc().AddMember(p, ps.ByName("tenant"), func() (control.MemberInput, error) {
		b := bind(r, "user", "role")
		in := control.MemberInput{User: b.str("user"), Role: b.str("role")}
		return in, b.err
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, one(func(w *jsonw.W) { writeMember(w, row) }), nil
}

func updateMember(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	row, err := s.svc().UpdateMember(p, ps.ByName("tenant"), ps.ByName("user"), func() (string, error) {
		b := bind(r, "role")
		return b.str("role"), b.err
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, one(func(w *jsonw.W) { writeMember(w, row) }), nil
}

func removeMember(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	return http.StatusNoContent, nil, s.svc().RemoveMember(p, ps.ByName("tenant"), ps.ByName("user"))
}

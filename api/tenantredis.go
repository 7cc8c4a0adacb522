package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/control"
	"github.com/spinport/spinport/jsonw"
)

func getTenantRedis(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	v, err := s.svc().TenantRedis(p, ps.ByName("tenant"))
	return http.StatusOK, one(func(w *jsonw.W) { writeTenantRedis(w, v) }), err
}

func setTenantRedis(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	v, created, err := s.svc().SetTenantRedis(p, ps.ByName("tenant"), func() (control.TenantRedisInput, error) {
		b := bind(r, "url", "databases")
		in := control.TenantRedisInput{URL: b.str("url"), Databases: b.int("databases", 0)}
		return in, b.err
	})
	return createdOrOK(created), one(func(w *jsonw.W) { writeTenantRedis(w, v) }), err
}

func deleteTenantRedis(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	return http.StatusNoContent, nil, s.svc().DeleteTenantRedis(p, ps.ByName("tenant"))
}

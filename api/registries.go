package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/control"
	"github.com/spinport/spinport/jsonw"
)

func listRegistries(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	limit, cursor, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	cs, next, err := s.svc().RegistryCredentials(p, ps.ByName("tenant"), cursor, limit)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, list(len(cs), func(w *jsonw.W, i int) { writeRegistry(w, cs[i]) }, next), nil
}

func setRegistry(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	c, created, err := s.svc().SetRegistryCredential(p, ps.ByName("tenant"), ps.ByName("registry"), func() (control.RegistryInput, error) {
		b := bind(r, "username", "password")
		in := control.RegistryInput{Username: b.str("username"), Password: b.str("password")}
		return in, b.err
	})
	return createdOrOK(created), one(func(w *jsonw.W) { writeRegistry(w, c) }), err
}

func deleteRegistry(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	return http.StatusNoContent, nil, s.svc().DeleteRegistryCredential(p, ps.ByName("tenant"), ps.ByName("registry"))
}

package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport"
	"github.com/spinport/spinport/control"
	"github.com/spinport/spinport/jsonw"
)

func createApp(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	v, err := s.svc().CreateApp(p, ps.ByName("tenant"), func() (control.AppInput, error) {
		b := bind(r, "name", "replicas", "autoscaling", "domains", "kv")
		in := control.AppInput{Name: b.str("name"), Scaling: spinport.Scaling{Replicas: 1}}
		if sc := b.scaling(); sc != nil {
			in.Scaling = *sc
		}
		in.Domains, in.KV = b.strs("domains"), b.bool("kv", false)
		return in, b.err
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, s.appJSON(v), nil
}

func listApps(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	limit, cursor, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	apps, next, err := s.svc().ListApps(p, ps.ByName("tenant"), cursor, limit)
	if err != nil {
		return 0, nil, err
	}
	// The list shows settings only; currentRevision is on GET of one app,
	// which keeps a page at two KV reads per app.
	return http.StatusOK, list(len(apps), func(w *jsonw.W, i int) { s.writeAppItem(w, apps[i]) }, next), nil
}

func getApp(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	v, err := s.svc().App(p, ps.ByName("tenant"), ps.ByName("app"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.appJSON(v), nil
}

func updateApp(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	v, err := s.svc().UpdateApp(p, ps.ByName("tenant"), ps.ByName("app"), func() (control.AppPatch, error) {
		b := bind(r, "replicas", "autoscaling", "domains", "kv")
		in := control.AppPatch{Scaling: b.scaling(), Domains: b.optStrs("domains"), KV: b.optBool("kv")}
		return in, b.err
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.appJSON(v), nil
}

func deleteApp(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	return http.StatusNoContent, nil, s.svc().DeleteApp(p, ps.ByName("tenant"), ps.ByName("app"))
}

// ---- variables

func listVariables(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	vars, err := s.svc().Variables(p, ps.ByName("tenant"), ps.ByName("app"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, list(len(vars), func(w *jsonw.W, i int) { writeVariable(w, vars[i]) }, ""), nil
}

func setVariable(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	v, created, err := s.svc().SetVariable(p, ps.ByName("tenant"), ps.ByName("app"), ps.ByName("name"), func() (control.VariableInput, error) {
		b := bind(r, "value", "secret")
		if b.err == nil && !b.has("value") {
			return control.VariableInput{}, badRequest("value", "value is required (a string; use DELETE to unset)")
		}
		in := control.VariableInput{Value: b.str("value"), Secret: b.bool("secret", false)}
		return in, b.err
	})
	return createdOrOK(created), one(func(w *jsonw.W) { writeVariable(w, v) }), err
}

func deleteVariable(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	return http.StatusNoContent, nil, s.svc().DeleteVariable(p, ps.ByName("tenant"), ps.ByName("app"), ps.ByName("name"))
}

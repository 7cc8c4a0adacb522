package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/control"
	"github.com/spinport/spinport/jsonw"
)

// HealthCheck probes one dependency for GET /healthz?deep=1.
type HealthCheck = control.HealthCheck

// healthz answers liveness with version and build facts and the state of
// the dependencies (?deep=1 adds the Kubernetes API and the OIDC issuer).
func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	checks := s.Checks
	if s.Config.OIDC.Issuer != "" {
		checks = append(checks, HealthCheck{Name: "oidc", Check: func() error { _, err := s.discover(); return err }})
	}
	h := s.svc().Health(r.URL.Query().Get("deep") == "1", checks)
	status := http.StatusOK
	if !h.OK() {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
	}
	var j jsonw.W
	j.Object().Str("service", "spinport").Str("version", s.Config.Version).Str("buildTime", s.Config.BuildTime)
	j.Key("kv").Object().Str("backend", s.Config.KVBackend)
	writeCheck(&j, h.KV)
	if h.Checks != nil {
		j.Key("checks").Object()
		for _, c := range h.Checks {
			j.Key(c.Name).Object()
			writeCheck(&j, c.Err)
		}
		j.End()
	}
	j.Str("status", map[bool]string{true: "ok", false: "degraded"}[h.OK()]).End()
	writeJSON(w, status, j.Bytes())
}

// writeCheck closes a check's object with its outcome.
func writeCheck(j *jsonw.W, err error) {
	if err != nil {
		j.Flag("ok", false).Str("error", err.Error())
	} else {
		j.Flag("ok", true)
	}
	j.End()
}

package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/jsonw"
)

// HealthCheck probes one dependency for GET /healthz?deep=1.
type HealthCheck struct {
	Name  string
	Check func() error
}

// healthz answers liveness with version and build facts. It always checks
// the KV store (one write and read); ?deep=1 also runs the dependency
// checks (Kubernetes API, OIDC issuer), which cost outbound requests.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	status := http.StatusOK
	var j jsonw.W
	j.Object().Str("service", "spinport").Str("version", s.Config.Version).Str("buildTime", s.Config.BuildTime)
	j.Key("kv").Object().Str("backend", s.Config.KVBackend)
	if err := s.DB.Ping(s.now()); err != nil {
		status = http.StatusServiceUnavailable
		j.Flag("ok", false).Str("error", err.Error())
	} else {
		j.Flag("ok", true)
	}
	j.End()
	if r.URL.Query().Get("deep") == "1" {
		checks := s.Checks
		if s.Config.OIDC.Issuer != "" {
			checks = append(checks, HealthCheck{Name: "oidc", Check: func() error { _, err := s.discover(); return err }})
		}
		j.Key("checks").Object()
		for _, c := range checks {
			j.Key(c.Name).Object()
			if err := c.Check(); err != nil {
				status = http.StatusServiceUnavailable
				j.Flag("ok", false).Str("error", err.Error())
			} else {
				j.Flag("ok", true)
			}
			j.End()
		}
		j.End()
	}
	if status == http.StatusOK {
		j.Str("status", "ok")
	} else {
		j.Str("status", "degraded")
	}
	j.End()
	writeJSON(w, status, j.Bytes())
}

package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/spinport/spinport"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/jsonw"
	"github.com/spinport/spinport/kv"
)

// getStatus reports the cluster's view of the app and moves the newest
// revision from applied to ready (or failed, with the reason) as seen.
func getStatus(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	_, app, err := s.appAccess(p, ps, spinport.RoleViewer)
	if err != nil {
		return 0, nil, err
	}
	if s.Deployer == nil {
		return 0, nil, unavailable("no Kubernetes cluster is configured (set kube_api_url and kube_token)")
	}
	st, err := s.Deployer.Status(app)
	if err != nil {
		return 0, nil, err
	}
	rev, err := s.DB.LatestRevision(app.Tenant, app.Name)
	hasRev := err == nil
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return 0, nil, err
	}
	if hasRev && st.Revision == rev.Number {
		next := rev
		switch {
		case st.Failure != "" && rev.State != spinport.StateFailed:
			next.State, next.Reason = spinport.StateFailed, st.Failure
		case st.Ready && rev.State == spinport.StateApplied:
			next.State = spinport.StateReady
		}
		if next.State != rev.State {
			if err := s.DB.UpdateRevision(app.Tenant, app.Name, next); err != nil {
				return 0, nil, err
			}
			rev = next
		}
	}
	var w jsonw.W
	w.Object().Str("app", app.Name).Flag("ready", st.Ready)
	if hasRev {
		w.Key("revision").Object().Num("number", rev.Number).Str("state", rev.State).OptStr("reason", rev.Reason).End()
	} else {
		w.Key("revision").Null()
	}
	w.Key("cluster").Raw(st.JSON).End()
	return http.StatusOK, w.Bytes(), nil
}

func getLogs(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	_, app, err := s.appAccess(p, ps, spinport.RoleViewer)
	if err != nil {
		return 0, nil, err
	}
	tail := 100
	if t := r.URL.Query().Get("tail"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > 5000 {
			return 0, nil, badRequest("tail", "tail must be a whole number of lines from 1 to 5000")
		}
		tail = n
	}
	if s.Deployer == nil {
		return 0, nil, unavailable("no Kubernetes cluster is configured (set kube_api_url and kube_token)")
	}
	body, err := s.Deployer.Logs(app, tail)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, body, nil
}

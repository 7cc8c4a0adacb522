package api

import (
	"net/http"
	"strconv"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport"
	"github.com/spinport/spinport/jsonw"
)

// getStatus reports the cluster's view of the app; reading it moves the
// newest revision from applied to ready (or failed) in the service.
func getStatus(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	st, err := s.svc().Status(p, ps.ByName("tenant"), ps.ByName("app"))
	if err != nil {
		return 0, nil, err
	}
	var w jsonw.W
	w.Object().Str("app", st.App).Flag("ready", st.Cluster.Ready).OptStr("waiting", st.Cluster.Waiting)
	if rev := st.Revision; rev != nil {
		w.Key("revision").Object().Num("number", rev.Number).Str("state", rev.State).OptStr("reason", rev.Reason).End()
	} else {
		w.Key("revision").Null()
	}
	w.Key("cluster")
	writeCluster(&w, st.Cluster)
	w.End()
	return http.StatusOK, w.Bytes(), nil
}

// writeCluster writes what the cluster runs: {"spinApp":null} when nothing.
func writeCluster(w *jsonw.W, st spinport.Status) {
	w.Object().Key("spinApp")
	sp := st.SpinApp
	if sp == nil {
		w.Null().End()
		return
	}
	w.Object().Num("revision", st.Revision).Str("image", sp.Image).Num("replicas", sp.Replicas).
		Num("readyReplicas", sp.ReadyReplicas).Key("conditions").Raw(sp.Conditions).End()
	if r := sp.Rollout; r != nil {
		w.Key("deployment").Object().Str("rollout", r.State).Num("updatedReplicas", r.Updated).Num("availableReplicas", r.Available).End()
	}
	if c := sp.Certificate; c != nil {
		w.Key("certificate").Object().Flag("ready", c.Ready).OptStr("message", c.Message).End()
	}
	w.Strings("urls", sp.URLs).End()
}

func writePodLogs(w *jsonw.W, pods []spinport.PodLog) {
	w.Object().Key("pods").Array()
	for _, p := range pods {
		w.Object().Str("name", p.Name).Str("phase", p.Phase)
		if p.Error != "" {
			w.Str("error", p.Error)
		} else {
			w.Str("log", p.Log)
		}
		w.End()
	}
	w.End().End()
}

func getLogs(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	pods, err := s.svc().Logs(p, ps.ByName("tenant"), ps.ByName("app"), func() (int, error) {
		t := r.URL.Query().Get("tail")
		if t == "" {
			return 100, nil
		}
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > 5000 {
			return 0, badRequest("tail", "tail must be a whole number of lines from 1 to 5000")
		}
		return n, nil
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, one(func(w *jsonw.W) { writePodLogs(w, pods) }), nil
}

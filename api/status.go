package api

import (
	"net/http"
	"strconv"

	"github.com/julienschmidt/httprouter"
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
	w.Object().Str("app", st.App).Flag("ready", st.Cluster.Ready)
	if rev := st.Revision; rev != nil {
		w.Key("revision").Object().Num("number", rev.Number).Str("state", rev.State).OptStr("reason", rev.Reason).End()
	} else {
		w.Key("revision").Null()
	}
	w.Key("cluster").Raw(st.Cluster.JSON).End()
	return http.StatusOK, w.Bytes(), nil
}

func getLogs(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	body, err := s.svc().Logs(p, ps.ByName("tenant"), ps.ByName("app"), func() (int, error) {
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
	return http.StatusOK, body, nil
}

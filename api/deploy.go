package api

import (
	"net/http"
	"strconv"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/control"
	"github.com/spinport/spinport/jsonw"
	"github.com/spinport/spinport/kv"
)

func createDeployment(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	rev, created, err := s.svc().Deploy(p, ps.ByName("tenant"), ps.ByName("app"), func() (control.DeployInput, error) {
		b := bind(r, "image", "source", "gitRef", "gitSha", "dryRun")
		in := control.DeployInput{Image: b.str("image"), Source: b.str("source"), GitRef: b.str("gitRef"), GitSHA: b.str("gitSha"),
			DryRun: b.bool("dryRun", false)}
		return in, b.err
	})
	if err == nil && rev.Number == 0 { // a dry run: checked, nothing recorded or applied
		return http.StatusOK, one(func(w *jsonw.W) { writeRevision(w, rev) }), nil
	}
	return createdOrOK(created), one(func(w *jsonw.W) { writeRevision(w, rev) }), err
}

func rollback(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	rev, err := s.svc().Rollback(p, ps.ByName("tenant"), ps.ByName("app"), func() (int64, error) {
		b := bind(r, "revision")
		return b.int("revision", 0), b.err
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, one(func(w *jsonw.W) { writeRevision(w, rev) }), nil
}

func listRevisions(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	limit, before, err := numPage(r)
	if err != nil {
		return 0, nil, err
	}
	revs, next, err := s.svc().Revisions(p, ps.ByName("tenant"), ps.ByName("app"), before, limit)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, list(len(revs), func(w *jsonw.W, i int) { writeRevision(w, revs[i]) }, cursorNum(next)), nil
}

func getRevision(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	asked := ps.ByName("revision")
	n, _ := strconv.ParseInt(asked, 10, 64) // 0 if not a number: the service refuses it
	rev, err := s.svc().Revision(p, ps.ByName("tenant"), ps.ByName("app"), n, asked)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, one(func(w *jsonw.W) { writeRevision(w, rev) }), nil
}

// numPage reads ?limit= and a numeric ?cursor= (logs read newest first).
func numPage(r *http.Request) (limit int, before int64, err error) {
	limit, cursor, err := page(r)
	if err != nil || cursor == "" {
		return limit, 0, err
	}
	n, err := strconv.ParseInt(cursor, 10, 64)
	if err != nil || n < 1 {
		return 0, 0, kv.ErrBadCursor
	}
	return limit, n, nil
}

package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport"
	"github.com/spinport/spinport/control"
	"github.com/spinport/spinport/jsonw"
)

func listPushCredentials(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	limit, cursor, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	cs, next, err := s.svc().PushCredentials(p, ps.ByName("tenant"), cursor, limit)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, list(len(cs), func(w *jsonw.W, i int) { writePushCredential(w, cs[i]) }, next), nil
}

func bindPush(r *http.Request, withName bool) func() (control.PushInput, error) {
	return func() (control.PushInput, error) {
		fields := []string{"expiresInDays"}
		if withName {
			fields = append(fields, "name")
		}
		b := bind(r, fields...)
		in := control.PushInput{Name: b.str("name"), ExpiresInDays: b.int("expiresInDays", 0)}
		return in, b.err
	}
}

func createPushCredential(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	is, err := s.svc().CreatePushCredential(p, ps.ByName("tenant"), bindPush(r, true))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, pushIssued(is), nil
}

func rotatePushCredential(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	is, err := s.svc().RotatePushCredential(p, ps.ByName("tenant"), ps.ByName("name"), bindPush(r, false))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, pushIssued(is), nil
}

func revokePushCredential(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	return http.StatusNoContent, nil, s.svc().RevokePushCredential(p, ps.ByName("tenant"), ps.ByName("name"))
}

// pushIssued is the one answer with the password, and the lines to paste
// into CI (a Spin app is pushed as an OCI artifact by `spin registry push`).
func pushIssued(is control.PushIssued) []byte {
	var w jsonw.W
	w.Object().Key("credential")
	writePushCredential(&w, is.Credential)
	w.Str("password", is.Password).Str("loginServer", is.LoginServer).Str("repository", is.Repository).
		Str("login", "spin registry login "+is.LoginServer+" --username "+is.Credential.Username+" --password-stdin").
		Str("push", "spin registry push "+is.Repository+":<tag>").End()
	return w.Bytes()
}

// pushShownOnce answers a repeated Idempotency-Key: the password was in
// the first answer only.
func pushShownOnce(created []byte) *Problem {
	name := createdString(created, "credential", "name")
	return &Problem{Status: http.StatusConflict, Title: "Secret already shown", Field: "Idempotency-Key",
		Detail: "push credential " + name + " got its password in the first answer to this Idempotency-Key; spinport does not keep it. Rotate it (POST …/push-credentials/" + name + "/rotate) for a new one"}
}

func writePushCredential(w *jsonw.W, c spinport.PushCredential) {
	w.Object().Str("name", c.Name).Str("username", c.Username).Num("passwordSlot", int64(c.Slot)).
		Str("expiresAt", rfc3339(c.Expires)).Str("createdAt", rfc3339(c.CreatedAt)).Str("createdBy", c.CreatedBy).
		Str("rotatedAt", rfc3339(c.RotatedAt)).End()
}

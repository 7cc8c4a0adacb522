package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/control"
	"github.com/spinport/spinport/jsonw"
	"github.com/valyala/fastjson"
)

func createToken(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	t, secret, err := s.svc().CreateToken(p, ps.ByName("tenant"), func() (control.TokenInput, error) {
		b := bind(r, "name", "scopes", "app", "expiresInDays")
		in := control.TokenInput{Name: b.str("name"), Scopes: b.strs("scopes"), App: b.str("app"), ExpiresInDays: b.int("expiresInDays", 90)}
		return in, b.err
	})
	if err != nil {
		return 0, nil, err
	}
	var w jsonw.W
	w.Object().Key("token")
	writeToken(&w, t)
	// The only time the secret is shown: spinport keeps its hash alone.
	w.Str("secret", secret).End()
	return http.StatusCreated, w.Bytes(), nil
}

// tokenShownOnce is what a repeat of a token creation (same
// Idempotency-Key) answers: the secret was in the first answer only and is
// not kept anywhere, so it cannot be shown again.
func tokenShownOnce(created []byte) *Problem {
	id := createdString(created, "token", "id")
	return &Problem{Status: http.StatusConflict, Title: "Secret already shown", Field: "Idempotency-Key",
		Detail: "token " + id + " was created by the first request with this Idempotency-Key; its secret was shown once, in that answer, and spinport does not keep it. " +
			"If it was lost, revoke the token (DELETE /api/v1/tenants/{tenant}/tokens/" + id + ") and create a new one"}
}

// createdString is a string field of a first answer (JSON spinport wrote),
// copied out of the parser's buffer; "" when it is missing.
func createdString(created []byte, keys ...string) string {
	var p fastjson.Parser
	v, err := p.ParseBytes(created)
	if err != nil {
		return ""
	}
	return string(v.GetStringBytes(keys...))
}

func listTokens(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	limit, cursor, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	ts, next, err := s.svc().Tokens(p, ps.ByName("tenant"), cursor, limit)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, list(len(ts), func(w *jsonw.W, i int) { writeToken(w, ts[i]) }, next), nil
}

func revokeToken(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	return http.StatusNoContent, nil, s.svc().RevokeToken(p, ps.ByName("tenant"), ps.ByName("token"))
}

func listAudit(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	limit, before, err := numPage(r)
	if err != nil {
		return 0, nil, err
	}
	es, next, err := s.svc().Audit(p, ps.ByName("tenant"), before, limit)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, list(len(es), func(w *jsonw.W, i int) { writeAudit(w, es[i]) }, cursorNum(next)), nil
}

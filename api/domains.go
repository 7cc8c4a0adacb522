package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/control"
	"github.com/spinport/spinport/jsonw"
)

func listDomains(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	vs, err := s.svc().Domains(p, ps.ByName("tenant"), ps.ByName("app"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, list(len(vs), func(w *jsonw.W, i int) { writeDomain(w, vs[i]) }, ""), nil
}

func verifyDomain(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	v, err := s.svc().VerifyDomain(p, ps.ByName("tenant"), ps.ByName("app"), ps.ByName("host"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, one(func(w *jsonw.W) { writeDomain(w, v) }), nil
}

// writeDomain: per host, verification (with the exact record to add), DNS
// (what it resolves to, what it should), certificate, and the next step.
func writeDomain(w *jsonw.W, v control.DomainView) {
	w.Object().Str("host", v.Host).Flag("default", v.Default)
	w.Key("verification").Object().Str("state", v.State)
	if !v.Default {
		w.Key("record").Object().Str("type", "TXT").Str("name", v.RecordName).Str("value", v.RecordValue).End()
	}
	w.End()
	w.Key("dns").Object().Flag("checked", v.Checked).Str("target", v.Target)
	if v.Checked {
		w.Flag("pointsAtIngress", v.PointsAtIngress).Strings("cnames", v.CNAMEs).Strings("addresses", v.Addresses)
	}
	w.End()
	if c := v.Certificate; c != nil {
		state := "ready"
		if !c.Ready {
			state = "issuing"
			if c.Reason == "Failed" || c.Reason == "Denied" || c.Reason == "InvalidRequest" {
				state = "failed"
			}
		}
		w.Key("certificate").Object().Str("state", state).OptStr("reason", c.Reason).OptStr("message", c.Message).End()
	}
	w.Str("next", v.Next).End()
}

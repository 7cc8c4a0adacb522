//go:build tinygo

package main

import (
	"strings"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/doh"
)

// resolver looks custom domains' ownership records up over DNS-over-HTTPS
// (RFC 8484) at doh_resolver; nil (domains cannot be verified) when it is
// empty. The variable is an origin (it must also be in
// allowed_outbound_hosts); the path is /dns-query, which Cloudflare,
// Google and Quad9 all serve.
func resolver(v *spinVariables, doer doh.Doer) spinport.Resolver {
	origin := strings.TrimSuffix(v.get("doh_resolver"), "/")
	if origin == "" {
		return nil
	}
	return dohResolver{&doh.Client{URL: origin + "/dns-query", HTTP: doer}}
}

// dohResolver adapts doh.Client to spinport.Resolver: a name that does not
// exist is an empty answer there, not an error.
type dohResolver struct{ c *doh.Client }

func (r dohResolver) LookupTXT(name string) ([]string, error) {
	txt, err := r.c.LookupTXT(name)
	if doh.IsNotFound(err) {
		return nil, nil
	}
	return txt, lookupProblem(name, err)
}

func (r dohResolver) LookupHost(name string) (cnames, addrs []string, err error) {
	a, err := r.c.LookupHost(name)
	if doh.IsNotFound(err) {
		return nil, nil, nil
	}
	return a.CNAMEs, a.Addrs, lookupProblem(name, err)
}

// lookupProblem: a resolver that is down answers 503 (its error says
// Unavailable); anything else it answered is a failed dependency.
func lookupProblem(name string, err error) error {
	if err == nil {
		return nil
	}
	if u, ok := err.(interface{ Unavailable() bool }); ok && u.Unavailable() {
		return &spinport.Error{Kind: spinport.Unavailable, Title: "DNS resolver unavailable", Detail: "looking up " + name + ": " + err.Error()}
	}
	return &spinport.Error{Kind: spinport.Failed, Title: "DNS lookup failed", Detail: "looking up " + name + ": " + err.Error()}
}

//go:build tinygo

package main

import (
	"strings"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/registry"
)

// artifacts inspects images before deploys when inspect_artifacts is on
// (docs/deploys.md). spinport reaches only the registries its Spin
// allowed_outbound_hosts lists: registry_origin_1..3, which the manifest
// puts there (a token realm on another host, such as Docker Hub's
// auth.docker.io, needs a slot too).
func artifacts(v *spinVariables, doer registry.Doer) spinport.Artifacts {
	if v.get("inspect_artifacts") != "on" {
		return nil
	}
	var origins []string
	insecure := map[string]bool{}
	for _, name := range []string{"registry_origin_1", "registry_origin_2", "registry_origin_3"} {
		o := strings.TrimSuffix(v.get(name), "/")
		if o == "" {
			continue
		}
		origins = append(origins, o)
		if h, ok := strings.CutPrefix(o, "http://"); ok {
			insecure[h] = true // a loopback or in-cluster registry without TLS, listed as such
		}
	}
	// Pull credentials for private registries, e.g. an ACR token with the
	// built-in _repositories_pull scope map: a secret variable, never in KV.
	creds := map[string][2]string{}
	for _, entry := range strings.Split(v.get("registry_credentials"), ",") {
		host, userPass, ok := strings.Cut(strings.TrimSpace(entry), "=")
		user, pass, ok2 := strings.Cut(userPass, ":")
		if ok && ok2 && host != "" {
			creds[host] = [2]string{user, pass}
		}
	}
	return registry.Artifacts{Origins: origins, Client: &registry.Client{HTTP: doer,
		Insecure:    func(r string) bool { return insecure[r] },
		Credentials: func(r string) (string, string, bool) { c, ok := creds[r]; return c[0], c[1], ok }}}
}

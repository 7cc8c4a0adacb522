package azure

import (
	"strings"
	"time"

	"github.com/spinport/spinport"
)

// This file adapts the REST clients to spinport's interfaces
// (spinport.PushRegistry, spinport.HostDNS) and turns Azure's failures
// into answers a tenant can act on, keeping Azure's code and message.

// problem maps an Azure failure: unavailable (throttled, 5xx, transport,
// Entra down) answers 503; a conflict 409; anything else 502-like
// "Failed" with ARM's code and message. Nothing here carries a secret:
// the clients redact tokens and passwords from their errors.
func problem(step string, err error) error {
	if err == nil {
		return nil
	}
	// Walk the chain by hand: TinyGo 0.30's errors.As with an interface
	// target matches anything (environment.md).
	for e := err; e != nil; {
		switch x := e.(type) {
		case interface{ Unavailable() bool }:
			if x.Unavailable() {
				return &spinport.Error{Kind: spinport.Unavailable, Title: "Azure unavailable",
					Detail: step + ": " + err.Error() + "; retry the same request shortly and it will converge"}
			}
		}
		switch x := e.(type) {
		case *ConflictError:
			return &spinport.Error{Kind: spinport.Conflict, Title: "Azure resource not spinport's", Detail: step + ": " + x.Error()}
		case *EntraError:
			return &spinport.Error{Kind: spinport.Failed, Title: "Azure sign-in failed",
				Detail: step + ": Entra ID refused spinport's credential: " + x.Error() + " (see docs/aks.md, troubleshooting)"}
		case *Error:
			kind := spinport.Failed
			if x.Status == 400 || x.Status == 409 {
				kind = spinport.Refused
			}
			return &spinport.Error{Kind: kind, Title: "Azure refused the change", Detail: step + ": " + x.Code + ": " + x.Message}
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	return &spinport.Error{Kind: spinport.Failed, Title: "Azure call failed", Detail: step + ": " + err.Error()}
}

// PushRegistry gives tenants credentials scoped to their repositories on
// one Azure Container Registry: a scope map per tenant (ACRName(tenant))
// listing <tenant>/<app> for each app (or <tenant>/* when the registry
// accepts wildcards), and a token per credential bound to it.
type PushRegistry struct {
	Registry *Registry
	Server   string // login server, e.g. myacr.azurecr.io
}

var _ spinport.PushRegistry = PushRegistry{}

func (p PushRegistry) LoginServer() string                  { return p.Server }
func (p PushRegistry) Repository(tenant, app string) string { return tenant + "/" + app }

func (p PushRegistry) SetTenantScope(tenant string, apps []string) error {
	var repos []string
	if p.Registry.AllowWildcards {
		repos = []string{tenant + "/*"}
	} else {
		for _, a := range apps {
			repos = append(repos, p.Repository(tenant, a))
		}
	}
	if len(repos) == 0 {
		return &spinport.Error{Kind: spinport.Refused, Title: "No repositories to grant",
			Detail: "the tenant has no apps, so a push credential would grant nothing: create an app first (its images go to " + p.Server + "/" + tenant + "/<app>)"}
	}
	return problem("ACR scope map "+ACRName(tenant), p.Registry.EnsureScopeMap(ACRName(tenant), repos))
}

// tokenName is the registry token of a tenant's credential.
func tokenName(tenant, name string) string { return ACRName(tenant + "-" + name) }

func (p PushRegistry) Issue(tenant, name string, expiry time.Time, slot int) (spinport.PushSecret, error) {
	tok := tokenName(tenant, name)
	if err := p.Registry.EnsureToken(tok, ACRName(tenant)); err != nil {
		return spinport.PushSecret{}, problem("ACR token "+tok, err)
	}
	pw := Password1
	if slot == 2 {
		pw = Password2
	}
	c, err := p.Registry.GenerateCredentials(tok, expiry, pw)
	if err != nil {
		return spinport.PushSecret{}, problem("ACR credentials of "+tok, err)
	}
	return spinport.PushSecret{Username: c.Username, Password: c.Password, Expiry: c.Expiry}, nil
}

func (p PushRegistry) Revoke(tenant, name string) error {
	tok := tokenName(tenant, name)
	return problem("ACR token "+tok, p.Registry.DeleteToken(tok))
}

func (p PushRegistry) DeleteTenantScope(tenant string) error {
	return problem("ACR scope map "+ACRName(tenant), p.Registry.DeleteScopeMap(ACRName(tenant)))
}

// HostRecords keeps a record per app host in the managed zones, pointing
// at the ingress: an A record for an address, a CNAME for a host name.
type HostRecords struct {
	DNS    *DNS
	Zones  []Zone
	Target string // the ingress's IPv4 address or host name
}

var _ spinport.HostDNS = HostRecords{}

// zone finds the managed zone host is in (the longest match) and the
// record's name relative to it ("@" for the apex).
func (h HostRecords) zone(host string) (Zone, string, bool) {
	best, rel := -1, ""
	for i, z := range h.Zones {
		switch {
		case host == z.Name && (best < 0 || len(z.Name) > len(h.Zones[best].Name)):
			best, rel = i, "@"
		case strings.HasSuffix(host, "."+z.Name) && (best < 0 || len(z.Name) > len(h.Zones[best].Name)):
			best, rel = i, strings.TrimSuffix(host, "."+z.Name)
		}
	}
	if best < 0 {
		return Zone{}, "", false
	}
	return h.Zones[best], rel, true
}

func (h HostRecords) Manages(host string) bool { _, _, ok := h.zone(host); return ok }

func (h HostRecords) recordType() RecordType {
	if spinport.IsIPv4(h.Target) {
		return RecordA
	}
	return RecordCNAME
}

func (h HostRecords) Point(host, owner string) error {
	z, rel, ok := h.zone(host)
	if !ok {
		return nil
	}
	t := h.recordType()
	if rel == "@" && t == RecordCNAME {
		return &spinport.Error{Kind: spinport.Refused, Title: "Apex needs an address",
			Detail: host + " is the apex of zone " + z.Name + ", which cannot be a CNAME: the installation must set dns_target to the ingress's IPv4 address, or use a subdomain"}
	}
	_, err := h.DNS.EnsureRecord(z, rel, t, []string{h.Target}, owner)
	return problem("DNS record "+string(t)+" "+host, err)
}

func (h HostRecords) Remove(host, owner string) error {
	z, rel, ok := h.zone(host)
	if !ok {
		return nil
	}
	// The host's record and its ownership proof (TXT); someone else's
	// record (or none) is left alone: spinport never made it, so removing
	// the host has nothing to undo there.
	proof := "_spinport-challenge"
	if rel != "@" {
		proof += "." + rel
	}
	for _, r := range []struct {
		name string
		typ  RecordType
	}{{rel, h.recordType()}, {proof, RecordTXT}} {
		rs, found, err := h.DNS.GetRecord(z, r.name, r.typ)
		if err != nil {
			return problem("DNS record "+host, err)
		}
		if !found || !rs.OwnedBy(owner) {
			continue
		}
		if err := h.DNS.DeleteRecord(z, r.name, r.typ, owner); err != nil {
			return problem("DNS record "+string(r.typ)+" "+r.name+" in "+z.Name, err)
		}
	}
	return nil
}

// Prove publishes TXT _spinport-challenge.<host> = token in the host's
// managed zone (owned like the host's record).
func (h HostRecords) Prove(host, token, owner string) error {
	z, rel, ok := h.zone(host)
	if !ok {
		return nil
	}
	name := "_spinport-challenge"
	if rel != "@" {
		name += "." + rel
	}
	_, err := h.DNS.EnsureRecord(z, name, RecordTXT, []string{token}, owner)
	return problem("DNS record TXT "+spinport.ChallengeName(host), err)
}

package control

import (
	"errors"
	"net"
	"strings"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/kv"
)

// Deploys that know the app (Service.Artifacts): the image's tag is pinned
// to the digest it points at now, the Spin app it carries is read (once
// per digest, then from KV) and checked against what the app and the
// installation provide, so a deploy that would only fail as pods that
// never become ready is refused first with what to fix.

// inspect pins im and returns what it declares.
func (s *Service) inspect(im spinport.Image) (spinport.Image, spinport.Artifact, error) {
	if im.Digest == "" {
		d, err := s.Artifacts.Resolve(im.String())
		if err != nil {
			return im, spinport.Artifact{}, err
		}
		im.Digest = d
	}
	a, err := s.DB.GetArtifact(im.Digest)
	if err == nil {
		return im, a, nil
	}
	if !errors.Is(err, kv.ErrNotFound) {
		s.logf("artifact cache: " + err.Error()) // unreadable: ask the registry again
	}
	if a, err = s.Artifacts.Inspect(spinport.Pin(im.String(), im.Digest)); err != nil {
		return im, a, err
	}
	if err := s.DB.PutArtifact(im.Digest, a); err != nil {
		s.logf("artifact cache: " + err.Error())
	}
	return im, a, nil
}

// checkArtifact refuses what the cluster would fail on, each with its fix.
func (s *Service) checkArtifact(app spinport.App, rev spinport.Revision, a spinport.Artifact) error {
	refuse := func(title, detail string) error {
		return &spinport.Error{Kind: spinport.Refused, Title: title, Field: "image", Detail: detail}
	}
	set := map[string]bool{}
	for _, v := range rev.Variables {
		set[strings.ToLower(v.Name)] = true
	}
	var missing []string
	for _, v := range a.Variables {
		if v.Required && !set[strings.ToLower(v.Name)] {
			missing = append(missing, v.Name)
		}
	}
	base := "/api/v1/tenants/" + app.Tenant + "/apps/" + app.Name
	if len(missing) > 0 {
		return refuse("Required variables not set", "the app requires the variables "+strings.Join(missing, ", ")+
			" and they are not set: set each with PUT "+base+"/variables/<name> {\"value\": ...} (\"secret\": true for secrets), then deploy again")
	}
	// What the installation cannot provide first (no setting fixes it),
	// then what the app's settings can.
	for _, st := range a.KeyValueStores {
		if st != "default" {
			return refuse("Key-value store not provided", "the app uses the key-value store \""+st+"\"; spinport provides only \"default\": use that store in the app")
		}
	}
	if len(a.SQLiteDatabases) > 0 {
		return refuse("SQLite not provided", "the app uses the SQLite databases "+strings.Join(a.SQLiteDatabases, ", ")+", which this installation does not provide")
	}
	if len(a.KeyValueStores) > 0 && !app.KV {
		return refuse("Key-value store not bound", "the app uses the key-value store \"default\" but is not bound to one: PATCH "+base+" {\"kv\": true}, then deploy again")
	}
	var bad []string
	for _, h := range a.AllowedOutboundHosts {
		if why := forbiddenOutbound(h); why != "" {
			bad = append(bad, h+" ("+why+")")
		}
	}
	if len(bad) > 0 {
		return refuse("Outbound hosts not allowed", "the app's allowed_outbound_hosts reach what tenants' apps may not: "+strings.Join(bad, ", ")+"; remove them from spin.toml")
	}
	return nil
}

// forbiddenOutbound says why an allowed_outbound_hosts entry reaches what
// a tenant's app must not (the node's metadata endpoint, private and
// loopback addresses, cluster-internal names), "" if it does not.
// Wildcards stay allowed: the NetworkPolicy and block_private_networks
// keep them off private networks (docs/tenancy.md).
func forbiddenOutbound(entry string) string {
	host := entry
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	host = strings.TrimSuffix(strings.SplitN(host, "/", 2)[0], ".")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if ip := net.ParseIP(host); ip != nil {
		// By CIDR: TinyGo 0.30's net.IP has no IsPrivate.
		for _, r := range []struct{ cidr, why string }{
			{"169.254.0.0/16", "the cloud metadata endpoint"}, {"fe80::/10", "a link-local address"},
			{"10.0.0.0/8", "a private address"}, {"172.16.0.0/12", "a private address"}, {"192.168.0.0/16", "a private address"},
			{"127.0.0.0/8", "a private address"}, {"0.0.0.0/8", "a private address"}, {"fc00::/7", "a private address"},
			{"::1/128", "a private address"}, {"::/128", "a private address"},
		} {
			if _, n, err := net.ParseCIDR(r.cidr); err == nil && n.Contains(ip) {
				return r.why
			}
		}
		return ""
	}
	if host == "spin.internal" || strings.HasSuffix(host, ".spin.internal") {
		return "" // Spin's local service chaining: stays inside the app
	}
	for _, suffix := range []string{".svc", ".cluster.local", ".svc.cluster.local", ".internal"} {
		if strings.HasSuffix(host, suffix) {
			return "a cluster-internal name"
		}
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || host == "kubernetes" || host == "metadata.google.internal" {
		return "a cluster-internal name"
	}
	return ""
}

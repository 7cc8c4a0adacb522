package spinhost

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// allowed_outbound_hosts, with Spin's rules (spin-factor-outbound-networking):
//
//   - Each entry is scheme://host[:port], no path (a trailing "/" is fine).
//   - scheme is a word or "*"; host is a name, "*", "*.suffix", "self" (only
//     relative "/path" requests from the component itself) or a CIDR;
//     port is a number, a range "a..b" (end exclusive), or "*".
//   - A missing port means the scheme's well-known port (http 80,
//     https 443, redis 6379, postgres 5432, mysql 3306, mqtt 1883); a
//     scheme without one must name a port.
//   - Entries may be {{ variable }} templates, resolved at startup; a
//     resolved value that does not parse stops startup.
//   - An empty list allows nothing. "insecure:allow-all" is rejected.
//
// A URL is allowed if any entry matches scheme, host and port; a URL that
// does not parse is not allowed.

// AllowedHost is one parsed allowed_outbound_hosts entry.
type AllowedHost struct {
	Original string
	scheme   string // "" = any
	host     hostPattern
	ports    portPattern
}

type hostKind int

const (
	hostExact hostKind = iota
	hostAny
	hostSubdomain
	hostSelf
	hostCIDR
)

type hostPattern struct {
	kind   hostKind
	name   string // exact host, or ".suffix" for subdomains
	prefix netip.Prefix
}

type portPattern struct {
	any        bool
	start, end int // [start, end); a single port p is [p, p+1)
}

// WellKnownPort returns the default port Spin assumes for a scheme.
func WellKnownPort(scheme string) (int, bool) {
	switch scheme {
	case "postgres":
		return 5432, true
	case "mysql":
		return 3306, true
	case "redis":
		return 6379, true
	case "mqtt":
		return 1883, true
	case "http":
		return 80, true
	case "https":
		return 443, true
	}
	return 0, false
}

// ParseAllowedHost parses one literal (already template-resolved) entry.
func ParseAllowedHost(entry string) (AllowedHost, error) {
	s := strings.TrimSpace(entry)
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return AllowedHost{}, fmt.Errorf("%q does not contain a scheme (e.g., 'http://' or '*://')", s)
	}
	host, portPart := rest, ""
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		host, portPart = rest[:i], rest[i+1:]
	}
	if p, path, hasPath := strings.Cut(portPart, "/"); hasPath {
		if path != "" {
			return AllowedHost{}, fmt.Errorf("%q has a path but is not allowed to", s)
		}
		portPart = p
	}
	h := AllowedHost{Original: entry}

	switch {
	case scheme == "*":
	case strings.HasPrefix(scheme, "{"):
		return AllowedHost{}, fmt.Errorf("%q: scheme lists are not yet supported", s)
	case scheme == "" || strings.IndexFunc(scheme, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') }) >= 0:
		return AllowedHost{}, fmt.Errorf("%q: scheme %q contains non alphabetic character", s, scheme)
	default:
		h.scheme = scheme
	}

	host = strings.TrimSpace(host)
	switch {
	case host == "*":
		h.host.kind = hostAny
	case host == "self":
		h.host.kind = hostSelf
	case strings.HasPrefix(host, "{"):
		return AllowedHost{}, fmt.Errorf("%q: host lists are not yet supported", s)
	default:
		if pfx, err := netip.ParsePrefix(host); err == nil {
			h.host = hostPattern{kind: hostCIDR, prefix: pfx.Masked()}
			break
		}
		if _, path, ok := strings.Cut(host, "/"); ok && path != "" {
			return AllowedHost{}, fmt.Errorf("%q: hosts must not contain paths", s)
		}
		if domain, ok := strings.CutPrefix(host, "*."); ok {
			if strings.Contains(domain, "*") {
				return AllowedHost{}, fmt.Errorf("invalid allowed host %s: wildcards are allowed only as prefixes", host)
			}
			h.host = hostPattern{kind: hostSubdomain, name: "." + domain}
			break
		}
		if strings.Contains(host, "*") {
			return AllowedHost{}, fmt.Errorf("invalid allowed host %s: wildcards are allowed only as subdomains", host)
		}
		h.host = hostPattern{kind: hostExact, name: strings.TrimRight(host, "/")}
	}

	switch {
	case portPart == "":
		p, ok := WellKnownPort(scheme)
		if !ok {
			return AllowedHost{}, fmt.Errorf("%q: no port was provided and the scheme %q does not have a known default port number", s, scheme)
		}
		h.ports = portPattern{start: p, end: p + 1}
	case portPart == "*":
		h.ports.any = true
	case strings.HasPrefix(portPart, "{"):
		return AllowedHost{}, fmt.Errorf("%q: port lists are not yet supported", s)
	default:
		if a, b, isRange := strings.Cut(portPart, ".."); isRange {
			start, err1 := strconv.ParseUint(a, 10, 16)
			end, err2 := strconv.ParseUint(b, 10, 16)
			if err1 != nil || err2 != nil {
				return AllowedHost{}, fmt.Errorf("%q: port range %q contains non-number", s, portPart)
			}
			h.ports = portPattern{start: int(start), end: int(end)}
		} else {
			p, err := strconv.ParseUint(portPart, 10, 16)
			if err != nil {
				return AllowedHost{}, fmt.Errorf("%q: port %q is not a number", s, portPart)
			}
			h.ports = portPattern{start: int(p), end: int(p) + 1}
		}
	}
	return h, nil
}

// AllowedHosts is a component's parsed allowed_outbound_hosts.
type AllowedHosts []AllowedHost

// ParseAllowedHosts resolves templates against the application variables
// and parses every entry.
func ParseAllowedHosts(entries []string, values map[string]string) (AllowedHosts, error) {
	if len(entries) == 1 && entries[0] == "insecure:allow-all" {
		return nil, fmt.Errorf("'insecure:allow-all' is not allowed - use '*://*:*' instead if you really want to allow all outbound traffic")
	}
	out := make(AllowedHosts, 0, len(entries))
	for _, e := range entries {
		t, err := ParseTemplate(e)
		if err != nil {
			return nil, err
		}
		resolved, err := t.Render(values)
		if err != nil {
			return nil, fmt.Errorf("allowed_outbound_hosts entry %q: %w", e, err)
		}
		h, err := ParseAllowedHost(resolved)
		if err != nil {
			if !t.IsLiteral() {
				return nil, fmt.Errorf("allowed_outbound_hosts entry %q (resolved to %q): %w", e, resolved, err)
			}
			return nil, fmt.Errorf("allowed_outbound_hosts: %w", err)
		}
		h.Original = e
		out = append(out, h)
	}
	return out, nil
}

// outboundURL is the (scheme, host, port) of a request target.
type outboundURL struct {
	scheme string
	host   string
	port   int // 0 = not given
}

// parseOutboundURL mirrors Spin's OutboundUrl::parse: parse the URL as
// is, and if that yields no host, retry with defaultScheme:// in front.
func parseOutboundURL(raw, defaultScheme string) (outboundURL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		u2, err2 := url.Parse(defaultScheme + "://" + raw)
		if err2 != nil || u2.Host == "" {
			if err == nil {
				err = fmt.Errorf("%q does not have a host component", raw)
			}
			return outboundURL{}, err
		}
		u = u2
	}
	o := outboundURL{scheme: strings.ToLower(u.Scheme), host: u.Hostname()}
	if o.host == "" {
		return outboundURL{}, fmt.Errorf("%q does not have a host component", raw)
	}
	if o.scheme == "http" || o.scheme == "https" {
		// The WHATWG URL parser Spin uses lower-cases hosts of special schemes.
		o.host = strings.ToLower(o.host)
	}
	if strings.Contains(o.host, ":") {
		// Rust's url::Url::host_str keeps the brackets of IPv6 literals, so
		// an allowed entry must say "[::1]" too.
		o.host = "[" + o.host + "]"
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return outboundURL{}, fmt.Errorf("%q: invalid port", raw)
		}
		o.port = int(n)
	}
	return o, nil
}

func (h AllowedHost) allows(u outboundURL) bool {
	if h.scheme != "" && h.scheme != u.scheme {
		return false
	}
	switch h.host.kind {
	case hostAny:
	case hostSubdomain:
		if !strings.HasSuffix(u.host, h.host.name) {
			return false
		}
	case hostExact:
		if u.host != h.host.name {
			return false
		}
	case hostSelf:
		return false // only relative URLs reach "self"
	case hostCIDR:
		addr, err := netip.ParseAddr(strings.Trim(u.host, "[]"))
		if err != nil || !h.host.prefix.Contains(addr.Unmap()) {
			return false
		}
	}
	if h.ports.any {
		return true
	}
	port := u.port
	if port == 0 {
		p, ok := WellKnownPort(u.scheme)
		if !ok {
			return false
		}
		port = p
	}
	return port >= h.ports.start && port < h.ports.end
}

// Allows reports whether a request to rawURL may leave the host.
// defaultScheme is assumed when rawURL has none ("https" for HTTP,
// "redis" for Redis addresses).
func (hs AllowedHosts) Allows(rawURL, defaultScheme string) bool {
	u, err := parseOutboundURL(rawURL, defaultScheme)
	if err != nil {
		return false
	}
	for _, h := range hs {
		if h.allows(u) {
			return true
		}
	}
	return false
}

// AllowsRelative reports whether the component may send requests to a
// relative URL ("/path"), i.e. to its own app: an entry with host "self"
// or "*" and one of the given schemes.
func (hs AllowedHosts) AllowsRelative(schemes ...string) bool {
	for _, h := range hs {
		if h.host.kind != hostSelf && h.host.kind != hostAny {
			continue
		}
		for _, s := range schemes {
			if h.scheme == "" || h.scheme == s {
				return true
			}
		}
	}
	return false
}

// withoutPassword hides the user info of a URL (Redis URLs carry the
// password there) before it is logged or returned to the guest. It is the
// one redaction rule for URLs:
//
//   - a URL that parses with user info shows it as REDACTED;
//   - a string that does not parse as a URL (a password with an unescaped
//     '/', '#', '?' or '@', say), and a redis, rediss or unix URL, which
//     never carries '@' outside its user info, has everything between
//     "://" and the last '@' replaced by REDACTED;
//   - anything else (an https URL with '@' in its path) is unchanged.
func withoutPassword(raw string) string {
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		u.User = url.User("REDACTED")
		return u.String()
	}
	if err == nil && !isRedisScheme(u.Scheme) {
		return raw
	}
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + len("://")
	}
	if at := strings.LastIndex(raw[start:], "@"); at >= 0 {
		return raw[:start] + "REDACTED" + raw[start+at:]
	}
	return raw
}

func isRedisScheme(scheme string) bool {
	switch strings.ToLower(scheme) {
	case "redis", "rediss", "unix":
		return true
	}
	return false
}

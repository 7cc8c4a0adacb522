package spinhost

import (
	"fmt"
	"strings"
)

// Routing follows Spin's HTTP trigger (spin-http routes.rs on routefinder):
//
//   - The application base is always "/" in manifest v2, so a route's
//     "based" form is the route with one trailing slash removed ("/" becomes
//     "", "/api/..." stays "/api/...").
//   - "/prefix/..." (or "/prefix/*") matches /prefix and everything below
//     it; anything else matches exactly, ignoring one trailing slash of the
//     request path. ":name" segments match one segment and are exposed to
//     the guest as spin-path-match-<name> headers.
//   - The most specific route wins: literal segments beat ":name" segments,
//     which beat the trailing wildcard, compared segment by segment; so an
//     exact route beats a wildcard and a longer prefix beats a shorter one.
//   - Two triggers with the same route: the later one wins.
//   - Routes under /.well-known/spin/ are answered by the host itself.

// WellKnownPrefix is the path prefix Spin reserves for itself.
const WellKnownPrefix = "/.well-known/spin/"

// Route is one routable [[trigger.http]] entry.
type Route struct {
	Raw       string // as written in the manifest
	Based     string // combined with the (always "/") base
	Component string

	wildcard bool
	prefix   string   // Based without the trailing wildcard
	segs     []string // literal segments or ":name"
}

// RouteMatch is the result of routing one request path.
type RouteMatch struct {
	Route *Route
	// PathInfo is the part of the path matched by the trailing wildcard,
	// with Spin's slash conventions; "" for exact routes.
	PathInfo string
	// Named holds ":name" captures.
	Named map[string]string
}

// Router maps request paths to components.
type Router struct {
	routes []*Route
}

// NewRouter builds a router from the manifest's HTTP triggers.
func NewRouter(triggers []HTTPTrigger) (*Router, error) {
	r := &Router{}
	seen := map[string]int{}
	for _, t := range triggers {
		if t.Private {
			continue
		}
		rt, err := parseRoute(t.Route, t.Component)
		if err != nil {
			return nil, err
		}
		// Spin de-duplicates by the raw route; the last definition wins.
		if i, dup := seen[rt.Raw]; dup {
			r.routes[i] = rt
			continue
		}
		seen[rt.Raw] = len(r.routes)
		r.routes = append(r.routes, rt)
	}
	return r, nil
}

func parseRoute(raw, component string) (*Route, error) {
	abs := raw
	if !strings.HasPrefix(abs, "/") {
		abs = "/" + abs
	}
	based := strings.TrimSuffix(abs, "/")
	rt := &Route{Raw: raw, Based: based, Component: component}
	prefix := based
	if p, ok := strings.CutSuffix(based, "/..."); ok {
		prefix, rt.wildcard = p, true
	} else if p, ok := strings.CutSuffix(based, "/*"); ok {
		prefix, rt.wildcard = p, true
	} else if based == "/..." || based == "/*" {
		prefix, rt.wildcard = "", true
	}
	rt.prefix = prefix
	rt.segs = splitPath(prefix)
	for _, s := range rt.segs {
		if s == "..." || strings.Contains(s, "*") {
			return nil, fmt.Errorf("route %q for component %q: wildcards are only allowed as the last segment (/...)", raw, component)
		}
		if strings.HasPrefix(s, ":") && len(s) == 1 {
			return nil, fmt.Errorf("route %q for component %q: empty :name segment", raw, component)
		}
	}
	return rt, nil
}

// splitPath splits "/a/b" into ["a", "b"]; "" and "/" give no segments.
func splitPath(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// Routes returns the routable routes in manifest order.
func (r *Router) Routes() []*Route { return r.routes }

// Display renders a route the way spin up lists it after the base URL:
// "/api (wildcard)", " (wildcard)" for "/...", "/hello" for an exact route.
func (rt *Route) Display() string {
	if rt.wildcard {
		return rt.prefix + " (wildcard)"
	}
	return rt.Based
}

// Wildcard reports whether the route ends in /... .
func (rt *Route) Wildcard() bool { return rt.wildcard }

// Match routes a raw (still percent-encoded) request path.
func (r *Router) Match(path string) (*RouteMatch, bool) {
	trailingSlash := strings.HasSuffix(path, "/")
	segs := splitPath(strings.TrimSuffix(path, "/"))

	var best *RouteMatch
	var bestScore []int
	for _, rt := range r.routes {
		m, score, ok := rt.match(segs, trailingSlash)
		if !ok {
			continue
		}
		if best == nil || compareScore(score, bestScore) >= 0 {
			best, bestScore = m, score
		}
	}
	return best, best != nil
}

// match returns the match and a specificity score: one entry per route
// segment (3 literal, 2 :param) followed by 1 for a trailing wildcard.
func (rt *Route) match(segs []string, trailingSlash bool) (*RouteMatch, []int, bool) {
	if len(segs) < len(rt.segs) || (!rt.wildcard && len(segs) != len(rt.segs)) {
		return nil, nil, false
	}
	m := &RouteMatch{Route: rt}
	score := make([]int, 0, len(rt.segs)+1)
	for i, s := range rt.segs {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			if segs[i] == "" {
				return nil, nil, false
			}
			if m.Named == nil {
				m.Named = map[string]string{}
			}
			m.Named[name] = segs[i]
			score = append(score, 2)
			continue
		}
		if s != segs[i] {
			return nil, nil, false
		}
		score = append(score, 3)
	}
	if rt.wildcard {
		score = append(score, 1)
		rest := strings.Join(segs[len(rt.segs):], "/")
		// Spin has always reported trailing slashes in the path info even
		// though routefinder drops them.
		switch {
		case rest == "" && !trailingSlash:
			m.PathInfo = ""
		case rest == "":
			m.PathInfo = "/"
		case !trailingSlash:
			m.PathInfo = "/" + rest
		default:
			m.PathInfo = "/" + rest + "/"
		}
	}
	return m, score, true
}

func compareScore(a, b []int) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return len(a) - len(b)
}

// SpinRequestHeaders computes the headers Spin adds to every request for
// the Spin HTTP executor (spin-trigger-http headers.rs,
// compute_default_headers), in Spin's order. They go after the client's
// headers (see requestHeaders). fullURL is scheme://host + path and query;
// clientAddr is ip:port.
func SpinRequestHeaders(m *RouteMatch, fullURL, clientAddr string) [][2]string {
	rawOrPrefix := strings.TrimSuffix(m.Route.Raw, "/...")
	h := [][2]string{
		{"spin-path-info", m.PathInfo},
		{"spin-full-url", fullURL},
		{"spin-matched-route", m.Route.Based},
		{"spin-base-path", "/"},
		{"spin-raw-component-route", m.Route.Raw},
		{"spin-component-route", rawOrPrefix},
		{"spin-client-addr", clientAddr},
	}
	// In route order, not map order, so the list is deterministic.
	seen := map[string]bool{}
	for _, s := range m.Route.segs {
		name, ok := strings.CutPrefix(s, ":")
		if !ok || seen[name] {
			continue
		}
		seen[name] = true
		if v, ok := m.Named[name]; ok {
			h = append(h, [2]string{"spin-path-match-" + strings.ToLower(strings.ReplaceAll(name, "_", "-")), v})
		}
	}
	return h
}

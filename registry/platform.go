package registry

import (
	"net/url"
	"strings"

	"github.com/spinport/spinport"
)

// Artifacts adapts the Client to spinport.Artifacts, limited to the
// registries spinport can reach (Origins: they are in its Spin
// allowed_outbound_hosts; empty: any), and turns failures into answers a
// tenant can act on.
type Artifacts struct {
	Client  *Client
	Origins []string // "https://ghcr.io", ...
}

var _ spinport.Artifacts = Artifacts{}

func (a Artifacts) reachable(ref string) error {
	r, err := ParseReference(ref)
	if err != nil {
		return problem(ref, err)
	}
	if len(a.Origins) == 0 {
		return nil
	}
	origin := a.Client.scheme(r.Registry) + "://" + r.Registry
	for _, o := range a.Origins {
		if u, err := url.Parse(o); err == nil && strings.EqualFold(u.Scheme+"://"+u.Host, origin) {
			return nil
		}
	}
	return &spinport.Error{Kind: spinport.Refused, Title: "Registry not reachable", Field: "image",
		Detail: "spinport cannot reach the registry " + r.Registry + " to inspect the app: an admin lists " + origin +
			" in registry_origin_1..3 (they are spinport's allowed outbound hosts), or deploys go uninspected (inspect_artifacts=off)"}
}

func (a Artifacts) Resolve(ref string) (string, error) {
	if err := a.reachable(ref); err != nil {
		return "", err
	}
	d, err := a.Client.Resolve(ref)
	if err != nil {
		return "", problem(ref, err)
	}
	return d.Digest, nil
}

func (a Artifacts) Inspect(ref string) (spinport.Artifact, error) {
	if err := a.reachable(ref); err != nil {
		return spinport.Artifact{}, err
	}
	app, _, err := a.Client.InspectRef(ref)
	if err != nil {
		return spinport.Artifact{}, problem(ref, err)
	}
	out := spinport.Artifact{KeyValueStores: app.KeyValueStores, SQLiteDatabases: app.SQLiteDatabases, AllowedOutboundHosts: app.AllowedOutboundHosts}
	for _, c := range app.Components {
		out.Components = append(out.Components, c.ID)
	}
	for _, r := range app.Routes {
		route := r.Route
		if r.Private {
			route = "(private)"
		}
		out.Routes = append(out.Routes, route+" -> "+r.Component)
	}
	for _, v := range app.Variables {
		out.Variables = append(out.Variables, spinport.ArtifactVariable{Name: v.Name, Required: v.Required, Secret: v.Secret})
	}
	return out, nil
}

// problem: a missing tag or a non-Spin artifact is the tenant's to fix
// (422 naming the image), a registry that is down or throttling is 503.
func problem(ref string, err error) error {
	switch e := err.(type) {
	case *NotFoundError:
		return &spinport.Error{Kind: spinport.Refused, Title: "Image not found", Field: "image",
			Detail: ref + " does not exist in the registry (" + e.Error() + "): check the tag or digest, and that it was pushed"}
	case *NotSpinAppError, *InvalidAppError:
		return &spinport.Error{Kind: spinport.Refused, Title: "Not a Spin app", Field: "image", Detail: err.Error()}
	case *AuthError:
		return &spinport.Error{Kind: spinport.Refused, Title: "Registry refused access", Field: "image",
			Detail: e.Error() + ": make the repository public for pulls, or ask an admin for pull credentials in registry_credentials (docs/deploys.md)"}
	case *ReferenceError:
		return &spinport.Error{Kind: spinport.Invalid, Field: "image", Detail: err.Error()}
	case *UnavailableError:
		return &spinport.Error{Kind: spinport.Unavailable, Title: "Registry unavailable", Detail: err.Error() + "; retry the same deploy shortly"}
	}
	return &spinport.Error{Kind: spinport.Failed, Title: "Registry answer unusable", Detail: ref + ": " + err.Error()}
}

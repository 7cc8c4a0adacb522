package azure

// Azure Container Registry scope maps and tokens: repository-scoped
// credentials per tenant (a token bound to a scope map that lists the
// tenant's repositories), instead of registry-wide admin credentials.
//
// Facts this file relies on, and where they were read:
//   - api-version 2023-07-01: what github.com/Azure/azure-sdk-for-go/sdk/
//     resourcemanager/containerregistry/armcontainerregistry v1.2.0 sends
//     (scopemaps_client.go, tokens_client.go, registries_client.go:
//     reqQP.Set("api-version", "2023-07-01")). Its LROs: scope map and
//     token create/update poll via Azure-AsyncOperation
//     (FinalStateVia: AzureAsyncOp, 200/201 first), deletes via Location
//     (200/202/204), generateCredentials via Location (200/202 first;
//     registries_client.go BeginGenerateCredentials).
//   - Actions are plain strings: the 2023-07-01 model
//     (models.go ScopeMapProperties.Actions) documents only examples,
//     "repositories/repository-name/content/read,
//     repositories/repository-name/metadata/write"; the REST spec
//     (Scope Maps - Create) adds nothing: properties.actions string[],
//     required, no pattern, no wildcard syntax. Wildcards in repository
//     names ("repositories/samples/*/content/read") are a service feature
//     Microsoft documented in October 2023 (MicrosoftDocs/azure-docs
//     PR #115825, container-registry-repository-scoped-permissions.md),
//     not part of the API contract; before it, scope maps matched exact
//     repository names only (azure-docs issue #53973, azure-cli #11315).
//     spinport therefore lists each repository by name and accepts a
//     trailing "/*" only as an explicit opt-in (AllowWildcards).
//   - Names: the REST spec's scopeMapName and tokenName are 5–50
//     characters of ^[a-zA-Z0-9-_]*$; spinport's names (ACRName) use
//     lowercase letters, digits and '-' only, which every version accepts.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spinport/spinport/jsonw"
	"github.com/valyala/fastjson"
)

const (
	// ACRAPIVersion is the Microsoft.ContainerRegistry api-version.
	ACRAPIVersion = "2023-07-01"

	// Password names of a registry token.
	Password1 = "password1"
	Password2 = "password2"

	acrNamePrefix = "spinport-"
	minACRName    = 5
	maxACRName    = 50
)

// DefaultRepoActions are the repository actions a tenant's scope map
// grants: pull and push of content and reading tags (which `spin registry
// pull` and `docker pull` by tag need).
var DefaultRepoActions = []string{"content/read", "content/write", "metadata/read"}

// Registry manages scope maps and tokens of one container registry.
type Registry struct {
	ARM           *Client
	Subscription  string
	ResourceGroup string
	Name          string // registry name (5-50 alphanumerics)

	Actions        []string // per repository; nil means DefaultRepoActions
	AllowWildcards bool     // accept "prefix/*" repositories (see the file comment)
}

// Credentials is a registry token's username and one generated password.
// String and GoString never show the password.
type Credentials struct {
	Username string
	Password string
	Name     string    // password1 or password2
	Expiry   time.Time // zero when the password does not expire
}

// String keeps the password out of %v output.
func (c Credentials) String() string {
	s := "azure.Credentials(" + c.Username + ", " + c.Name
	if !c.Expiry.IsZero() {
		s += ", expires " + c.Expiry.UTC().Format(time.RFC3339)
	}
	return s + ")"
}

// GoString keeps the password out of %#v output.
func (c Credentials) GoString() string { return c.String() }

// ACRName derives a scope map or token name from a tenant slug:
// "spinport-<slug>" in lowercase letters, digits and '-', 5 to 50
// characters. Slugs that do not fit are shortened and given a hash
// suffix, so different slugs keep different names.
func ACRName(slug string) string {
	var b strings.Builder
	b.WriteString(acrNamePrefix)
	dash := true // the prefix ends in '-'
	for i := 0; i < len(slug); i++ {
		c := slug[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
			fallthrough
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteByte(c)
			dash = false
		default:
			if !dash {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	name := strings.TrimRight(b.String(), "-")
	exact := name == acrNamePrefix+slug
	if len(name) > maxACRName || !exact {
		// Lossy (too long, or characters changed): add a hash of the slug.
		sum := sha256.Sum256([]byte(slug))
		suffix := "-" + hex.EncodeToString(sum[:4])
		if len(name) > maxACRName-len(suffix) {
			name = strings.TrimRight(name[:maxACRName-len(suffix)], "-")
		}
		name += suffix
	}
	return name
}

// ValidACRName reports whether s is a name spinport gives scope maps and
// tokens: 5-50 characters of letters, digits and '-'.
func ValidACRName(s string) bool {
	if len(s) < minACRName || len(s) > maxACRName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (r *Registry) path(kind, name string) (string, error) {
	if kind != "" && !ValidACRName(name) {
		return "", errors.New("azure: ACR " + kind + " name " + strconv.Quote(clip(name, 64)) + " must be 5-50 letters, digits and '-' (use ACRName)")
	}
	segs := []string{"subscriptions", r.Subscription, "resourceGroups", r.ResourceGroup,
		"providers", "Microsoft.ContainerRegistry", "registries", r.Name}
	if kind != "" {
		segs = append(segs, kind, name)
	}
	return ResourcePath(segs...)
}

// ScopeMapID is the ARM resource ID of a scope map of this registry.
func (r *Registry) ScopeMapID(name string) (string, error) { return r.path("scopeMaps", name) }

// TokenID is the ARM resource ID of a token of this registry.
func (r *Registry) TokenID(name string) (string, error) { return r.path("tokens", name) }

// RepositoryActions lists the scope map actions for repos:
// "repositories/<repo>/<action>" for each repository and action.
func (r *Registry) RepositoryActions(repos []string) ([]string, error) {
	if len(repos) == 0 || len(repos) > 500 {
		return nil, errors.New("azure: a scope map needs 1 to 500 repositories")
	}
	actions := r.Actions
	if actions == nil {
		actions = DefaultRepoActions
	}
	var out []string
	for _, repo := range repos {
		if err := r.checkRepo(repo); err != nil {
			return nil, err
		}
		for _, a := range actions {
			out = append(out, "repositories/"+repo+"/"+a)
		}
	}
	return out, nil
}

// checkRepo: OCI repository name components (lowercase letters, digits,
// separators . _ __ -), joined by '/'; "prefix/*" only with AllowWildcards.
func (r *Registry) checkRepo(repo string) error {
	bad := func(why string) error {
		return errors.New("azure: repository " + strconv.Quote(clip(repo, 128)) + " " + why)
	}
	if repo == "" || len(repo) > 256 {
		return bad("must be 1-256 characters")
	}
	parts := strings.Split(repo, "/")
	for i, p := range parts {
		if p == "*" && i == len(parts)-1 && i > 0 {
			if !r.AllowWildcards {
				return bad("is a wildcard; list repositories by name (or set Registry.AllowWildcards)")
			}
			continue
		}
		if p == "" {
			return bad("has an empty path component")
		}
		for j := 0; j < len(p); j++ {
			c := p[j]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return bad("may hold only lowercase letters, digits, '.', '_', '-' and '/'")
			}
		}
		if !(p[0] >= 'a' && p[0] <= 'z' || p[0] >= '0' && p[0] <= '9') {
			return bad("path components must start with a letter or digit")
		}
	}
	return nil
}

// EnsureScopeMap creates or updates the scope map name to grant Actions
// on repos (PUT; ARM answers 200/201, possibly with Azure-AsyncOperation
// to poll).
func (r *Registry) EnsureScopeMap(name string, repos []string) error {
	p, err := r.path("scopeMaps", name)
	if err != nil {
		return err
	}
	actions, err := r.RepositoryActions(repos)
	if err != nil {
		return err
	}
	var w jsonw.W
	w.Object().Key("properties").Object().
		Str("description", "managed by spinport").
		Strings("actions", actions).
		End().End()
	_, err = r.ARM.Do(Request{Method: http.MethodPut, Path: p, APIVersion: ACRAPIVersion, Body: w.Bytes()})
	return err
}

// EnsureToken creates or updates the token name, enabled and bound to the
// scope map scopeMapName. It does not generate passwords
// (GenerateCredentials does).
func (r *Registry) EnsureToken(name, scopeMapName string) error {
	p, err := r.path("tokens", name)
	if err != nil {
		return err
	}
	scopeMapID, err := r.ScopeMapID(scopeMapName)
	if err != nil {
		return err
	}
	var w jsonw.W
	w.Object().Key("properties").Object().
		Str("scopeMapId", scopeMapID).
		Str("status", "enabled").
		End().End()
	_, err = r.ARM.Do(Request{Method: http.MethodPut, Path: p, APIVersion: ACRAPIVersion, Body: w.Bytes()})
	return err
}

// GenerateCredentials (re)generates password (Password1 or Password2) of
// the token, valid until expiry (zero: no expiry), and returns the
// username and that password. The other password keeps working, which
// lets callers rotate without an outage.
func (r *Registry) GenerateCredentials(tokenName string, expiry time.Time, password string) (Credentials, error) {
	if password != Password1 && password != Password2 {
		return Credentials{}, errors.New("azure: GenerateCredentials: password must be " + Password1 + " or " + Password2)
	}
	tokenID, err := r.TokenID(tokenName)
	if err != nil {
		return Credentials{}, err
	}
	p, err := r.path("", "")
	if err != nil {
		return Credentials{}, err
	}
	var w jsonw.W
	w.Object().Str("tokenId", tokenID).Str("name", password)
	if !expiry.IsZero() {
		w.Str("expiry", expiry.UTC().Format(time.RFC3339))
	}
	w.End()
	resp, err := r.ARM.Do(Request{Method: http.MethodPost, Path: p + "/generateCredentials", APIVersion: ACRAPIVersion, Body: w.Bytes()})
	if err != nil {
		return Credentials{}, err
	}
	v, perr := fastjson.ParseBytes(resp.Body)
	if perr != nil || !jsonw.Shallow(resp.Body, jsonw.MaxDepth) {
		return Credentials{}, errors.New("azure: generateCredentials answered with no JSON result")
	}
	c := Credentials{Username: string(v.GetStringBytes("username")), Name: password}
	for _, pw := range v.GetArray("passwords") {
		if string(pw.GetStringBytes("name")) != password {
			continue
		}
		c.Password = string(pw.GetStringBytes("value"))
		if e := string(pw.GetStringBytes("expiry")); e != "" {
			if t, err := time.Parse(time.RFC3339Nano, e); err == nil {
				c.Expiry = t
			}
		}
	}
	if c.Username == "" || c.Password == "" {
		return Credentials{}, errors.New("azure: generateCredentials answered without a username or without " + password)
	}
	return c, nil
}

// DeleteToken deletes the token; an absent token is fine.
func (r *Registry) DeleteToken(name string) error { return r.delete("tokens", name) }

// DeleteScopeMap deletes the scope map; an absent one is fine. Delete the
// tokens bound to it first: a token left pointing at a deleted scope map
// grants nothing and only confuses whoever reads the registry.
func (r *Registry) DeleteScopeMap(name string) error { return r.delete("scopeMaps", name) }

func (r *Registry) delete(kind, name string) error {
	p, err := r.path(kind, name)
	if err != nil {
		return err
	}
	_, err = r.ARM.Do(Request{Method: http.MethodDelete, Path: p, APIVersion: ACRAPIVersion})
	if err != nil && IsNotFound(err) {
		return nil
	}
	return err
}

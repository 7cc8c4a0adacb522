package armfake

// In-memory ACR scope maps, tokens and generated passwords behind the
// SDK's ScopeMapsServer, TokensServer and RegistriesServer fakes. Name
// rules are the REST spec's (scopeMapName and tokenName: 5-50 characters
// of ^[a-zA-Z0-9-_]*$); the action grammar follows the documented
// repository actions (content/read, content/write, content/delete,
// metadata/read, metadata/write) with a trailing "/*" wildcard allowed in
// the repository (documented by Microsoft since October 2023). Error codes
// and messages are the fake's own wording.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	acrfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry/fake"
)

type scopeMapEntry struct {
	rg, registry string
	sm           armcontainerregistry.ScopeMap
}

type tokenEntry struct {
	rg, registry string
	tok          armcontainerregistry.Token
	passwords    map[string]string // name -> value (kept for tests; ARM never returns them on GET)
}

var (
	acrNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{5,50}$`)
	actionRE  = regexp.MustCompile(`^repositories/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?:/\*)?/(?:content/(?:read|write|delete)|metadata/(?:read|write))$`)
)

// AddRegistry creates an (empty) container registry.
func (s *Server) AddRegistry(subscription, resourceGroup, registry string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.registries[key(subscription, resourceGroup, registry)] = true
}

// ScopeMap returns a stored scope map.
func (s *Server) ScopeMap(subscription, resourceGroup, registry, name string) (armcontainerregistry.ScopeMap, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.scopeMaps[key(subscription, resourceGroup, registry, name)]
	if !ok {
		return armcontainerregistry.ScopeMap{}, false
	}
	return e.sm, true
}

// Token returns a stored token.
func (s *Server) Token(subscription, resourceGroup, registry, name string) (armcontainerregistry.Token, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.tokens[key(subscription, resourceGroup, registry, name)]
	if !ok {
		return armcontainerregistry.Token{}, false
	}
	return e.tok, true
}

// TokenPassword returns the current value of a token's password1 or
// password2 ("" if never generated), for tests to compare.
func (s *Server) TokenPassword(subscription, resourceGroup, registry, token, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.tokens[key(subscription, resourceGroup, registry, token)]; ok {
		return e.passwords[name]
	}
	return ""
}

func (s *Server) checkRegistry(sub, rg, registry string) *Fault {
	if !s.registries[key(sub, rg, registry)] {
		return &Fault{http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("The Resource 'Microsoft.ContainerRegistry/registries/%s' under resource group '%s' was not found.", registry, rg)}
	}
	return nil
}

func registryID(sub, rg, registry string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerRegistry/registries/%s", sub, rg, registry)
}

func badName(kind, name string) *Fault {
	return &Fault{http.StatusBadRequest, "InvalidParameter", fmt.Sprintf("The %s name '%s' must be 5-50 characters of letters, digits, '-' and '_'.", kind, name)}
}

func (s *Server) scopeMapsServer() acrfake.ScopeMapsServer {
	return acrfake.ScopeMapsServer{
		BeginCreate: func(ctx context.Context, rg, registry, name string, params armcontainerregistry.ScopeMap, _ *armcontainerregistry.ScopeMapsClientBeginCreateOptions) (resp azfake.PollerResponder[armcontainerregistry.ScopeMapsClientCreateResponse], errResp azfake.ErrorResponder) {
			sub := subscriptionOf(ctx)
			s.mu.Lock()
			defer s.mu.Unlock()
			if f := s.checkRegistry(sub, rg, registry); f != nil {
				errResp.SetError(f)
				return
			}
			if !acrNameRE.MatchString(name) {
				errResp.SetError(badName("scope map", name))
				return
			}
			if params.Properties == nil || len(params.Properties.Actions) == 0 {
				errResp.SetError(&Fault{http.StatusBadRequest, "InvalidParameter", "properties.actions is required."})
				return
			}
			for _, a := range params.Properties.Actions {
				if a == nil || !actionRE.MatchString(*a) {
					errResp.SetError(&Fault{http.StatusBadRequest, "InvalidParameter", fmt.Sprintf("The scope map action '%s' is not valid.", deref(a))})
					return
				}
			}
			k := key(sub, rg, registry, name)
			_, exists := s.scopeMaps[k]
			props := *params.Properties
			props.ProvisioningState = to.Ptr(armcontainerregistry.ProvisioningStateSucceeded)
			props.CreationDate = to.Ptr(s.now().UTC())
			props.Type = to.Ptr("UserDefined")
			e := &scopeMapEntry{rg: rg, registry: registry, sm: armcontainerregistry.ScopeMap{
				ID:         to.Ptr(registryID(sub, rg, registry) + "/scopeMaps/" + name),
				Name:       to.Ptr(name),
				Type:       to.Ptr("Microsoft.ContainerRegistry/registries/scopeMaps"),
				Properties: &props,
			}}
			s.scopeMaps[k] = e
			status := http.StatusCreated
			if exists {
				status = http.StatusOK
			}
			resp.SetTerminalResponse(status, armcontainerregistry.ScopeMapsClientCreateResponse{ScopeMap: e.sm}, nil)
			return
		},
		Get: func(ctx context.Context, rg, registry, name string, _ *armcontainerregistry.ScopeMapsClientGetOptions) (resp azfake.Responder[armcontainerregistry.ScopeMapsClientGetResponse], errResp azfake.ErrorResponder) {
			sub := subscriptionOf(ctx)
			s.mu.Lock()
			defer s.mu.Unlock()
			e, ok := s.scopeMaps[key(sub, rg, registry, name)]
			if !ok {
				errResp.SetError(&Fault{http.StatusNotFound, "ResourceNotFound", "The scope map '" + name + "' was not found."})
				return
			}
			resp.SetResponse(http.StatusOK, armcontainerregistry.ScopeMapsClientGetResponse{ScopeMap: e.sm}, nil)
			return
		},
		BeginDelete: func(ctx context.Context, rg, registry, name string, _ *armcontainerregistry.ScopeMapsClientBeginDeleteOptions) (resp azfake.PollerResponder[armcontainerregistry.ScopeMapsClientDeleteResponse], errResp azfake.ErrorResponder) {
			sub := subscriptionOf(ctx)
			s.mu.Lock()
			defer s.mu.Unlock()
			k := key(sub, rg, registry, name)
			if _, ok := s.scopeMaps[k]; !ok {
				resp.SetTerminalResponse(http.StatusNoContent, armcontainerregistry.ScopeMapsClientDeleteResponse{}, nil)
				return
			}
			delete(s.scopeMaps, k)
			resp.SetTerminalResponse(http.StatusOK, armcontainerregistry.ScopeMapsClientDeleteResponse{}, nil)
			return
		},
		NewListPager: func(rg, registry string, _ *armcontainerregistry.ScopeMapsClientListOptions) (resp azfake.PagerResponder[armcontainerregistry.ScopeMapsClientListResponse]) {
			s.mu.Lock()
			defer s.mu.Unlock()
			var out []*armcontainerregistry.ScopeMap
			for _, k := range sortedKeys(s.scopeMaps) {
				if e := s.scopeMaps[k]; strings.EqualFold(e.rg, rg) && strings.EqualFold(e.registry, registry) {
					sm := e.sm
					out = append(out, &sm)
				}
			}
			resp.AddPage(http.StatusOK, armcontainerregistry.ScopeMapsClientListResponse{ScopeMapListResult: armcontainerregistry.ScopeMapListResult{Value: out}}, nil)
			return
		},
	}
}

func (s *Server) tokensServer() acrfake.TokensServer {
	return acrfake.TokensServer{
		BeginCreate: func(ctx context.Context, rg, registry, name string, params armcontainerregistry.Token, _ *armcontainerregistry.TokensClientBeginCreateOptions) (resp azfake.PollerResponder[armcontainerregistry.TokensClientCreateResponse], errResp azfake.ErrorResponder) {
			sub := subscriptionOf(ctx)
			s.mu.Lock()
			defer s.mu.Unlock()
			if f := s.checkRegistry(sub, rg, registry); f != nil {
				errResp.SetError(f)
				return
			}
			if !acrNameRE.MatchString(name) {
				errResp.SetError(badName("token", name))
				return
			}
			if params.Properties == nil || params.Properties.ScopeMapID == nil {
				errResp.SetError(&Fault{http.StatusBadRequest, "InvalidParameter", "properties.scopeMapId is required."})
				return
			}
			prefix := strings.ToLower(registryID(sub, rg, registry) + "/scopeMaps/")
			id := strings.ToLower(*params.Properties.ScopeMapID)
			if !strings.HasPrefix(id, prefix) || s.scopeMaps[key(sub, rg, registry, strings.TrimPrefix(id, prefix))] == nil {
				errResp.SetError(&Fault{http.StatusBadRequest, "InvalidParameter", "The scope map '" + *params.Properties.ScopeMapID + "' does not exist in this registry."})
				return
			}
			k := key(sub, rg, registry, name)
			old, exists := s.tokens[k]
			props := *params.Properties
			if props.Status == nil {
				props.Status = to.Ptr(armcontainerregistry.TokenStatusEnabled)
			}
			props.ProvisioningState = to.Ptr(armcontainerregistry.ProvisioningStateSucceeded)
			props.CreationDate = to.Ptr(s.now().UTC())
			e := &tokenEntry{rg: rg, registry: registry, passwords: map[string]string{}, tok: armcontainerregistry.Token{
				ID:         to.Ptr(registryID(sub, rg, registry) + "/tokens/" + name),
				Name:       to.Ptr(name),
				Type:       to.Ptr("Microsoft.ContainerRegistry/registries/tokens"),
				Properties: &props,
			}}
			if exists { // an update keeps the generated passwords
				e.passwords = old.passwords
				props.Credentials = old.tok.Properties.Credentials
				props.CreationDate = old.tok.Properties.CreationDate
			}
			s.tokens[k] = e
			status := http.StatusCreated
			if exists {
				status = http.StatusOK
			}
			resp.SetTerminalResponse(status, armcontainerregistry.TokensClientCreateResponse{Token: e.tok}, nil)
			return
		},
		Get: func(ctx context.Context, rg, registry, name string, _ *armcontainerregistry.TokensClientGetOptions) (resp azfake.Responder[armcontainerregistry.TokensClientGetResponse], errResp azfake.ErrorResponder) {
			sub := subscriptionOf(ctx)
			s.mu.Lock()
			defer s.mu.Unlock()
			e, ok := s.tokens[key(sub, rg, registry, name)]
			if !ok {
				errResp.SetError(&Fault{http.StatusNotFound, "ResourceNotFound", "The token '" + name + "' was not found."})
				return
			}
			resp.SetResponse(http.StatusOK, armcontainerregistry.TokensClientGetResponse{Token: e.tok}, nil)
			return
		},
		BeginDelete: func(ctx context.Context, rg, registry, name string, _ *armcontainerregistry.TokensClientBeginDeleteOptions) (resp azfake.PollerResponder[armcontainerregistry.TokensClientDeleteResponse], errResp azfake.ErrorResponder) {
			sub := subscriptionOf(ctx)
			s.mu.Lock()
			defer s.mu.Unlock()
			k := key(sub, rg, registry, name)
			if _, ok := s.tokens[k]; !ok {
				resp.SetTerminalResponse(http.StatusNoContent, armcontainerregistry.TokensClientDeleteResponse{}, nil)
				return
			}
			delete(s.tokens, k)
			resp.SetTerminalResponse(http.StatusOK, armcontainerregistry.TokensClientDeleteResponse{}, nil)
			return
		},
		NewListPager: func(rg, registry string, _ *armcontainerregistry.TokensClientListOptions) (resp azfake.PagerResponder[armcontainerregistry.TokensClientListResponse]) {
			s.mu.Lock()
			defer s.mu.Unlock()
			var out []*armcontainerregistry.Token
			for _, k := range sortedKeys(s.tokens) {
				if e := s.tokens[k]; strings.EqualFold(e.rg, rg) && strings.EqualFold(e.registry, registry) {
					t := e.tok
					out = append(out, &t)
				}
			}
			resp.AddPage(http.StatusOK, armcontainerregistry.TokensClientListResponse{TokenListResult: armcontainerregistry.TokenListResult{Value: out}}, nil)
			return
		},
	}
}

func (s *Server) registriesServer() acrfake.RegistriesServer {
	return acrfake.RegistriesServer{
		// The fake answers 200 with the result; ServeHTTP turns that into
		// 202 + Azure-AsyncOperation + Location (operations.go).
		BeginGenerateCredentials: func(ctx context.Context, rg, registry string, params armcontainerregistry.GenerateCredentialsParameters, _ *armcontainerregistry.RegistriesClientBeginGenerateCredentialsOptions) (resp azfake.PollerResponder[armcontainerregistry.RegistriesClientGenerateCredentialsResponse], errResp azfake.ErrorResponder) {
			sub := subscriptionOf(ctx)
			s.mu.Lock()
			defer s.mu.Unlock()
			if f := s.checkRegistry(sub, rg, registry); f != nil {
				errResp.SetError(f)
				return
			}
			if params.TokenID == nil {
				errResp.SetError(&Fault{http.StatusBadRequest, "InvalidParameter", "tokenId is required."})
				return
			}
			prefix := strings.ToLower(registryID(sub, rg, registry) + "/tokens/")
			id := strings.ToLower(*params.TokenID)
			e := s.tokens[key(sub, rg, registry, strings.TrimPrefix(id, prefix))]
			if !strings.HasPrefix(id, prefix) || e == nil {
				errResp.SetError(&Fault{http.StatusNotFound, "ResourceNotFound", "The token '" + *params.TokenID + "' was not found in this registry."})
				return
			}
			names := []armcontainerregistry.TokenPasswordName{armcontainerregistry.TokenPasswordNamePassword1, armcontainerregistry.TokenPasswordNamePassword2}
			if params.Name != nil {
				if *params.Name != names[0] && *params.Name != names[1] {
					errResp.SetError(&Fault{http.StatusBadRequest, "InvalidParameter", "name must be password1 or password2."})
					return
				}
				names = []armcontainerregistry.TokenPasswordName{*params.Name}
			}
			if params.Expiry != nil && !params.Expiry.After(s.now()) {
				errResp.SetError(&Fault{http.StatusBadRequest, "InvalidParameter", "The expiry must be in the future."})
				return
			}
			if e.tok.Properties.Credentials == nil {
				e.tok.Properties.Credentials = &armcontainerregistry.TokenCredentialsProperties{}
			}
			result := armcontainerregistry.GenerateCredentialsResult{Username: e.tok.Name}
			for _, n := range names {
				v := randomPassword()
				e.passwords[string(n)] = v
				created := s.now().UTC()
				pw := armcontainerregistry.TokenPassword{Name: to.Ptr(n), CreationTime: &created, Expiry: params.Expiry}
				creds := e.tok.Properties.Credentials
				kept := creds.Passwords[:0:0]
				for _, p := range creds.Passwords {
					if p.Name == nil || *p.Name != n {
						kept = append(kept, p)
					}
				}
				stored := pw // ARM never shows a password's value again
				creds.Passwords = append(kept, &stored)
				pw.Value = to.Ptr(v)
				result.Passwords = append(result.Passwords, &pw)
			}
			resp.SetTerminalResponse(http.StatusOK, armcontainerregistry.RegistriesClientGenerateCredentialsResponse{GenerateCredentialsResult: result}, nil)
			return
		},
	}
}

func randomPassword() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

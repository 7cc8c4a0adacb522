package e2e

// ARM and Entra ID contract tests of package azure (spinport's hand-written
// clients, the code the .wasm runs) against e2e/armfake, natively, no
// cluster and no .wasm needed:
//
//   - ARM is the Azure SDK for Go's own fake servers (armdns/fake and
//     armcontainerregistry/fake v1.2.0): their path templates, header
//     parameters and JSON models are the real contract; armfake adds the
//     routing to them, api-version checks, in-memory state, ARM's error
//     JSON and asynchronous-operation polling (see armfake's package doc
//     for what is fake).
//   - Entra ID is armfake.Entra: a token endpoint that verifies federated
//     assertions the way Entra does, against an in-process ES256 issuer
//     (armfake.Issuer) standing in for the cluster's service-account
//     issuer.
//
// Each test names what is fake and which real contract it checks.

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/dns/armdns"
	"github.com/spinport/spinport/azure"
	"github.com/spinport/spinport/e2e/armfake"
)

const (
	azTenant = "00000000-0000-0000-0000-0000000000aa"
	azClient = "11111111-2222-3333-4444-555555555555"
	azSub    = "6a2c7d0e-0000-4000-8000-000000000001"
	azRG     = "spinport-rg"
	azZone   = "apps.example.com"
	azACR    = "spinportacr"
	azSA     = "system:serviceaccount:spinport-system:spinport"
)

// azureWorld is one Entra fake, one issuer and one ARM fake on loopback.
type azureWorld struct {
	arm    *armfake.Server
	armSrv *httptest.Server
	entra  *armfake.Entra
	entSrv *httptest.Server
	issuer *armfake.Issuer
	issSrv *httptest.Server
	clock  *azClock
}

// azClock: a test clock that Sleep moves (no real waiting; records waits).
type azClock struct {
	mu    sync.Mutex
	off   time.Duration
	slept []time.Duration
}

func (c *azClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}
func (c *azClock) Sleep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
	c.slept = append(c.slept, d)
}

func newAzureWorld(t *testing.T) *azureWorld {
	t.Helper()
	w := &azureWorld{clock: &azClock{}}
	var err error
	w.issuer, err = armfake.NewIssuer("https://kubernetes.default.svc.cluster.local")
	if err != nil {
		t.Fatal(err)
	}
	w.issSrv = httptest.NewServer(w.issuer)
	t.Cleanup(w.issSrv.Close)

	w.entra = armfake.NewEntra(azTenant, w.issSrv.Client())
	w.entra.AddFederated(azClient, armfake.FederatedCredential{Issuer: w.issuer.Name, Subject: azSA, DiscoveryURL: w.issSrv.URL})
	w.entSrv = httptest.NewServer(w.entra)
	t.Cleanup(w.entSrv.Close)

	w.arm = armfake.New()
	w.arm.Entra = w.entra
	w.arm.Now = w.clock.Now
	w.arm.AddZone(azSub, azRG, azZone)
	w.arm.AddRegistry(azSub, azRG, azACR)
	w.armSrv = httptest.NewTLSServer(w.arm)
	t.Cleanup(w.armSrv.Close)
	return w
}

// tokenClient is spinport's Entra client with a federated credential
// whose assertion the issuer signs (in production: the TokenRequest API).
func (w *azureWorld) tokenClient(subject string) *azure.TokenClient {
	return &azure.TokenClient{
		Authority: w.entSrv.URL, TenantID: azTenant, ClientID: azClient,
		Assertion: func() (string, error) {
			return w.issuer.Assertion(subject, azure.FederatedAudience, time.Now(), 10*time.Minute)
		},
		HTTP: w.entSrv.Client(),
	}
}

func (w *azureWorld) armClient(tc *azure.TokenClient) *azure.Client {
	return &azure.Client{Endpoint: w.armSrv.URL, Token: tc.Source(), HTTP: w.armSrv.Client(),
		Sleep: w.clock.Sleep, Now: w.clock.Now, Budget: 30 * time.Second}
}

// Fake: Entra and the issuer. Real contract checked: the token request
// spinport sends (form fields, assertion type, ARM scope, tenant path) is
// one Entra accepts for a federated credential, and ARM (the SDK fakes
// behind armfake) accepts the token as a bearer; a token Entra did not
// issue gets ARM's 401 InvalidAuthenticationToken, and an assertion for
// another service account gets Entra's invalid_client/AADSTS700213, which
// the Go error keeps (without the assertion).
func TestAzureEntraFederatedTokenReachesARM(t *testing.T) {
	w := newAzureWorld(t)
	tc := w.tokenClient(azSA)
	tok, err := tc.Token()
	if err != nil {
		t.Fatal(err)
	}
	if !w.entra.Valid(tok.Value, time.Now()) || time.Until(tok.Expires) < 50*time.Minute {
		t.Fatalf("token %v not issued by the fake", tok)
	}
	dns := &azure.DNS{ARM: w.armClient(tc)}
	if _, found, err := dns.GetRecord(azure.Zone{Subscription: azSub, ResourceGroup: azRG, Name: azZone}, "web", azure.RecordA); err != nil || found {
		t.Fatalf("GetRecord with an Entra token: found=%v err=%v", found, err)
	}

	forged := &azure.Client{Endpoint: w.armSrv.URL, Token: func() (string, error) { return "forged-token", nil }, HTTP: w.armSrv.Client()}
	_, err = forged.Do(azure.Request{Method: "GET", Path: "/subscriptions/" + azSub + "/resourceGroups/" + azRG + "/providers/Microsoft.Network/dnsZones/" + azZone + "/A/web", APIVersion: azure.DNSAPIVersion})
	var ae *azure.Error
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Code != "InvalidAuthenticationToken" || strings.Contains(err.Error(), "forged-token") {
		t.Errorf("forged token: %v", err)
	}

	_, err = w.tokenClient("system:serviceaccount:default:intruder").Token()
	var ee *azure.EntraError
	if !errors.As(err, &ee) || ee.Code != "invalid_client" || len(ee.ErrorCodes) != 1 || ee.ErrorCodes[0] != 700213 {
		t.Fatalf("other service account: %v", err)
	}
	if !strings.Contains(err.Error(), "AADSTS700213") || strings.Contains(err.Error(), "Trace ID") || strings.Contains(err.Error(), "eyJ") {
		t.Errorf("Error() = %s", err)
	}
}

// Fake: state and etags in armfake; real: the armdns v1.2.0 routes,
// If-Match/If-None-Match header parameters and RecordSet JSON model
// (spinport's bodies parse into the SDK model and back, "TTL",
// "ARecords", "CNAMERecord", "TXTRecords", "metadata"). Checks create-only
// PUT, update with the etag, no write when unchanged, refusal of records
// spinport does not own, deletion with If-Match, and that the official
// SDK client (armdns.RecordSetsClient) lists what spinport wrote.
func TestAzureDNSRecordSetContract(t *testing.T) {
	w := newAzureWorld(t)
	armc := w.armClient(w.tokenClient(azSA))
	dns := &azure.DNS{ARM: armc}
	z := azure.Zone{Subscription: azSub, ResourceGroup: azRG, Name: azZone}

	rs, err := dns.EnsureRecord(z, "web", azure.RecordA, []string{"203.0.113.10"}, "acme/web")
	if err != nil {
		t.Fatal(err)
	}
	stored, ok := w.arm.Record(azSub, azRG, azZone, "web", armdns.RecordTypeA)
	if !ok || *stored.Properties.TTL != 300 || *stored.Properties.ARecords[0].IPv4Address != "203.0.113.10" ||
		*stored.Properties.Metadata["managedBy"] != "spinport" || *stored.Properties.Metadata["owner"] != "acme/web" {
		t.Fatalf("stored %+v", stored.Properties)
	}
	if rs.Etag != *stored.Etag || rs.FQDN != "web.apps.example.com." {
		t.Errorf("answer %+v, stored etag %s", rs, *stored.Etag)
	}
	puts := func() (out []armfake.Recorded) {
		for _, r := range w.arm.Requests() {
			if r.Method == "PUT" {
				out = append(out, r)
			}
		}
		return out
	}
	if p := puts(); len(p) != 1 || p[0].Header.Get("If-None-Match") != "*" || p[0].API != "RecordSetsClient.CreateOrUpdate" || p[0].APIVersion != "2018-05-01" {
		t.Errorf("create: %+v", p)
	}

	if _, err := dns.EnsureRecord(z, "web", azure.RecordA, []string{"203.0.113.10"}, "acme/web"); err != nil || len(puts()) != 1 {
		t.Errorf("unchanged record: err %v, %d PUTs", err, len(puts()))
	}
	etag := *stored.Etag
	if _, err := dns.EnsureRecord(z, "web", azure.RecordA, []string{"203.0.113.11", "203.0.113.12"}, "acme/web"); err != nil {
		t.Fatal(err)
	}
	if p := puts(); len(p) != 2 || p[1].Header.Get("If-Match") != etag || p[1].Header.Get("If-None-Match") != "" {
		t.Errorf("update: %+v", p[len(p)-1].Header)
	}

	// The SDK fake's state answers If-None-Match: * on an existing record
	// with 412, and a stale If-Match with 412 (ARM's contract).
	path := "/subscriptions/" + azSub + "/resourceGroups/" + azRG + "/providers/Microsoft.Network/dnsZones/" + azZone + "/A/web"
	for _, req := range []azure.Request{
		{Method: "PUT", Path: path, APIVersion: azure.DNSAPIVersion, IfNoneMatch: "*", Body: []byte(`{"properties":{"TTL":60,"ARecords":[{"ipv4Address":"198.51.100.1"}]}}`)},
		{Method: "PUT", Path: path, APIVersion: azure.DNSAPIVersion, IfMatch: etag, Body: []byte(`{"properties":{"TTL":60,"ARecords":[{"ipv4Address":"198.51.100.1"}]}}`)},
		{Method: "DELETE", Path: path, APIVersion: azure.DNSAPIVersion, IfMatch: etag},
	} {
		if _, err := armc.Do(req); !azure.IsPreconditionFailed(err) {
			t.Errorf("%s If-Match=%q If-None-Match=%q: %v", req.Method, req.IfMatch, req.IfNoneMatch, err)
		}
	}

	// TXT (long value: 255-byte strings) and CNAME, as the SDK model reads them.
	long := strings.Repeat("k", 300)
	if _, err := dns.EnsureRecord(z, "_spinport.web", azure.RecordTXT, []string{"spinport-verify=1", long}, "acme/web"); err != nil {
		t.Fatal(err)
	}
	txt, _ := w.arm.Record(azSub, azRG, azZone, "_spinport.web", armdns.RecordTypeTXT)
	if n := len(txt.Properties.TxtRecords); n != 2 || len(txt.Properties.TxtRecords[1].Value) != 2 {
		t.Errorf("TXT records %d", n)
	}
	if _, err := dns.EnsureRecord(z, "www", azure.RecordCNAME, []string{"web.apps.example.com"}, "acme/web"); err != nil {
		t.Fatal(err)
	}

	// Somebody else's record: not updated, not deleted.
	w.arm.PutRecord(azSub, azRG, azZone, "mail", armdns.RecordTypeA, armdns.RecordSetProperties{TTL: ptr(int64(3600)), ARecords: []*armdns.ARecord{{IPv4Address: ptr("192.0.2.25")}}})
	_, err = dns.EnsureRecord(z, "mail", azure.RecordA, []string{"203.0.113.10"}, "acme/web")
	var ce *azure.ConflictError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "not spinport's") {
		t.Errorf("foreign record: %v", err)
	}
	if err := dns.DeleteRecord(z, "mail", azure.RecordA, "acme/web"); !errors.As(err, &ce) {
		t.Errorf("foreign delete: %v", err)
	}
	if _, err := dns.EnsureRecord(z, "web", azure.RecordA, []string{"203.0.113.10"}, "other/app"); !errors.As(err, &ce) {
		t.Errorf("other owner: %v", err)
	}

	// The official SDK client lists what spinport wrote (its pager, its models).
	cred := tokenCredential{w.tokenClient(azSA)}
	sdk, err := armdns.NewRecordSetsClient(azSub, cred, &arm.ClientOptions{ClientOptions: azcore.ClientOptions{
		Cloud:     cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{cloud.ResourceManager: {Endpoint: w.armSrv.URL, Audience: "https://management.azure.com"}}},
		Transport: w.armSrv.Client(),
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	pager := sdk.NewListByTypePager(azRG, azZone, armdns.RecordTypeA, nil)
	var names []string
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Value {
			names = append(names, *r.Name)
			if *r.Name == "web" && (len(r.Properties.ARecords) != 2 || *r.Properties.Metadata["owner"] != "acme/web") {
				t.Errorf("SDK sees %+v", r.Properties)
			}
		}
	}
	if strings.Join(names, ",") != "mail,web" {
		t.Errorf("SDK lists %v", names)
	}

	if err := dns.DeleteRecord(z, "web", azure.RecordA, "acme/web"); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.arm.Record(azSub, azRG, azZone, "web", armdns.RecordTypeA); ok {
		t.Error("record still there")
	}
	if err := dns.DeleteRecord(z, "web", azure.RecordA, "acme/web"); err != nil {
		t.Errorf("absent delete: %v", err)
	}
	// A zone that does not exist is an error, not "record absent".
	if _, _, err := dns.GetRecord(azure.Zone{Subscription: azSub, ResourceGroup: azRG, Name: "nope.example.com"}, "web", azure.RecordA); err == nil || !strings.Contains(err.Error(), "ParentResourceNotFound") {
		t.Errorf("missing zone: %v", err)
	}
}

// Fake: state, operation polling (armfake's responder: 202 +
// Azure-AsyncOperation + Location + Retry-After) ; real: the
// armcontainerregistry v1.2.0 routes and models for scope maps, tokens
// and generateCredentials (spinport's bodies parse into the SDK models),
// api-version 2023-07-01, and the asynchronous-operation protocol ARM
// documents. Checks the whole tenant credential lifecycle and that
// polling honours Retry-After.
func TestAzureACRScopeMapTokenContract(t *testing.T) {
	w := newAzureWorld(t)
	w.arm.AsyncPolls = 2
	w.arm.RetryAfter = 2
	reg := &azure.Registry{ARM: w.armClient(w.tokenClient(azSA)), Subscription: azSub, ResourceGroup: azRG, Name: azACR}
	name := azure.ACRName("acme")

	if err := reg.EnsureScopeMap(name, []string{"acme/web", "acme/api"}); err != nil {
		t.Fatal(err)
	}
	sm, ok := w.arm.ScopeMap(azSub, azRG, azACR, name)
	if !ok || len(sm.Properties.Actions) != 6 || *sm.Properties.Actions[0] != "repositories/acme/web/content/read" {
		t.Fatalf("scope map %+v", sm.Properties)
	}
	if err := reg.EnsureScopeMap(name, []string{"acme/web"}); err != nil { // update
		t.Fatal(err)
	}
	if sm, _ = w.arm.ScopeMap(azSub, azRG, azACR, name); len(sm.Properties.Actions) != 3 {
		t.Errorf("updated scope map has %d actions", len(sm.Properties.Actions))
	}
	if err := reg.EnsureToken(name, name); err != nil {
		t.Fatal(err)
	}
	tok, ok := w.arm.Token(azSub, azRG, azACR, name)
	if !ok || !strings.HasSuffix(*tok.Properties.ScopeMapID, "/scopeMaps/"+name) || string(*tok.Properties.Status) != "enabled" {
		t.Fatalf("token %+v", tok.Properties)
	}
	if err := reg.EnsureToken(name, "spinport-missing"); err == nil {
		t.Error("token bound to a missing scope map accepted")
	}

	expiry := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	before := len(w.clock.slept)
	cr, err := reg.GenerateCredentials(name, expiry, azure.Password1)
	if err != nil {
		t.Fatal(err)
	}
	if cr.Username != name || cr.Password == "" || cr.Password != w.arm.TokenPassword(azSub, azRG, azACR, name, "password1") || !cr.Expiry.Equal(expiry) {
		t.Errorf("credentials %v (password matches: %v)", cr, cr.Password == w.arm.TokenPassword(azSub, azRG, azACR, name, "password1"))
	}
	waits := w.clock.slept[before:]
	if len(waits) != 3 || waits[0] != 2*time.Second {
		t.Errorf("polling waits %v, want three of 2s (202, InProgress, InProgress)", waits)
	}
	var polled int
	for _, r := range w.arm.Requests() {
		if strings.Contains(r.Path, "/operationStatuses/") || strings.Contains(r.Path, "/operationResults/") {
			polled++
			if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
				t.Error("poll without bearer token")
			}
		}
	}
	if polled != 4 { // 3 status polls, 1 result
		t.Errorf("%d polls", polled)
	}
	if strings.Contains(cr.String(), cr.Password) {
		t.Error("password in String()")
	}

	// Another password slot keeps password1.
	if _, err := reg.GenerateCredentials(name, time.Time{}, azure.Password2); err != nil {
		t.Fatal(err)
	}
	if w.arm.TokenPassword(azSub, azRG, azACR, name, "password1") != cr.Password {
		t.Error("password2 replaced password1")
	}

	if err := reg.DeleteToken(name); err != nil {
		t.Fatal(err)
	}
	if err := reg.DeleteScopeMap(name); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.arm.Token(azSub, azRG, azACR, name); ok {
		t.Error("token left")
	}
	if _, ok := w.arm.ScopeMap(azSub, azRG, azACR, name); ok {
		t.Error("scope map left")
	}
	if err := reg.DeleteToken(name); err != nil {
		t.Errorf("absent token: %v", err)
	}
	if _, err := reg.GenerateCredentials(name, expiry, azure.Password1); err == nil || !strings.Contains(err.Error(), "ResourceNotFound") {
		t.Errorf("credentials for a deleted token: %v", err)
	}
}

// Fake: armfake's api-version gate and injected failures; real: ARM's
// error JSON and Retry-After semantics. Checks that spinport sends the
// api-versions the contract pins (an old one is refused), that a 429 with
// Retry-After inside the budget is retried after that wait, and that one
// beyond the budget comes back as an unavailable *azure.Error (503 upstream).
func TestARMVersionsAndRetryAfter(t *testing.T) {
	w := newAzureWorld(t)
	armc := w.armClient(w.tokenClient(azSA))
	base := "/subscriptions/" + azSub + "/resourceGroups/" + azRG + "/providers/Microsoft.ContainerRegistry/registries/" + azACR + "/scopeMaps/spinport-acme"
	_, err := armc.Do(azure.Request{Method: "GET", Path: base, APIVersion: "2019-05-01-preview"})
	var ae *azure.Error
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != "NoRegisteredProviderFound" {
		t.Errorf("old api-version: %v", err)
	}
	dnsPath := "/subscriptions/" + azSub + "/resourceGroups/" + azRG + "/providers/Microsoft.Network/dnsZones/" + azZone + "/A/web"
	if _, err := armc.Do(azure.Request{Method: "GET", Path: dnsPath, APIVersion: "2023-07-01-preview"}); !errors.As(err, &ae) || ae.Code != "NoRegisteredProviderFound" {
		t.Errorf("DNS with another api-version: %v", err)
	}

	w.arm.FailNext("GET", base, 429, "TooManyRequests", "3")
	before := len(w.clock.slept)
	if _, err := armc.Do(azure.Request{Method: "GET", Path: base, APIVersion: azure.ACRAPIVersion}); !azure.IsNotFound(err) {
		t.Errorf("after the retry: %v (want the scope map's 404)", err)
	}
	if waits := w.clock.slept[before:]; len(waits) != 1 || waits[0] != 3*time.Second {
		t.Errorf("waits %v", waits)
	}

	w.arm.FailNext("GET", base, 503, "ServiceUnavailable", "120")
	_, err = armc.Do(azure.Request{Method: "GET", Path: base, APIVersion: azure.ACRAPIVersion})
	if !errors.As(err, &ae) || !ae.Unavailable() || ae.RetryAfter != 2*time.Minute || ae.Code != "ServiceUnavailable" {
		t.Errorf("Retry-After beyond the budget: %v", err)
	}
}

// tokenCredential gives the SDK client a token from spinport's Entra client.
type tokenCredential struct{ tc *azure.TokenClient }

func (c tokenCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	t, err := c.tc.Token()
	return azcore.AccessToken{Token: t.Value, ExpiresOn: t.Expires}, err
}

func ptr[T any](v T) *T { return &v }

//go:build tinygo

package main

import (
	"crypto/rand"
	"errors"
	"strings"
	"time"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/azure"
	"github.com/spinport/spinport/k8sproxy"
	"github.com/spinport/spinport/kv"
)

// azureClients builds the Azure side from Spin variables: push credentials
// on the installation's container registry (acr_registry) and records in
// managed DNS zones (dns_zones). Both off (nil) when not configured.
//
// spinport signs in to Entra ID as its own app registration without a
// stored secret: it asks the Kubernetes TokenRequest API for a token of
// its service account with audience api://AzureADTokenExchange and
// presents it as the client assertion (a Spin guest cannot read the
// projected token file AKS workload identity mounts). azure_client_secret
// is the fallback for clusters without federation. The access token is
// kept in the KV store sealed with a key derived from admin_token.
func azureClients(v *spinVariables, k *k8sproxy.Client, db kv.DB, doer azure.Doer, adminToken string) (spinport.PushRegistry, spinport.HostDNS, error) {
	acr, zones := v.get("acr_registry"), v.get("dns_zones")
	if acr == "" && zones == "" {
		return nil, nil, nil
	}
	budget, err := duration("azure_retry_budget", v.get("azure_retry_budget"))
	if err != nil {
		return nil, nil, err
	}
	tc := &azure.TokenClient{Authority: v.get("azure_authority"), TenantID: v.get("azure_tenant_id"), ClientID: v.get("azure_client_id"),
		ClientSecret: v.get("azure_client_secret"), HTTP: doer, Now: time.Now,
		Cache: azure.SealedCache{Load: db.GetCached, Store: db.PutCached, Secret: adminToken, Rand: rand.Reader}}
	if tc.TenantID == "" || tc.ClientID == "" {
		return nil, nil, errors.New("azure_tenant_id and azure_client_id are required when acr_registry or dns_zones is set (docs/aks.md)")
	}
	if tc.ClientSecret == "" {
		if k == nil {
			return nil, nil, errors.New("Azure workload identity needs kube_token (spinport asks the TokenRequest API for its own service account's token); or set azure_client_secret")
		}
		tc.Assertion = func() (string, error) { return k.RequestToken(azure.FederatedAudience, 600) }
	}
	arm := &azure.Client{Endpoint: v.get("arm_endpoint"), Token: tc.Source(), HTTP: doer, Sleep: wasiSleep, Budget: budget, Now: time.Now}

	var reg spinport.PushRegistry
	if acr != "" {
		parts := strings.Split(acr, "/")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return nil, nil, errors.New("acr_registry is <subscription id>/<resource group>/<registry name>, not " + acr)
		}
		server := v.get("acr_login_server")
		if server == "" {
			server = strings.ToLower(parts[2]) + ".azurecr.io"
		}
		reg = azure.PushRegistry{Server: server, Registry: &azure.Registry{ARM: arm, Subscription: parts[0], ResourceGroup: parts[1], Name: parts[2],
			AllowWildcards: v.get("acr_repository_wildcards") == "on"}}
	}
	var dns spinport.HostDNS
	if zones != "" {
		hr := azure.HostRecords{DNS: &azure.DNS{ARM: arm}, Target: v.get("dns_target")}
		for _, z := range strings.Split(zones, ",") {
			parts := strings.Split(strings.TrimSpace(z), "/")
			if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
				return nil, nil, errors.New("dns_zones is a comma-separated list of <subscription id>/<resource group>/<zone>, not " + zones)
			}
			hr.Zones = append(hr.Zones, azure.Zone{Subscription: parts[0], ResourceGroup: parts[1], Name: strings.ToLower(parts[2])})
		}
		if hr.Target == "" {
			return nil, nil, errors.New("dns_target (the ingress's IPv4 address or host name) is required when dns_zones is set")
		}
		dns = hr
	}
	return reg, dns, nil
}

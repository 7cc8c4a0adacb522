// Package azure is spinport's client for the two Azure REST APIs it needs,
// written by hand so that it builds with TinyGo 0.30 (the Spin component's
// compiler), which cannot build the Azure SDK for Go (azcore leans on
// reflection-heavy encoding/json, generics over net/http internals and
// goroutine-based pollers).
//
// What it calls:
//
//   - Entra ID (entra.go): POST {authority}/{tenant}/oauth2/v2.0/token, the
//     OAuth 2.0 client-credentials grant, either with a federated
//     credential (client_assertion: a Kubernetes service-account token with
//     audience api://AzureADTokenExchange, obtained by the caller from the
//     TokenRequest API because a Spin guest cannot read projected files) or
//     with a client secret. The access token is for Azure Resource Manager
//     (scope https://management.azure.com/.default). sealed.go seals a token
//     for storage at rest (AES-256-GCM).
//   - Azure Resource Manager (arm.go): bearer-token requests with ARM's
//     error JSON, 429/5xx retries honouring Retry-After within a time
//     budget, and long-running operations (Azure-AsyncOperation or
//     Location polling).
//   - Azure DNS record sets (dns.go), api-version 2018-05-01 (the version
//     github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/dns/armdns
//     v1.2.0 sends): A, CNAME and TXT record sets that carry spinport's
//     ownership in their metadata, created with If-None-Match: * and
//     updated or deleted with If-Match: <etag>.
//   - Azure Container Registry scope maps and tokens (acr.go),
//     api-version 2023-07-01 (the stable version armcontainerregistry
//     v1.2.0 sends): repository-scoped push/pull credentials per tenant.
//
// The package holds no global state and starts no goroutines. It never
// sleeps by itself: callers pass Sleep (in the Spin component a WASI
// poll_oneoff; time.Sleep crashes a Spin handler); with a nil Sleep it does
// not wait and therefore does not retry.
//
// JSON is read with fastjson and written with jsonw: no encoding/json
// on the request path. Secrets (client secret, assertion, access tokens,
// registry passwords) never appear in errors or in the String/GoString of
// any type here.
//
// Contract tests against the Azure SDK's own fake servers (its routes and
// models) live in the e2e module (e2e/armfake, e2e/azure_contract_test.go).
package azure

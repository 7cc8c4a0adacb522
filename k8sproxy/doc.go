// Package k8sproxy is spinport's Kubernetes REST client and the policy that
// limits what spinport may do to a cluster.
//
// client-go does not build with TinyGo, so the few REST calls spinport needs
// are made here, over a Doer: a *net/http.Client natively, the Spin SDK's
// outbound HTTP client (spinhttp.NewClient()) in the .wasm. Answers are raw
// JSON bytes for the callers to read with fastjson.
//
//	c, err := k8sproxy.New("https://kubernetes.default.svc", token, spinhttp.NewClient())
//	out, err := c.Apply(obj) // server-side apply, fieldManager=spinport, force=true
//	out, err = c.ApplyAs(obj, "spinport-var-db") // same, with its own field manager
//	b, err := c.Get("SpinApp", "tenant-a", "web")
//	if k8sproxy.IsNotFound(err) { ... }
//
// # Errors
//
//   - *APIError: the API server answered non-2xx; Status, Reason and Message
//     come from its metav1.Status object.
//   - *UnavailableError: the request did not get an answer (transport error);
//     the API layer answers 503.
//   - *PolicyError: k8sproxy refused the operation; nothing was sent for it.
//
// IsNotFound, IsConflict, IsUnavailable and IsPolicy test for them. The
// bearer token never appears in an error (nor in a Client's %v output).
//
// # Policy
//
// Checked before any request leaves:
//
//	kind                     apiVersion                  operations
//	Namespace                v1                          apply get list delete (cluster-scoped)
//	ResourceQuota            v1                          apply
//	Secret                   v1                          apply delete; get only spinport-tenant-redis
//	SpinApp                  core.spinkube.dev/v1alpha1  apply get delete
//	SpinAppExecutor          core.spinkube.dev/v1alpha1  apply
//	Ingress                  networking.k8s.io/v1        apply delete
//	Certificate              cert-manager.io/v1          apply get delete
//	HorizontalPodAutoscaler  autoscaling/v2              apply delete
//	NetworkPolicy            networking.k8s.io/v1        apply
//	Deployment               apps/v1                     get (rollout status)
//	Pod                      v1                          list logs
//	ServiceAccount           v1                          request tokens of spinport's own only
//
// These are exactly the operations spinport's code performs (least
// privilege; a test pins the table). Every other kind, and every other
// operation on these kinds (Secret list, get of any Secret but the one
// holding a tenant's own Redis URL, Pod apply or delete, for instance), is
// refused. spinport only works in namespaces labelled
// app.kubernetes.io/managed-by=spinport:
//
//   - An applied object must carry that label itself.
//   - Operations on namespaced kinds need a namespace (never cluster-wide)
//     that exists and is managed. The Client checks with one GET on the
//     namespace and caches the answer for its lifetime (one Spin request).
//     When the namespace is unmanaged only that GET has been sent.
//   - Applying a Namespace creates it or updates a managed one; an existing
//     unmanaged namespace is refused (adding the label would take it over).
//     default, kube-system, kube-public and kube-node-lease are always
//     refused.
//   - Get and Delete of a Namespace require it to be managed; List of
//     Namespaces always adds the managed-by selector.
//   - Secrets of type kubernetes.io/service-account-token are refused (they
//     would mint tokens for a namespace's service accounts).
//   - Names must be DNS-1123 names, so nothing odd reaches a request path.
//   - RequestToken is the one request outside managed namespaces: a
//     TokenRequest for spinport's own service account (SelfServiceAccount
//     in Client.SelfNamespace), for the Azure workload-identity exchange.
//
// Delete treats 404 (object or its namespace gone) as success.
//
// # RBAC
//
// The service account spinport runs as needs exactly what the table above
// implies, cluster-wide (tenant namespaces are created at run time, so the
// grant is a ClusterRole bound by a ClusterRoleBinding; RBAC cannot select by
// label, which is why the label policy lives here). Server-side apply needs
// create and patch (create when the object does not exist yet):
//
//	""                 namespaces                    get list create patch delete
//	""                 resourcequotas                create patch
//	""                 secrets                       create patch delete
//	""                 secrets (resourceNames:       get
//	                   spinport-tenant-redis)
//	""                 pods                          list
//	""                 pods/log                      get
//	apps               deployments                   get
//	networking.k8s.io  ingresses                     create patch delete
//	cert-manager.io    certificates                  get create patch delete
//	core.spinkube.dev  spinapps                      get create patch delete
//	core.spinkube.dev  spinappexecutors              create patch
//	autoscaling        horizontalpodautoscalers      create patch delete
//	networking.k8s.io  networkpolicies               create patch
//	""                 serviceaccounts/token         create
//	                   (resourceNames: spinport)
//
// rbac.yaml in this directory has it as a ClusterRole and ClusterRoleBinding
// (a test keeps it in step with the table in kinds.go, and the integration
// test runs the whole flow with a token of a service account bound to it).
// The service account can read no Secret but those named
// spinport-tenant-redis, but it can create and patch them
// in every namespace, so its token must still be guarded like a powerful
// credential (deploy/admission-policy.yaml narrows its writes further).
package k8sproxy

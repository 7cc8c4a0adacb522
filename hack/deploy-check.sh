#!/usr/bin/env bash
# Validates deploy/spinapp.yaml and deploy/ingress.yaml against the loopback
# cluster (hack/cluster: real kube-apiserver with the spin-operator and
# cert-manager CRDs) with a server-side dry run, plus static checks the dry run
# cannot make (RBAC in step with k8sproxy/rbac.yaml, secret references, the
# runtime config).
#
#   hack/deploy-check.sh             reuses a running cluster, or starts one and
#                                    stops it again afterwards
#   WEBHOOKS=1 hack/deploy-check.sh  also through spin-operator's admission
#                                    webhooks (SpinApp/SpinAppExecutor validation
#                                    and defaulting). Reuses the default cluster
#                                    if it runs with webhooks; otherwise starts a
#                                    second one (own state dir and ports, so a
#                                    cluster others use is never restarted) and
#                                    stops it afterwards.
#
# Leaves the cluster(s) as it found them. If namespace spinport-system does not
# exist it is created for the check (with webhooks, the SpinAppExecutor too,
# because the SpinApp webhook looks the executor up) and deleted afterwards.
set -euo pipefail
HACK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HACK")"
SPINAPP="$REPO/deploy/spinapp.yaml"
INGRESS="$REPO/deploy/ingress.yaml"
POLICY="$REPO/deploy/admission-policy.yaml"
RBAC="$REPO/k8sproxy/rbac.yaml"
NS=spinport-system
WEBHOOKS="${WEBHOOKS:-0}"
[[ "$WEBHOOKS" == 1 ]] || WEBHOOKS=0

say() { echo "==> deploy-check: $*"; }
die() { echo "deploy-check: FAIL: $*" >&2; exit 1; }
for t in kubectl jq curl; do command -v "$t" >/dev/null || die "$t is required"; done

# cluster_up STATE: is the cluster in STATE answering /readyz?
cluster_up() {
  local s=$1 url
  [[ -f "$s/env" ]] || return 1
  url=$(sed -n 's/^KUBE_API_URL=//p' "$s/env")
  curl -fsS --max-time 3 --cacert "$s/ca.crt" -H "Authorization: Bearer $(cat "$s/admin.token")" \
    "$url/readyz" >/dev/null 2>&1
}

# ---- pick or start a cluster -------------------------------------------------
DEFAULT_STATE="${SPINCLUSTER_DIR:-$REPO/.cluster}"
STATE="$DEFAULT_STATE"
started=0
if [[ "$WEBHOOKS" == 1 ]] && ! { cluster_up "$DEFAULT_STATE" && [[ "$(cat "$DEFAULT_STATE/webhooks" 2>/dev/null)" == 1 ]]; }; then
  # a second cluster beside the default one (which may be in use without webhooks)
  STATE="${DEPLOY_CHECK_CLUSTER_DIR:-${TMPDIR:-/tmp}/spinport-deploy-check-cluster}"
  export SPINCLUSTER_PORT_BASE="${DEPLOY_CHECK_PORT_BASE:-21000}"
fi
export SPINCLUSTER_DIR="$STATE"
if cluster_up "$STATE"; then
  say "reusing the running cluster ($STATE, webhooks=$(cat "$STATE/webhooks" 2>/dev/null || echo 0))"
else
  say "starting a cluster ($STATE, WEBHOOKS=$WEBHOOKS)"
  WEBHOOKS=$WEBHOOKS "$HACK/cluster/up.sh"
  started=1
fi

created_ns=0
cleanup() {
  local rc=$?
  if [[ "$started" == 1 ]]; then
    "$HACK/cluster/down.sh" >/dev/null 2>&1 || true
    say "stopped the cluster it started"
  elif [[ "$created_ns" == 1 ]]; then
    kubectl delete namespace "$NS" --timeout=60s >/dev/null 2>&1 || true
    say "deleted namespace $NS it created"
  fi
  exit "$rc"
}
trap cleanup EXIT

set -a
# shellcheck disable=SC1091
. "$STATE/env"
set +a
webhooks_on="${SPINCLUSTER_WEBHOOKS:-0}"

# objects FILE: the file's objects as one JSON array (client-side, no server changes)
objects() { kubectl create --dry-run=client -o json -f "$1" | jq -s -c '[.[] | if .kind == "List" then .items[] else . end]'; }
SPINAPP_JSON=$(objects "$SPINAPP")
INGRESS_JSON=$(objects "$INGRESS")
RBAC_JSON=$(objects "$RBAC")

# ---- prerequisites the dry run cannot create ---------------------------------
# (a namespace left Terminating by an earlier run refuses new content)
for _ in $(seq 120); do
  [[ "$(kubectl get namespace "$NS" -o jsonpath='{.status.phase}' 2>/dev/null)" == Terminating ]] || break
  sleep 0.5
done
if ! kubectl get namespace "$NS" >/dev/null 2>&1; then
  jq '.[] | select(.kind == "Namespace")' <<<"$SPINAPP_JSON" | kubectl apply --server-side --field-manager=deploy-check -f - >/dev/null
  created_ns=1
  say "created namespace $NS for the check (namespaced objects need it for a dry run)"
  if [[ "$webhooks_on" == 1 ]]; then
    jq '.[] | select(.kind == "SpinAppExecutor")' <<<"$SPINAPP_JSON" | kubectl apply --server-side --field-manager=deploy-check -f - >/dev/null
    say "created the SpinAppExecutor for the check (the SpinApp webhook looks it up)"
  fi
fi

# ---- the server-side dry run ---------------------------------------------------
say "kubectl apply --dry-run=server -f deploy/admission-policy.yaml"
if ! out=$(kubectl apply --dry-run=server -f "$POLICY" 2>&1); then
	die "the API server refuses deploy/admission-policy.yaml: $out"
fi
say "kubectl apply --dry-run=server -f deploy/spinapp.yaml -f deploy/ingress.yaml (webhooks=$webhooks_on)"
if ! out=$(kubectl apply --dry-run=server -f "$SPINAPP" -f "$INGRESS" 2>&1); then
  echo "$out" >&2
  die "server-side dry run rejected the manifests"
fi
echo "$out" | sed 's/^/    /'
n_objects=$(jq -s 'add | length' <<<"$SPINAPP_JSON $INGRESS_JSON")
n_ok=$(grep -c '(server dry run)$' <<<"$out" || true)
[[ "$n_ok" == "$n_objects" ]] || die "expected $n_objects objects in the dry run, got $n_ok"

# Server-side apply as well (stricter about field ownership and duplicates).
if ! out=$(kubectl apply --server-side --field-manager=deploy-check --dry-run=server -f "$SPINAPP" -f "$INGRESS" 2>&1); then
  echo "$out" >&2
  die "server-side apply dry run rejected the manifests"
fi
say "server-side apply dry run: ok"

# ---- static checks -------------------------------------------------------------
all=$(jq -s 'add' <<<"$SPINAPP_JSON $INGRESS_JSON")
q() { jq -r "$@" <<<"$all"; }

# RBAC identical to k8sproxy/rbac.yaml (kept in step with k8sproxy's policy by its tests)
for k in ClusterRole ClusterRoleBinding; do
  a=$(q --arg k "$k" '.[] | select(.kind == $k) | {rules, roleRef, subjects} | tojson' | jq -S .)
  b=$(jq -r --arg k "$k" '.[] | select(.kind == $k) | {rules, roleRef, subjects} | tojson' <<<"$RBAC_JSON" | jq -S .)
  [[ -n "$a" && "$a" == "$b" ]] || die "$k in deploy/spinapp.yaml differs from k8sproxy/rbac.yaml"
done
say "ClusterRole and ClusterRoleBinding match k8sproxy/rbac.yaml"

# spinport-system must not look like a tenant namespace
[[ "$(q '.[] | select(.kind == "Namespace") | .metadata.labels["app.kubernetes.io/managed-by"] // ""')" != spinport ]] ||
  die "namespace $NS is labelled managed-by=spinport (that marks tenant namespaces)"

# every secretKeyRef names a Secret in the file and a key it has (the token
# Secret's key "token" is filled in by the token controller)
while IFS=$'\t' read -r var name key; do
  type=$(q --arg n "$name" '.[] | select(.kind == "Secret" and .metadata.name == $n) | .type')
  [[ -n "$type" ]] || die "variable $var: Secret $name is not in deploy/spinapp.yaml"
  if [[ "$type" == kubernetes.io/service-account-token ]]; then
    [[ "$key" == token ]] || die "variable $var: a service-account token Secret has key 'token', not '$key'"
  else
    q --arg n "$name" --arg k "$key" '.[] | select(.kind == "Secret" and .metadata.name == $n) | (.stringData // {}) + (.data // {}) | has($k)' |
      grep -qx true || die "variable $var: Secret $name has no key $key"
  fi
done < <(q '.[] | select(.kind == "SpinApp") | .spec.variables[] | select(.valueFrom.secretKeyRef) | [.name, .valueFrom.secretKeyRef.name, .valueFrom.secretKeyRef.key] | @tsv')

# every SpinApp variable is declared in spin.toml's [variables]
declared=$(sed -n '/^\[variables\]/,/^\[/p' "$REPO/spin.toml" | sed -n 's/^\([a-z_][a-z0-9_]*\) *=.*/\1/p')
for v in $(q '.[] | select(.kind == "SpinApp") | .spec.variables[].name'); do
  grep -qx "$v" <<<"$declared" || die "SpinApp variable $v is not declared in spin.toml"
done
# every required variable without a default is set
for v in $(sed -n '/^\[variables\]/,/^\[/p' "$REPO/spin.toml" | grep 'required *= *true' | sed 's/ *=.*//'); do
  q '.[] | select(.kind == "SpinApp") | .spec.variables[].name' | grep -qx "$v" || die "required variable $v is not set"
done

# the SpinApp's executor, runtime config Secret and volumes exist
exe=$(q '.[] | select(.kind == "SpinApp") | .spec.executor')
q --arg e "$exe" '.[] | select(.kind == "SpinAppExecutor") | .metadata.name' | grep -qx "$exe" ||
  die "SpinAppExecutor $exe is not in deploy/spinapp.yaml"
rc=$(q '.[] | select(.kind == "SpinApp") | .spec.runtimeConfig.loadFromSecret')
toml=$(q --arg n "$rc" '.[] | select(.kind == "Secret" and .metadata.name == $n) | .stringData["runtime-config.toml"] // (.data["runtime-config.toml"] // "" | @base64d)')
[[ -n "$toml" ]] || die "Secret $rc has no key runtime-config.toml"
for m in $(q '.[] | select(.kind == "SpinApp") | .spec.volumeMounts[]?.name'); do
  q '.[] | select(.kind == "SpinApp") | .spec.volumes[].name' | grep -qx "$m" || die "volumeMount $m has no volume"
  [[ "$m" != spin-* ]] || die "volume $m: names starting with spin- are spin-operator's"
done

# the runtime config parses and its [[client_tls]] fits Spin's rules
if command -v python3 >/dev/null && python3 -c 'import tomllib' 2>/dev/null; then
  mounts=$(q '.[] | select(.kind == "SpinApp") | [.spec.volumeMounts[]?.mountPath] | join("\n")')
  components=$(sed -n 's/^\[component\.\([a-z0-9-]*\)\]$/\1/p' "$REPO/spin.toml")
  redis_url=$(q '.[] | select(.kind == "Secret" and .metadata.name == "spinport-config") | .stringData.redis_url // (.data.redis_url // "" | @base64d)')
  redis_host=$(q '.[] | select(.kind == "SpinApp") | .spec.variables[] | select(.name == "redis_host") | .value')
  RC_TOML="$toml" MOUNTS="$mounts" COMPONENTS="$components" REDIS_URL="$redis_url" REDIS_HOST="$redis_host" \
    python3 - <<'EOF' || die "runtime-config.toml: see above"
import os, sys, tomllib
from urllib.parse import urlsplit
try:
    rc = tomllib.loads(os.environ["RC_TOML"])
except tomllib.TOMLDecodeError as e:
    sys.exit(f"runtime-config.toml does not parse: {e}")
mounts = [m for m in os.environ["MOUNTS"].split("\n") if m]
components = os.environ["COMPONENTS"].split()
kv = rc.get("key_value_store", {}).get("default")
if not kv or kv.get("type") != "redis" or not kv.get("url", "").startswith(("redis://", "rediss://")):
    sys.exit("[key_value_store.default] must be type redis with a redis:// or rediss:// url")
# redis_url (spinport's counters and claims) must reach the KV store's server
# and database; redis_host is its scheme://host:port for allowed_outbound_hosts.
def where(u):
    p = urlsplit(u)
    return f"{p.scheme}://{p.hostname}:{p.port}", (p.path.strip("/") or "0")
if os.environ["REDIS_URL"]:
    if where(os.environ["REDIS_URL"]) != where(kv["url"]):
        sys.exit("redis_url and the KV store url must name the same server and database")
    h = urlsplit(os.environ["REDIS_HOST"])
    if h.username or h.password or h.path.strip("/") or where(os.environ["REDIS_HOST"])[0] != where(os.environ["REDIS_URL"])[0]:
        sys.exit(f"redis_host must be redis_url's scheme://host:port ({where(os.environ['REDIS_URL'])[0]})")
allowed = {"component_ids", "hosts", "ca_use_webpki_roots", "ca_roots_file", "client_cert_file", "client_private_key_file"}
for i, t in enumerate(rc.get("client_tls", [])):
    if set(t) - allowed:
        sys.exit(f"[[client_tls]] #{i}: unknown keys {sorted(set(t) - allowed)} (Spin rejects them)")
    if not t.get("component_ids") or not t.get("hosts"):
        sys.exit(f"[[client_tls]] #{i}: component_ids and hosts may not be empty")
    for c in t["component_ids"]:
        if c not in components:
            sys.exit(f"[[client_tls]] #{i}: component {c!r} is not in spin.toml ({components})")
    for h in t["hosts"]:
        if ":" in h or "/" in h:
            sys.exit(f"[[client_tls]] #{i}: host {h!r}: no scheme, port or path (Spin does not support ports there)")
    for key in ("ca_roots_file", "client_cert_file", "client_private_key_file"):
        p = t.get(key)
        if p and not any(p.startswith(m.rstrip("/") + "/") for m in mounts):
            sys.exit(f"[[client_tls]] #{i}: {key} {p!r} is not under a SpinApp volumeMount {mounts}")
EOF
  say "runtime-config.toml parses; KV store, redis_url and redis_host agree; [[client_tls]] fits Spin's rules and the mounts"
else
  say "python3 with tomllib not found: runtime-config.toml not parsed"
fi

# Ingress: backend is the Service spin-operator creates; TLS via the ClusterIssuer in the file
issuer=$(q '.[] | select(.kind == "Ingress") | .metadata.annotations["cert-manager.io/cluster-issuer"]')
q '.[] | select(.kind == "ClusterIssuer") | .metadata.name' | grep -qx "$issuer" || die "Ingress names ClusterIssuer $issuer, which is not in deploy/"
[[ "$(q '.[] | select(.kind == "Ingress") | .spec.rules[].http.paths[].backend.service | "\(.name):\(.port.number)"' | sort -u)" == "$(q '.[] | select(.kind == "SpinApp") | .metadata.name'):80" ]] ||
  die "Ingress backend must be Service <SpinApp name> port 80 (created by spin-operator)"
[[ "$(q '.[] | select(.kind == "SpinApp") | .spec.variables[] | select(.name == "cluster_issuer") | .value')" == "$issuer" ]] ||
  die "cluster_issuer (tenant certificates) is not the ClusterIssuer spinport's own Ingress uses"

say "OK: $n_objects objects accepted by the API server (webhooks=$webhooks_on); static checks passed"

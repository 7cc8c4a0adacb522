#!/usr/bin/env bash
# Start a real Kubernetes control plane + spin-operator on 127.0.0.1 (no containers):
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (one fake node that
#   makes pods Ready), spin-operator (as a local process), spin-operator + cert-manager CRDs,
#   RuntimeClass wasmtime-spin-v2.
# Options (environment):
#   WEBHOOKS=1         run spin-operator with --enable-webhooks and register its admission
#                      webhooks at https://127.0.0.1:$WEBHOOK_PORT
#   SPINCLUSTER_DIR    state dir (default: <repo>/.cluster)
#   SPINPORT_CACHE     build cache (default: ~/.cache/spinport); binaries in $SPINPORT_CACHE/cluster
#   *_PORT             see lib.sh
# Tests: `set -a; . .cluster/env; set +a` (KUBECONFIG, KUBE_API_URL, KUBE_TOKEN_FILE, KUBE_CA_FILE).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WEBHOOKS="${WEBHOOKS:-0}"
[[ "$WEBHOOKS" == 1 ]] || WEBHOOKS=0
say() { echo "==> cluster: $*"; }
die() { echo "cluster: $*" >&2; exit 1; }
command -v openssl >/dev/null || die "openssl is required (apt-get install openssl)"
command -v curl >/dev/null || die "curl is required (apt-get install curl)"
KUBECTL="${KUBECTL:-$(command -v kubectl || true)}"
[[ -n "$KUBECTL" ]] || die "kubectl is required"

# one up/down at a time per state dir (tests may race to start the cluster)
mkdir -p "$STATE"
exec 8>"$STATE/.lock"
flock 8
export SPINCLUSTER_LOCKED="$STATE"

# ---- already up? -------------------------------------------------------------
running=0
for c in "${COMPONENTS[@]}"; do alive "$c" && running=$((running + 1)); done
running_url=$(sed -n 's/^KUBE_API_URL=//p' "$STATE/env" 2>/dev/null || true)
if (( running == ${#COMPONENTS[@]} )) && [[ -n "$running_url" ]] \
  && curl -fsS --max-time 3 --cacert "$STATE/ca.crt" -H "Authorization: Bearer $(<"$STATE/admin.token")" \
       "$running_url/readyz" >/dev/null 2>&1; then
  have_wh=$(cat "$STATE/webhooks" 2>/dev/null || echo 0)
  if [[ "$have_wh" != "$WEBHOOKS" ]]; then
    die "already up with WEBHOOKS=$have_wh (asked for WEBHOOKS=$WEBHOOKS): run 'make cluster-down' first"
  fi
  say "already up at $running_url (WEBHOOKS=$have_wh); env: $STATE/env"
  exit 0
fi
if (( running > 0 )) || [[ -d "$STATE/pids" ]]; then
  say "found a partial cluster in $STATE; stopping it first"
  "$CLUSTER_HACK/down.sh"
fi

T0=$(date +%s.%N)
"$CLUSTER_HACK/build.sh"
T_BUILT=$(date +%s.%N)

port_free() { ! (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
ports=("$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT" "$KUBE_API_PORT" "$KCM_PORT" "$SCHEDULER_PORT" "$KWOK_PORT"
  "$OPERATOR_METRICS_PORT" "$OPERATOR_HEALTH_PORT")
[[ "$WEBHOOKS" == 1 ]] && ports+=("$WEBHOOK_PORT")
for p in "${ports[@]}"; do
  port_free "$p" || die "port $HOST:$p is already in use (another cluster? set SPINCLUSTER_PORT_BASE or the *_PORT variables, see hack/cluster/lib.sh)"
done

# from here on, a failure stops whatever was started (logs are kept)
trap 'rc=$?; if (( rc != 0 )); then echo "cluster: start failed; stopping what was started (logs in $STATE/logs)" >&2; "$CLUSTER_HACK/down.sh" >/dev/null 2>&1 || true; fi' EXIT

mkdir -p "$STATE"/{pki,pids,logs,tmp,kwok/home}
STATE="$(cd "$STATE" && pwd)"
PKI="$STATE/pki"
rm -rf "$STATE/etcd" "$STATE/tmp"/* "$STATE/logs"/*
API_URL="https://$HOST:$KUBE_API_PORT"

# ---- certificates and tokens -------------------------------------------------
say "generating certificates and tokens"
keygen() { openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$1"; }
# mkca NAME CN
mkca() {
  keygen "$PKI/$1.key"
  openssl req -x509 -new -key "$PKI/$1.key" -subj "/CN=$2" -days 3650 -out "$PKI/$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
}
# mkcert NAME CA SUBJECT EXTKEYUSAGE [SANS]
mkcert() {
  local ext="$PKI/$1.ext"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$4"
    [[ -n "${5:-}" ]] && echo "subjectAltName=$5"
  } >"$ext"
  keygen "$PKI/$1.key"
  openssl req -new -key "$PKI/$1.key" -subj "$3" -out "$PKI/$1.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$2.crt" -CAkey "$PKI/$2.key" -CAcreateserial \
    -days 3650 -extfile "$ext" -out "$PKI/$1.crt" 2>/dev/null
  rm -f "$PKI/$1.csr" "$ext"
}
mkca ca spinport-cluster-ca
mkca front-proxy-ca spinport-front-proxy-ca
mkcert apiserver ca "/CN=kube-apiserver" serverAuth \
  "IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:${SERVICE_CIDR%.*/*}.1"
mkcert apiserver-kubelet-client ca "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
mkcert front-proxy-client front-proxy-ca "/CN=front-proxy-client" clientAuth
mkcert kwok ca "/CN=$NODE_NAME" serverAuth "IP:127.0.0.1,DNS:localhost,DNS:$NODE_NAME"
mkcert webhook ca "/CN=spin-operator-webhook" serverAuth "IP:127.0.0.1,DNS:localhost"
keygen "$PKI/sa.key"
openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
cp "$PKI/ca.crt" "$STATE/ca.crt"

tok() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
ADMIN_TOKEN=$(tok)
printf '%s' "$ADMIN_TOKEN" >"$STATE/admin.token"
chmod 600 "$STATE/admin.token" "$PKI"/*.key
# token,user,uid,"groups"
{
  echo "$ADMIN_TOKEN,admin,admin,\"system:masters\""
  echo "$(tok),system:kube-controller-manager,system:kube-controller-manager"
  echo "$(tok),system:kube-scheduler,system:kube-scheduler"
  echo "$(tok),kwok,kwok,\"system:masters\""
  echo "$(tok),spin-operator,spin-operator"
} >"$PKI/tokens.csv"
chmod 600 "$PKI/tokens.csv"
token_of() { awk -F, -v u="$1" '$2 == u { print $1 }' "$PKI/tokens.csv"; }

CA_DATA=$(base64 -w0 <"$PKI/ca.crt")
# kubeconfig FILE USER TOKEN
kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: spinport
  cluster:
    server: $API_URL
    certificate-authority-data: $CA_DATA
users:
- name: $2
  user:
    token: $3
contexts:
- name: spinport
  context:
    cluster: spinport
    user: $2
current-context: spinport
EOF
  chmod 600 "$1"
}
kubeconfig "$STATE/kubeconfig" admin "$ADMIN_TOKEN"
for u in kube-controller-manager kube-scheduler kwok spin-operator; do
  case $u in kube-*) name=system:$u ;; *) name=$u ;; esac
  kubeconfig "$PKI/$u.kubeconfig" "$name" "$(token_of "$name")"
done
export KUBECONFIG="$STATE/kubeconfig"
kc() { "$KUBECTL" --kubeconfig "$STATE/kubeconfig" "$@"; }

# ---- process helpers -----------------------------------------------------------
# start NAME ARGS... : run $BIN/NAME in its own session, log to logs/NAME.log
start() {
  local name=$1; shift
  # 8>&-: the daemons must not inherit (and so hold) the state-dir lock
  setsid "$BIN/$name" "$@" </dev/null >"$STATE/logs/$name.log" 2>&1 8>&- &
  echo $! >"$(pidfile "$name")"
}
# wait_for DESC TIMEOUT_S COMPONENT CMD... : poll CMD until it succeeds
wait_for() {
  local desc=$1 timeout=$2 comp=$3; shift 3
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    if [[ -n "$comp" ]] && ! alive "$comp"; then
      echo "cluster: $comp exited while waiting for $desc; last lines of $STATE/logs/$comp.log:" >&2
      tail -n 30 "$STATE/logs/$comp.log" >&2
      "$CLUSTER_HACK/down.sh" >/dev/null 2>&1 || true
      exit 1
    fi
    if (( $(date +%s) > deadline )); then
      echo "cluster: timed out after ${timeout}s waiting for $desc (logs in $STATE/logs)" >&2
      "$CLUSTER_HACK/down.sh" >/dev/null 2>&1 || true
      exit 1
    fi
    sleep 0.2
  done
}
# ---- etcd ----------------------------------------------------------------------
say "starting etcd on $HOST:$ETCD_CLIENT_PORT"
start etcd --name spinport --data-dir "$STATE/etcd" \
  --listen-client-urls "http://$HOST:$ETCD_CLIENT_PORT" --advertise-client-urls "http://$HOST:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://$HOST:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
  --initial-cluster "spinport=http://$HOST:$ETCD_PEER_PORT" --initial-cluster-state new \
  --unsafe-no-fsync --snapshot-count 10000 --log-level warn
wait_for "etcd health" 30 etcd curl -fsS "http://$HOST:$ETCD_CLIENT_PORT/health"

# ---- kube-apiserver ------------------------------------------------------------
say "starting kube-apiserver on $API_URL"
start kube-apiserver \
  --bind-address "$HOST" --secure-port "$KUBE_API_PORT" --advertise-address "$HOST" \
  --etcd-servers "http://$HOST:$ETCD_CLIENT_PORT" \
  --cert-dir "$STATE/tmp" \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" --token-auth-file "$PKI/tokens.csv" \
  --authorization-mode Node,RBAC --allow-privileged=true \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --kubelet-certificate-authority "$PKI/ca.crt" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types InternalIP \
  --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
  --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
  --requestheader-extra-headers-prefix X-Remote-Extra- \
  --proxy-client-cert-file "$PKI/front-proxy-client.crt" --proxy-client-key-file "$PKI/front-proxy-client.key" \
  --endpoint-reconciler-type none \
  --profiling=false --v 1
readyz() { curl -fsS --max-time 3 --cacert "$STATE/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" "$API_URL/readyz"; }
wait_for "kube-apiserver /readyz" 90 kube-apiserver readyz
T_API=$(date +%s.%N)

# ---- controller-manager, scheduler ---------------------------------------------
say "starting kube-controller-manager, kube-scheduler"
start kube-controller-manager \
  --kubeconfig "$PKI/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig "$PKI/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig "$PKI/kube-controller-manager.kubeconfig" \
  --bind-address "$HOST" --secure-port "$KCM_PORT" --cert-dir "$STATE/tmp/kcm" \
  --leader-elect=false --use-service-account-credentials=true \
  --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --controllers '*,-endpoints-controller,-endpointslice-controller,-endpointslice-mirroring-controller' \
  --profiling=false --v 1
start kube-scheduler \
  --kubeconfig "$PKI/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig "$PKI/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig "$PKI/kube-scheduler.kubeconfig" \
  --bind-address "$HOST" --secure-port "$SCHEDULER_PORT" --cert-dir "$STATE/tmp/scheduler" \
  --leader-elect=false --profiling=false --v 1

# ---- kwok + one fake node -----------------------------------------------------
say "starting kwok (fake node $NODE_NAME, kubelet API on $HOST:$KWOK_PORT)"
# Pod logs: kwok serves this file for every container (kubectl logs / pods/log).
now=$(date -u +%Y-%m-%dT%H:%M:%S.000000000Z)
cat >"$STATE/kwok/pod.log" <<EOF
$now stdout F Serving http://0.0.0.0:80
$now stdout F Available Routes:
$now stdout F   hello: http://0.0.0.0:80 (wildcard)
EOF
cat >"$STATE/kwok/kwok.yaml" <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  cidr: $KWOK_POD_CIDR
  nodeIP: $HOST
  nodePort: $KWOK_PORT
  serverAddress: $HOST:$KWOK_PORT
  tlsCertFile: $PKI/kwok.crt
  tlsPrivateKeyFile: $PKI/kwok.key
  manageNodesWithAnnotationSelector: kwok.x-k8s.io/node=fake
  nodeLeaseDurationSeconds: 40
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: all-pods
spec:
  logs:
  - logsFile: $STATE/kwok/pod.log
    follow: false
EOF
# HOME is pointed away so kwok does not also read ~/.kwok/kwok.yaml
HOME="$STATE/kwok/home" start kwok --config "$STATE/kwok/kwok.yaml" \
  --kubeconfig "$PKI/kwok.kubeconfig" \
  --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
  --node-lease-duration-seconds=40 \
  --node-ip "$HOST" --node-port "$KWOK_PORT" --server-address "$HOST:$KWOK_PORT" --cidr "$KWOK_POD_CIDR" \
  --tls-cert-file "$PKI/kwok.crt" --tls-private-key-file "$PKI/kwok.key"
kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $NODE_NAME
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: $NODE_NAME
    node-role.kubernetes.io/agent: ""
    type: kwok
EOF

# ---- CRDs, RuntimeClass, RBAC -------------------------------------------------------
say "applying spin-operator and cert-manager CRDs, RuntimeClass, operator RBAC"
kc apply --server-side -f "$MAN/spin-operator/crd/" -f "$MAN/cert-manager/" >/dev/null
kc apply -f "$MAN/spin-operator/samples/spin-runtime-class.yaml" >/dev/null
kc apply -f "$MAN/spin-operator/rbac/role.yaml" >/dev/null
kc apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: spin-operator-manager
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: manager-role
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: spin-operator
EOF
wait_for "CRDs established" 60 kube-apiserver \
  kc wait --for condition=Established --timeout 5s crd --all

# ---- spin-operator -----------------------------------------------------------------
op_args=(--kubeconfig "$PKI/spin-operator.kubeconfig"
  --metrics-bind-address "$HOST:$OPERATOR_METRICS_PORT" --health-probe-bind-address "$HOST:$OPERATOR_HEALTH_PORT"
  --leader-elect=false)
if [[ "$WEBHOOKS" == 1 ]]; then
  # controller-runtime reads <cert-dir>/tls.crt and tls.key (default cert dir:
  # $TMPDIR/k8s-webhook-server/serving-certs); our patched build adds the flags below.
  mkdir -p "$STATE/webhook-certs"
  cp "$PKI/webhook.crt" "$STATE/webhook-certs/tls.crt"
  cp "$PKI/webhook.key" "$STATE/webhook-certs/tls.key"
  op_args+=(--enable-webhooks --webhook-bind-host "$HOST" --webhook-port "$WEBHOOK_PORT"
    --webhook-cert-dir "$STATE/webhook-certs")
  say "starting spin-operator with webhooks on https://$HOST:$WEBHOOK_PORT"
else
  say "starting spin-operator (no webhooks; WEBHOOKS=1 enables them)"
fi
TMPDIR="$STATE/tmp" start spin-operator "${op_args[@]}"
wait_for "spin-operator /readyz" 60 spin-operator curl -fsS "http://$HOST:$OPERATOR_HEALTH_PORT/readyz"

if [[ "$WEBHOOKS" == 1 ]]; then
  wait_for "spin-operator webhook server" 30 spin-operator \
    curl -sS --cacert "$PKI/ca.crt" -o /dev/null "https://$HOST:$WEBHOOK_PORT/"
  WH_CA=$(base64 -w0 <"$PKI/ca.crt")
  # wh KIND PREFIX NAME PATH RESOURCE
  wh() {
    cat <<EOF
- name: $2$3.kb.io
  admissionReviewVersions: [v1]
  clientConfig:
    url: https://$HOST:$WEBHOOK_PORT/$4
    caBundle: $WH_CA
  failurePolicy: Fail
  sideEffects: None
  timeoutSeconds: 10
  rules:
  - apiGroups: [core.spinkube.dev]
    apiVersions: [v1alpha1]
    operations: [CREATE, UPDATE]
    resources: [$5]
EOF
  }
  {
    echo "apiVersion: admissionregistration.k8s.io/v1"
    echo "kind: MutatingWebhookConfiguration"
    echo "metadata: {name: spin-operator-mutating-webhook-configuration}"
    echo "webhooks:"
    wh m m spinapp mutate-core-spinkube-dev-v1alpha1-spinapp spinapps
    wh m m spinappexecutor mutate-core-spinkube-dev-v1alpha1-spinappexecutor spinappexecutors
    echo "---"
    echo "apiVersion: admissionregistration.k8s.io/v1"
    echo "kind: ValidatingWebhookConfiguration"
    echo "metadata: {name: spin-operator-validating-webhook-configuration}"
    echo "webhooks:"
    wh v v spinapp validate-core-spinkube-dev-v1alpha1-spinapp spinapps
    wh v v spinappexecutor validate-core-spinkube-dev-v1alpha1-spinappexecutor spinappexecutors
  } >"$STATE/webhooks.yaml"
  kc apply -f "$STATE/webhooks.yaml" >/dev/null
fi
echo "$WEBHOOKS" >"$STATE/webhooks"

# ---- ready? ---------------------------------------------------------------------------
node_ready() {
  [[ "$(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}
wait_for "node $NODE_NAME Ready" 60 kwok node_ready
# pods can only be created once the controller-manager made the namespace's default ServiceAccount
wait_for "default ServiceAccount" 60 kube-controller-manager kc -n default get serviceaccount default
for c in kube-controller-manager kube-scheduler; do
  alive "$c" || { tail -n 30 "$STATE/logs/$c.log" >&2; die "$c exited"; }
done

cat >"$STATE/env" <<EOF
KUBECONFIG=$STATE/kubeconfig
KUBE_API_URL=$API_URL
KUBE_TOKEN_FILE=$STATE/admin.token
KUBE_CA_FILE=$STATE/ca.crt
SPINCLUSTER_DIR=$STATE
SPINCLUSTER_WEBHOOKS=$WEBHOOKS
SPINCLUSTER_NODE=$NODE_NAME
EOF

T1=$(date +%s.%N)
awk -v t0="$T0" -v tb="$T_BUILT" -v ta="$T_API" -v t1="$T1" 'BEGIN {
  printf "==> cluster: up in %.1fs (build check %.1fs; API ready %.1fs and everything %.1fs after start)\n",
    t1 - t0, tb - t0, ta - tb, t1 - tb }'
echo "    env:        $STATE/env   (set -a; . $STATE/env; set +a)"
echo "    kubectl:    KUBECONFIG=$STATE/kubeconfig kubectl get nodes"
echo "    logs:       $STATE/logs/"
if [[ "$STATE" == "$REPO/.cluster" ]]; then
  echo "    stop:       make cluster-down"
else
  echo "    stop:       SPINCLUSTER_DIR=$STATE $CLUSTER_HACK/down.sh"
fi

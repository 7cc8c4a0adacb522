# Shared settings for up.sh / down.sh (sourced, not run).
# Every port can be overridden from the environment; every listener is on 127.0.0.1.

CLUSTER_HACK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$CLUSTER_HACK/../.." && pwd)"
CACHE="${SPINPORT_CACHE:-$HOME/.cache/spinport}/cluster"
BIN="$CACHE/bin"
MAN="$CACHE/manifests"
STATE="$(realpath -m "${SPINCLUSTER_DIR:-$REPO/.cluster}")"

HOST=127.0.0.1
# SPINCLUSTER_PORT_BASE=N moves every port to N+offset (for a second cluster beside the first)
if [[ -n "${SPINCLUSTER_PORT_BASE:-}" ]]; then
  b=$SPINCLUSTER_PORT_BASE
  KUBE_API_PORT="${KUBE_API_PORT:-$((b + 443))}"; ETCD_CLIENT_PORT="${ETCD_CLIENT_PORT:-$((b + 379))}"
  ETCD_PEER_PORT="${ETCD_PEER_PORT:-$((b + 380))}"; KCM_PORT="${KCM_PORT:-$((b + 257))}"
  SCHEDULER_PORT="${SCHEDULER_PORT:-$((b + 259))}"; KWOK_PORT="${KWOK_PORT:-$((b + 250))}"
  OPERATOR_METRICS_PORT="${OPERATOR_METRICS_PORT:-$((b + 80))}"; OPERATOR_HEALTH_PORT="${OPERATOR_HEALTH_PORT:-$((b + 81))}"
  WEBHOOK_PORT="${WEBHOOK_PORT:-$((b + 444))}"
  unset b
fi
KUBE_API_PORT="${KUBE_API_PORT:-16443}"
ETCD_CLIENT_PORT="${ETCD_CLIENT_PORT:-16379}"
ETCD_PEER_PORT="${ETCD_PEER_PORT:-16380}"
KCM_PORT="${KCM_PORT:-16257}"                 # kube-controller-manager healthz/metrics (https)
SCHEDULER_PORT="${SCHEDULER_PORT:-16259}"     # kube-scheduler healthz/metrics (https)
KWOK_PORT="${KWOK_PORT:-16250}"               # kwok's fake kubelet API (pod logs), https
OPERATOR_METRICS_PORT="${OPERATOR_METRICS_PORT:-16080}"
OPERATOR_HEALTH_PORT="${OPERATOR_HEALTH_PORT:-16081}"
WEBHOOK_PORT="${WEBHOOK_PORT:-9443}"          # spin-operator admission webhooks (WEBHOOKS=1)
KWOK_POD_CIDR="${KWOK_POD_CIDR:-127.0.10.1/24}"  # fake pod IPs: loopback, so nothing ever routes off-host
SERVICE_CIDR="${SERVICE_CIDR:-10.96.0.0/16}"  # ClusterIPs are only allocated, never served (no kube-proxy)
NODE_NAME="${KWOK_NODE_NAME:-kwok-node-0}"

# start order; down.sh stops in reverse
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok spin-operator)

pidfile() { echo "$STATE/pids/$1.pid"; }

# alive NAME: the pid in the pid file is running and is our binary (guards against pid reuse)
alive() {
  local f pid exe
  f=$(pidfile "$1")
  [[ -f "$f" ]] || return 1
  pid=$(<"$f")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  local want
  want="$(realpath -m "$BIN/$1")"
  [[ "$exe" == "$want" || "$exe" == "$want (deleted)" ]]
}

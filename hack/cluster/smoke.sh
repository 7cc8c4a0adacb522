#!/usr/bin/env bash
# Smoke test of a running `make cluster`: in a fresh namespace, apply the containerd-shim-spin
# SpinAppExecutor and a 2-replica SpinApp; expect a Deployment + Service and readyReplicas=2.
# With webhooks (the cluster was started with WEBHOOKS=1) also expect an invalid SpinApp
# (replicas 0 without autoscaling) to be rejected. Exits non-zero on failure.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -f "$STATE/env" ]] || { echo "smoke: no cluster ($STATE/env missing): run make cluster" >&2; exit 1; }
set -a; . "$STATE/env"; set +a
kc() { kubectl "$@"; }
NS="smoke-$(date +%s)-$$"
ms() { date +%s%3N; }
fail() { echo "smoke: FAIL: $*" >&2; kc -n "$NS" get spinapp,deploy,svc,pods -o wide >&2 || true; exit 1; }

kc create namespace "$NS" >/dev/null
trap 'kc delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

kc -n "$NS" apply -f "$MAN/spin-operator/samples/spin-shim-executor.yaml" >/dev/null
t0=$(ms)
kc -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: core.spinkube.dev/v1alpha1
kind: SpinApp
metadata:
  name: hello
spec:
  image: ghcr.io/spinkube/containerd-shim-spin/examples/spin-rust-hello:v0.13.0
  replicas: 2
  executor: containerd-shim-spin
EOF

deadline=$(( $(date +%s) + 60 ))
until kc -n "$NS" get deployment hello >/dev/null 2>&1; do
  (( $(date +%s) < deadline )) || fail "no Deployment hello after 60s"; sleep 0.05
done
t_dep=$(ms)
kc -n "$NS" get service hello >/dev/null 2>&1 || {
  sleep 1; kc -n "$NS" get service hello >/dev/null || fail "no Service hello"; }
until [[ "$(kc -n "$NS" get spinapp hello -o jsonpath='{.status.readyReplicas}')" == 2 ]]; do
  (( $(date +%s) < deadline )) || fail "SpinApp hello did not reach readyReplicas=2 in 60s"; sleep 0.05
done
t_ready=$(ms)
echo "smoke: SpinApp -> Deployment $(( t_dep - t0 )) ms -> readyReplicas=2 $(( t_ready - t_dep )) ms"
kc -n "$NS" get spinapp,deployment,service,pods -o wide

# pod logs are served by kwok's fake kubelet API
pod=$(kc -n "$NS" get pods -o jsonpath='{.items[0].metadata.name}')
t_logs=$(ms)
until out=$(kc -n "$NS" logs "$pod" 2>&1) && grep -q 'Serving http' <<<"$out"; do
  (( $(date +%s) < deadline )) || fail "kubectl logs $pod: $out"; sleep 0.1
done
echo "smoke: kubectl logs works ($(( $(ms) - t_logs )) ms)"

if [[ "${SPINCLUSTER_WEBHOOKS:-0}" == 1 ]]; then
  if out=$(kc -n "$NS" apply -f - 2>&1 <<EOF
apiVersion: core.spinkube.dev/v1alpha1
kind: SpinApp
metadata:
  name: invalid
spec:
  image: ghcr.io/spinkube/containerd-shim-spin/examples/spin-rust-hello:v0.13.0
  replicas: 0
  executor: containerd-shim-spin
EOF
  ); then
    fail "webhook accepted a SpinApp with replicas 0: $out"
  fi
  echo "$out" | grep -q 'replicas must be > 0' || fail "unexpected rejection: $out"
  echo "smoke: webhook rejected replicas=0: $out"
  # the defaulting webhook fills in a missing executor
  kc -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: core.spinkube.dev/v1alpha1
kind: SpinApp
metadata:
  name: defaulted
spec:
  image: ghcr.io/spinkube/containerd-shim-spin/examples/spin-rust-hello:v0.13.0
  replicas: 1
EOF
  ex=$(kc -n "$NS" get spinapp defaulted -o jsonpath='{.spec.executor}')
  [[ "$ex" == containerd-shim-spin ]] || fail "defaulting webhook set executor to '$ex'"
  echo "smoke: defaulting webhook set executor=$ex"
fi
echo "smoke: OK"

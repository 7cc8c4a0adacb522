#!/usr/bin/env bash
# Build (once) everything the loopback cluster needs and cache it outside the repo:
#   ${SPINPORT_CACHE:-$HOME/.cache/spinport}/cluster/
#     bin/        etcd kube-apiserver kube-controller-manager kube-scheduler kwok spin-operator
#     manifests/  spin-operator CRDs, RBAC, samples; cert-manager CRDs
#     src/        the small wrapper modules used to build them
# Everything comes from the Go module proxy at exact versions. Idempotent: whatever
# already exists is skipped. Set CLUSTER_REBUILD=1 to rebuild everything.
set -euo pipefail

ETCD_VERSION=v3.5.17
K8S_VERSION=v1.31.4          # k8s.io/kubernetes
K8S_STAGING_VERSION=v0.31.4  # k8s.io/api, k8s.io/client-go, ...
KWOK_VERSION=v0.6.1
SPIN_OPERATOR_VERSION=v0.4.0
CERT_MANAGER_VERSION=v1.16.2

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${SPINPORT_CACHE:-$HOME/.cache/spinport}/cluster"
BIN="$CACHE/bin"
SRC="$CACHE/src"
MAN="$CACHE/manifests"
mkdir -p "$BIN" "$SRC" "$MAN"
exec 9>"$CACHE/.lock"   # one build at a time
flock 9

export CGO_ENABLED=0
export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
command -v go >/dev/null || { echo "cluster: go is not on PATH" >&2; exit 1; }

say() { echo "==> cluster: $*"; }
have() { [[ -z "${CLUSTER_REBUILD:-}" && -x "$BIN/$1" ]]; }
# moddir MODULE@VERSION -> the (read-only) module directory in the module cache
# (run outside any module, so the repo's go.mod/go.sum are never touched)
moddl() { (cd "$SRC" && GOFLAGS=-buildvcs=false go mod download -json "$1"); }
moddir() { moddl "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'; }
modfile() { moddl "$1" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p'; }

# wrapper DIR MODULE: a throwaway module in $SRC/DIR
wrapper() {
  local d="$SRC/$1"
  mkdir -p "$d"
  [[ -f "$d/go.mod" ]] || printf 'module spinport.local/cluster/%s\n\ngo 1.23\n' "$1" >"$d/go.mod"
  echo "$d"
}

# ---- etcd -------------------------------------------------------------------
if ! have etcd; then
  say "building etcd $ETCD_VERSION (first time takes ~1 min)"
  d=$(wrapper etcd)
  ( cd "$d" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" \
      && go build -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3 )
  mv "$BIN/etcd.tmp" "$BIN/etcd"
fi

# ---- kube-apiserver, kube-controller-manager, kube-scheduler ------------------
K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler)
need_k8s=0
for c in "${K8S_CMDS[@]}"; do have "$c" || need_k8s=1; done
if (( need_k8s )); then
  d=$(wrapper kubernetes)
  if ! grep -q "k8s.io/kubernetes $K8S_VERSION" "$d/go.mod" 2>/dev/null; then
    say "preparing k8s.io/kubernetes $K8S_VERSION wrapper module"
    kmod=$(modfile "k8s.io/kubernetes@$K8S_VERSION")
    {
      printf 'module spinport.local/cluster/kubernetes\n\ngo 1.23\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
      # every `k8s.io/X => ./staging/src/k8s.io/X` becomes `k8s.io/X => k8s.io/X v0.31.4`
      sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*$#\t\1 => \1 '"$K8S_STAGING_VERSION"'#p' "$kmod"
      printf ')\n'
    } >"$d/go.mod"
  fi
  ldflags="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=31"
    ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  for c in "${K8S_CMDS[@]}"; do
    have "$c" && continue
    case $c in
      kube-apiserver) say "building $c (first time takes ~4 min)" ;;
      *) say "building $c (first time takes ~2 min)" ;;
    esac
    ( cd "$d" && go get "k8s.io/kubernetes/cmd/$c@$K8S_VERSION" \
        && go build -ldflags "$ldflags" -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c" )
    mv "$BIN/$c.tmp" "$BIN/$c"
  done
fi

# ---- kwok --------------------------------------------------------------------
if ! have kwok; then
  say "building kwok $KWOK_VERSION (first time takes ~1 min)"
  GOBIN="$BIN" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
fi

# ---- spin-operator -------------------------------------------------------------
# Built from a copy of the module source with a small patch (spin-operator-loopback.patch)
# that adds --webhook-bind-host/--webhook-port/--webhook-cert-dir: upstream v0.4.0 binds
# the webhook server to :9443 on all interfaces with no flag to change it.
if ! have spin-operator || ! grep -q webhook-bind-host <<<"$("$BIN/spin-operator" --help 2>&1)"; then
  say "building spin-operator $SPIN_OPERATOR_VERSION (first time takes ~2 min)"
  so=$(moddir "github.com/spinkube/spin-operator@$SPIN_OPERATOR_VERSION")
  d="$SRC/spin-operator"
  rm -rf "$d" && cp -r "$so" "$d" && chmod -R u+w "$d"
  patch -s -d "$d" -p1 <"$HERE/spin-operator-loopback.patch"
  ( cd "$d" && go build -ldflags "-s -w" -o "$BIN/spin-operator.tmp" ./cmd )
  mv "$BIN/spin-operator.tmp" "$BIN/spin-operator"
fi

# ---- manifests ---------------------------------------------------------------
if [[ -n "${CLUSTER_REBUILD:-}" || ! -f "$MAN/.spin-operator-$SPIN_OPERATOR_VERSION" ]]; then
  say "copying spin-operator $SPIN_OPERATOR_VERSION CRDs, RBAC and samples"
  so=$(moddir "github.com/spinkube/spin-operator@$SPIN_OPERATOR_VERSION")
  rm -rf "$MAN/spin-operator"
  mkdir -p "$MAN/spin-operator/crd" "$MAN/spin-operator/rbac" "$MAN/spin-operator/samples"
  cp "$so"/config/crd/bases/*.yaml "$MAN/spin-operator/crd/"
  cp "$so"/config/rbac/role.yaml "$MAN/spin-operator/rbac/"
  cp "$so"/config/samples/*.yaml "$MAN/spin-operator/samples/"
  # also keep the webhook manifest for reference (up.sh writes its own for WEBHOOKS=1)
  if [[ -d "$so/config/webhook" ]]; then
    mkdir -p "$MAN/spin-operator/webhook" && cp "$so"/config/webhook/*.yaml "$MAN/spin-operator/webhook/"
  fi
  chmod -R u+w "$MAN/spin-operator"
  touch "$MAN/.spin-operator-$SPIN_OPERATOR_VERSION"
fi

if [[ -n "${CLUSTER_REBUILD:-}" || ! -f "$MAN/.cert-manager-$CERT_MANAGER_VERSION" ]]; then
  say "copying cert-manager $CERT_MANAGER_VERSION CRDs"
  cm=$(moddir "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION")
  rm -rf "$MAN/cert-manager"
  mkdir -p "$MAN/cert-manager"
  for f in "$cm"/deploy/crds/*.yaml; do
    # They are Helm templates: the three label values (app, app.kubernetes.io/name,
    # app.kubernetes.io/instance) are {{ }} expressions; the other {{ }} sit in comments.
    out="$MAN/cert-manager/$(basename "$f")"
    sed -e 's/{{[^}]*"cert-manager\.name"[^}]*}}/cert-manager/g' \
        -e 's/{{[^}]*\.Release\.Name[^}]*}}/cert-manager/g' \
        "$f" >"$out"
    if grep -v '^[[:space:]]*#' "$out" | grep -q '{{'; then
      echo "cluster: unhandled Helm template in $(basename "$f"):" >&2
      grep -v '^[[:space:]]*#' "$out" | grep -n '{{' >&2
      exit 1
    fi
  done
  touch "$MAN/.cert-manager-$CERT_MANAGER_VERSION"
fi

say "binaries and manifests ready in $CACHE"

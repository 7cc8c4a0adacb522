#!/usr/bin/env bash
# Runs a command with the loopback cluster up: reuses a running one, or
# starts it and stops it again afterwards (only what this script started).
# The command sees SPINPORT_CLUSTER_ENV=<state dir>/env.
#   usage: hack/with-cluster.sh CMD [ARGS...]
set -euo pipefail
HACK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${SPINCLUSTER_DIR:-$(dirname "$HACK")/.cluster}"

started=0
if [ -f "$STATE/env" ] && curl -fsS --max-time 3 --cacert "$STATE/ca.crt" \
	-H "Authorization: Bearer $(cat "$STATE/admin.token")" \
	"$(sed -n 's/^KUBE_API_URL=//p' "$STATE/env")/readyz" >/dev/null 2>&1; then
	echo "==> cluster: reusing the running cluster ($STATE)"
else
	"$HACK/cluster/up.sh"
	started=1
fi
cleanup() { [ "$started" = 1 ] && "$HACK/cluster/down.sh" || true; }
trap cleanup EXIT
export SPINPORT_CLUSTER_ENV="$STATE/env"
"$@"

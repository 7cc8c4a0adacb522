#!/usr/bin/env bash
# Stop exactly the processes up.sh started (by their pid files, checking each pid is still
# our binary) and remove the state dir's runtime data. Logs stay in $STATE/logs for
# post-mortems; the build cache (~/.cache/spinport/cluster) is left alone.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

say() { echo "==> cluster: $*"; }

if [[ ! -d "$STATE" ]]; then
  say "not running (no $STATE)"
  exit 0
fi

if [[ "${SPINCLUSTER_LOCKED:-}" != "$STATE" ]]; then  # up.sh calls us with its lock held
  exec 8>"$STATE/.lock"
  flock 8
fi

stopped=()
for (( i = ${#COMPONENTS[@]} - 1; i >= 0; i-- )); do
  c=${COMPONENTS[i]}
  f=$(pidfile "$c")
  [[ -f "$f" ]] || continue
  if alive "$c"; then
    pid=$(<"$f")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do alive "$c" || break; sleep 0.1; done
    if alive "$c"; then
      echo "cluster: $c (pid $pid) did not stop in 10s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 50); do alive "$c" || break; sleep 0.1; done
    fi
    stopped+=("$c")
  fi
  rm -f "$f"
done

# runtime data; keep logs/
rm -rf "$STATE/etcd" "$STATE/pids" "$STATE/tmp" "$STATE/pki" "$STATE/kwok" "$STATE/webhook-certs" \
  "$STATE/env" "$STATE/kubeconfig" "$STATE/admin.token" "$STATE/ca.crt" "$STATE/webhooks" "$STATE/webhooks.yaml"

if (( ${#stopped[@]} )); then
  say "stopped ${stopped[*]}; removed runtime data in $STATE (logs kept in $STATE/logs)"
else
  say "nothing was running; removed runtime data in $STATE"
fi

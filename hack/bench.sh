#!/usr/bin/env bash
# make bench: KV operations per request (native, counted), then request
# latency of the real .wasm in the test host with Redis, and deploy -> Ready
# through spinport vs kubectl on the loopback cluster (the e2e module, e2e/).
# Raw output goes to bench/out/; the README's table is copied from it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mkdir -p bench/out
echo "==> bench: KV operations per request (go test -bench KVOps ./bench/)"
go test -run '^$' -bench KVOps -benchtime 200x ./bench/ | tee bench/out/kvops.txt
echo "==> bench: test host latency and deploy -> Ready (e2e/)"
hack/with-cluster.sh bash -c "cd e2e && SPINPORT_WASM=$ROOT/build/spinport.wasm SPINPORT_MANIFEST=$ROOT/spin.toml \
	go test -run '^$' -bench . -benchtime 1x -timeout 30m ./..." | tee bench/out/host.txt

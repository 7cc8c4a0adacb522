#!/usr/bin/env bash
# make bench: KV operations per request (native, counted), the same routes
# as native handlers, then request latency of the real .wasm in the test
# host with Redis, deploy -> Ready through spinport vs kubectl on the
# loopback cluster, and peak linear memory per request (the e2e module, e2e/).
# Raw output goes to bench/out/; the README's table is copied from it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mkdir -p bench/out
echo "==> bench: component size (go run ./hack/wasmsize build/spinport.wasm)"
go run ./hack/wasmsize build/spinport.wasm | sed -n '1,14p' | tee bench/out/size.txt
echo "==> bench: KV operations per request (go test -bench KVOps ./bench/)"
go test -run '^$' -bench KVOps -benchtime 200x ./bench/ | tee bench/out/kvops.txt
echo "==> bench: the same routes as native Go handlers (go test -bench NativeHandler ./bench/)"
go test -run '^$' -bench NativeHandler -benchtime 2000x ./bench/ | tee bench/out/native.txt
echo "==> bench: test host latency and deploy -> Ready (e2e/)"
hack/with-cluster.sh bash -c "cd e2e && export SPINPORT_WASM=$ROOT/build/spinport.wasm SPINPORT_MANIFEST=$ROOT/spin.toml && \
	go test -run '^$' -bench . -benchtime 1x -timeout 30m ./... && \
	echo '==> bench: peak linear memory per request (e2e TestMemoryPerRequest)' && \
	go test -count=1 -run TestMemoryPerRequest -v ." | tee bench/out/host.txt

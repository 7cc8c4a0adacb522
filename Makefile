# spinport — build, run and test. Every tool is installed by `make tools`
# into $(SPINPORT_CACHE) (outside the repo) and reused on later runs.

SHELL        := /bin/bash
SPINPORT_CACHE ?= $(HOME)/.cache/spinport
export SPINPORT_CACHE
WASM         := build/spinport.wasm
LISTEN       ?= 127.0.0.1:3000
NO_CLUSTER   ?=

.PHONY: all tools build dev up test test-unit test-tinygo test-host test-e2e bench cluster cluster-down clean

all: build

## tools: install TinyGo 0.30 (or use a tinygo >= 0.34 on PATH), wazero, redis-server
tools:
	@hack/install-tools.sh

## build: compile the Spin component (spin.toml's build command runs this too);
##        prints "up to date" and skips TinyGo when no input changed since the
##        last build (content of the Go sources, embedded files, go.mod/go.sum,
##        TinyGo and its flags: see hack/tinygo-build.sh). Always runs the check,
##        so dev and the test targets never use a stale .wasm.
##        SPINPORT_FORCE_BUILD=1 rebuilds anyway.
build:
	@hack/tinygo-build.sh $(WASM)

## dev: serve spinport on http://$(LISTEN) through the Spin-ABI test host (SQLite KV in .spin/),
##      connected to the loopback cluster, which it starts if it is not running (and leaves
##      running; `make cluster-down` stops it), unless SPIN_VARIABLE_KUBE_* name another.
##      `make dev NO_CLUSTER=1`: no cluster, record-only mode.
dev: build
	@LISTEN=$(LISTEN) NO_CLUSTER=$(NO_CLUSTER) hack/dev.sh

## up: for machines with Spin installed (not available here)
up:
	spin build && spin up --runtime-config-file runtime-config-redis.toml

## test: unit tests (native and TinyGo), the test host's own tests, then the
##       real .wasm end to end through the test host (e2e/), with Redis and the
##       loopback Kubernetes cluster
test:
	@hack/with-cluster.sh $(MAKE) --no-print-directory test-unit test-tinygo test-host test-e2e

test-unit:
	@echo "==> native unit tests"
	go test ./...

test-tinygo:
	@hack/tinygo-test.sh . ./jsonw/... ./kv/... ./api/... ./control/... ./oidc/... ./k8sproxy/... ./spinkube/... ./azure/... ./doh/... ./registry/...

## test-host: the test host's own tests (spinhost/), including that it starts $(WASM)
test-host: build
	@echo "==> test host's own tests (spinhost/) against $(WASM)"
	cd spinhost && SPINPORT_WASM=$(CURDIR)/$(WASM) SPINPORT_MANIFEST=$(CURDIR)/spin.toml go test -count=1 -timeout 30m ./...

## test-e2e: spinport's end-to-end tests (e2e/): $(WASM) in the test host against
##           Redis, an OpenID provider and the cluster in SPINPORT_CLUSTER_ENV
test-e2e: build
	@echo "==> end-to-end tests (e2e/) against $(WASM)"
	cd e2e && SPINPORT_WASM=$(CURDIR)/$(WASM) SPINPORT_MANIFEST=$(CURDIR)/spin.toml go test -count=1 -timeout 30m ./...

bench: build
	@hack/bench.sh

cluster:
	@hack/cluster/up.sh

cluster-down:
	@hack/cluster/down.sh

clean:
	rm -rf build .spin

#!/usr/bin/env bash
# Builds the Spin component (package ./cmd/spinport) with TinyGo.
#   usage: hack/tinygo-build.sh OUT.wasm
# Used by `make build` and spin.toml's build command.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 OUT.wasm" >&2; exit 2; }
HACK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HACK")"
MAIN_PKG=./cmd/spinport
# OUT may be relative to the caller's directory; we build from the repo root.
case "$1" in /*) OUT="$1" ;; *) OUT="$PWD/$1" ;; esac

# shellcheck source=hack/tinygo.sh
source "$HACK/tinygo.sh"
cd "$ROOT"

# Skip the (~1 min) build when no input is newer than OUT. Inputs: Go sources,
# module files, embedded UI files, and this script (flags live here); also
# directories below the root, whose mtime changes when a file is deleted.
# SPINPORT_FORCE_BUILD=1 rebuilds anyway.
if [ -f "$OUT" ] && [ -z "${SPINPORT_FORCE_BUILD:-}" ]; then
	newer="$(find . -mindepth 1 \( -name .git -o -name node_modules -o -name .spin -o -path ./build \) -prune -o \
		\( -type d -o -name '*.go' -o -name go.mod -o -name go.sum -o -path './ui/*' \
		-o -path ./hack/tinygo-build.sh \) -newer "$OUT" -print -quit)"
	if [ -z "$newer" ]; then
		echo "==> build: up to date ($OUT)"
		exit 0
	fi
fi

TINYGO="$("$HACK/tinygo.sh")" # prints the install hint and fails if missing
TINYGO_VER="$(tinygo_version "$TINYGO")"

# TinyGo >= 0.34 needs a reactor (c-shared) module: with the default build
# mode `_start` ends in proc_exit and the instance is closed before Spin calls
# handle-http-request. 0.30-0.33 use -target=wasi.
# purego: crypto/internal/bigmod's assembly has no TinyGo implementation.
# leaking GC: Spin runs one instance per request, so never collecting is fine and fastest.
if version_ge "$TINYGO_VER" 0.34.0; then
	flags=(-target=wasip1 -buildmode=c-shared)
else
	flags=(-target=wasi)
fi
flags+=(-tags purego -gc=leaking -no-debug)

# Version info via -ldflags -X (TinyGo supports it since 0.19), but TinyGo
# fails with "global not found: main.version" if the variable does not exist,
# so only pass what package main declares (`var version, buildTime string`).
ldflags=()
declares() { grep -Eqs "^[[:space:]]*(var[[:space:]]+)?$1[[:space:]]*(=|string)" "$MAIN_PKG"/*.go; }
if declares version; then
	ldflags+=("-X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)")
fi
if declares buildTime; then
	ldflags+=("-X main.buildTime=$(date -u +%Y-%m-%dT%H:%M:%SZ)")
fi
if [ ${#ldflags[@]} -gt 0 ]; then
	flags+=(-ldflags "${ldflags[*]}")
else
	echo "==> build: $MAIN_PKG declares no version/buildTime variables; not embedding version info"
fi

echo "==> build: tinygo $TINYGO_VER: tinygo build ${flags[*]} -o $OUT $MAIN_PKG"
mkdir -p "$(dirname "$OUT")"
TMP="$(mktemp "$OUT.XXXXXX")" # per build: concurrent builds must not share it
trap 'rm -f "$TMP"' EXIT
start=$SECONDS
# Build to a temporary name so a failed build never leaves an "up to date" OUT.
"$TINYGO" build "${flags[@]}" -o "$TMP" "$MAIN_PKG"
mv -f "$TMP" "$OUT"

size="$(wc -c <"$OUT")"
awk -v f="$1" -v b="$size" -v s="$((SECONDS - start))" \
	'BEGIN { printf "==> %s: %.1f MB (%d bytes, built in %ds)\n", f, b / 1e6, b, s }'

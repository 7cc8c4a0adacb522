#!/usr/bin/env bash
# Builds the Spin component (package ./cmd/spinport) with TinyGo.
#   usage: hack/tinygo-build.sh OUT.wasm
# Used by `make build` (and so `make dev`, `make test`) and spin.toml's build command.
#
# Skips the (~1 min) build when OUT was built by this script from exactly the
# current inputs: the content (sha256) of every non-test Go file of this module
# (not the nested modules e2e/, spinhost/), every file a package embeds
# (ui/static/*, api/openapi.json), go.mod, go.sum, this script, the TinyGo
# version and the flags. They are recorded in OUT.inputs next to OUT, with
# OUT's own sha256 (so an OUT written by anything else is rebuilt). Content,
# not mtimes: a checkout, a touched or a reverted file decides nothing, and a
# file edited during a build is seen as changed on the next run. Not inputs:
# spin.toml (read by the host at run time) and the version stamp: main.version
# (git describe) and main.buildTime stay those of the build that made OUT.
# SPINPORT_FORCE_BUILD=1 rebuilds anyway. One build of OUT at a time (flock).
#
# After linking, hack/wasmstrip removes the custom sections no runtime reads
# (`name`, which TinyGo keeps even with -no-debug, `producers`,
# `target_features`; ~135 KB): see hack/wasmstrip/main.go for why Spin,
# wasmtime and wazero need none of them. SPINPORT_WASM_NAMES=1 keeps `name`,
# so that traps show function names instead of indexes (it is recorded with
# the flags: switching it rebuilds). hack/wasmsize prints where the bytes go.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 OUT.wasm" >&2; exit 2; }
HACK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HACK")"
MAIN_PKG=./cmd/spinport
# OUT may be relative to the caller's directory; we build from the repo root.
case "$1" in /*) OUT="$1" ;; *) OUT="$PWD/$1" ;; esac
STAMP="$OUT.inputs"

# shellcheck source=hack/tinygo.sh
source "$HACK/tinygo.sh"
cd "$ROOT"

TINYGO="$("$HACK/tinygo.sh")" # prints the install hint and fails if missing
TINYGO_VER="$(tinygo_version "$TINYGO")"

# TinyGo >= 0.34 needs a reactor (c-shared) module: with the default build
# mode `_start` ends in proc_exit and the instance is closed before Spin calls
# handle-http-request. 0.30-0.33 use -target=wasi.
# purego: crypto/internal/bigmod's assembly has no TinyGo implementation.
# leaking GC: Spin runs one instance per request, so never collecting is fine and fastest.
# -scheduler=none: no goroutines, so no asyncify: the default scheduler's
# instrumentation doubled the code (2.2 MB -> 1.0 MB without it) and slowed
# every call. A reachable `go` statement (http.Client.Do, context.WithTimeout,
# time.AfterFunc, http.FileServer) now fails the build, naming the line.
if version_ge "$TINYGO_VER" 0.34.0; then
	flags=(-target=wasip1 -buildmode=c-shared)
else
	flags=(-target=wasi)
fi
flags+=(-tags purego -gc=leaking -scheduler=none -no-debug)
# custom sections hack/wasmstrip keeps although it could strip them
strip_keep=""
if [ -n "${SPINPORT_WASM_NAMES:-}" ]; then strip_keep=name; fi

mkdir -p "$(dirname "$OUT")"
if command -v flock >/dev/null; then
	exec 9>"$OUT.lock"
	if ! flock -n 9; then
		echo "==> build: waiting for another build of $OUT to finish"
		flock 9
	fi
fi

# build_inputs: prints the record of what OUT is built from (see the top).
# Fails when the inputs cannot be listed (then we build).
build_inputs() {
	local files
	command -v go >/dev/null || return 1
	# a local replace directive would make another directory an input
	if grep -Eq '=>[[:space:]]*(\.|/)' go.mod; then return 1; fi
	# Packages as TinyGo sees them (tags), every Go file whatever its build
	# constraints (IgnoredGoFiles), and their embedded files.
	files="$(go list -e -tags "tinygo,purego,wasi,wasip1,wasm,gc.leaking" \
		-f '{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .CgoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .IgnoredGoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .CFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .HFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .SFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}' \
		./... 2>/dev/null)" || return 1
	# hack/wasmsize only reads modules: not an input.
	files="$(printf '%s\n' "$files" | sed "s|^$ROOT/||" | grep -v -e '_test\.go$' -e '^$' -e '^hack/wasmsize/' | LC_ALL=C sort -u)"
	[ -n "$files" ] || return 1
	grep -qx 'cmd/spinport/main.go' <<<"$files" || return 1
	echo "tinygo $("$TINYGO" version 2>/dev/null)"
	echo "flags ${flags[*]} | wasmstrip -keep=$strip_keep"
	# shellcheck disable=SC2086
	(sha256sum go.mod go.sum hack/tinygo-build.sh && xargs -d '\n' sha256sum <<<"$files") || return 1
}

# why_stale CURRENT: prints why OUT (with STAMP) does not match CURRENT; nothing if it does.
why_stale() {
	if [ ! -f "$OUT" ]; then
		echo "no $OUT yet"
	elif [ ! -f "$STAMP" ]; then
		echo "no record of what $OUT was built from ($STAMP)"
	elif [ "$(sed -n 's/^output //p' "$STAMP")" != "$(sha256sum <"$OUT" | cut -d' ' -f1)" ]; then
		echo "$OUT was written by something else since its build"
	elif [ "$(sed '/^output /d' "$STAMP")" != "$1" ]; then
		local changed
		changed="$(diff <(sed '/^output /d' "$STAMP") <(printf '%s\n' "$1") | sed -n 's/^[<>] //p' |
			awk '{ print ($1 == "tinygo" || $1 == "flags") ? "TinyGo or its flags" : $2 }' | LC_ALL=C sort -u)"
		echo "changed since the last build: $(head -n 8 <<<"$changed" | paste -sd' ')$([ "$(wc -l <<<"$changed")" -gt 8 ] && echo " ...")"
	fi
}

inputs=""
if inputs="$(build_inputs)"; then
	reason="$(why_stale "$inputs")"
else
	inputs=""
	reason="could not list the inputs (go list); building"
fi
if [ -n "${SPINPORT_FORCE_BUILD:-}" ]; then
	reason="SPINPORT_FORCE_BUILD is set"
elif [ -z "$reason" ]; then
	echo "==> build: up to date ($OUT; no input changed since its build)"
	exit 0
fi
echo "==> build: $reason"

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
TMP="$(mktemp "$OUT.XXXXXX")" # per build: concurrent builds must not share it
trap 'rm -f "$TMP" "$TMP.inputs"' EXIT
start=$SECONDS
# Build to a temporary name so a failed build never leaves an "up to date" OUT;
# the record goes away first and is only written for a finished build.
rm -f "$STAMP"
"$TINYGO" build "${flags[@]}" -o "$TMP" "$MAIN_PKG"
stripped="$(go run ./hack/wasmstrip -keep="$strip_keep" "$TMP")"
echo "==> build: wasmstrip: $stripped"
mv -f "$TMP" "$OUT"
# The inputs as listed before the build: a file changed during it counts as changed.
if [ -n "$inputs" ]; then
	{ printf '%s\n' "$inputs"; echo "output $(sha256sum <"$OUT" | cut -d' ' -f1)"; } >"$TMP.inputs"
	mv -f "$TMP.inputs" "$STAMP"
fi

size="$(wc -c <"$OUT")"
awk -v f="$1" -v b="$size" -v s="$((SECONDS - start))" \
	'BEGIN { printf "==> %s: %.1f MB (%d bytes, built in %ds)\n", f, b / 1e6, b, s }'

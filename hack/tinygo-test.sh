#!/usr/bin/env bash
# Runs unit tests compiled by TinyGo under WASI, i.e. the way the code runs in Spin.
#   usage: hack/tinygo-test.sh PKG...        e.g. ./kv/... ./api/...
#   extra `tinygo test` flags: TINYGO_TEST_FLAGS="-v -run TestFoo" hack/tinygo-test.sh ./kv
# Test binaries run in the wazero CLI (hack/wasi-wazero.json: the wasi target
# with wazero as emulator; the package directory is the guest's /, so
# testdata/ works, and the host temp dir is the guest's /tmp). Each test binary
# gets 10 minutes (coreutils timeout: wazero's own -timeout cannot interrupt a
# guest blocked in a host call such as time.Sleep); a timed-out package just
# prints FAIL.
# TinyGo's testing differs from Go's: t.Skip marks the test FAILED and
# t.Fatal does not stop the test. Keep native-only tests behind //go:build !tinygo.
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 PKG..." >&2; exit 2; }
HACK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/tinygo.sh
source "$HACK/tinygo.sh"

TINYGO="$("$HACK/tinygo.sh")" # prints the install hint and fails if missing
TARGET="$HACK/wasi-wazero.json"
# TinyGo looks the emulator up on PATH.
export PATH="$SPINPORT_CACHE/bin:$PATH"
command -v wazero >/dev/null || { echo "wazero not found: run \`make tools\`" >&2; exit 1; }

# Expand ./x/... with TinyGo's own view of build tags (GOOS/GOARCH/tags of the
# target), keeping packages that have test files. `tinygo list` has no -f, so
# pick ImportPath and the test file lists out of go list's indented -json.
listing="$("$TINYGO" list -json -target="$TARGET" -tags purego "$@")" # fails on bad patterns
pkgs=()
while IFS= read -r p; do [ -n "$p" ] && pkgs+=("$p"); done < <(awk '
	/^\{/ { ip = ""; tests = 0 }
	/^\t"ImportPath": / { ip = $2; gsub(/[",]/, "", ip) }
	/^\t"X?TestGoFiles": / { tests = 1 }
	/^\}/ { if (tests) print ip }' <<<"$listing")
if [ ${#pkgs[@]} -eq 0 ]; then
	echo "==> tinygo test: no packages with test files in $*"
	exit 0
fi

echo "==> tinygo test ($(tinygo_version "$TINYGO"), wazero): ${pkgs[*]}"
# shellcheck disable=SC2086 # TINYGO_TEST_FLAGS is a list of flags
"$TINYGO" test -target="$TARGET" -tags purego ${TINYGO_TEST_FLAGS:-} "${pkgs[@]}"

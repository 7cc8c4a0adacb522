#!/usr/bin/env bash
# Prints the path of the tinygo spinport builds with:
#   1. $TINYGO, if set (escape hatch, e.g. a 0.31-0.33 release install);
#   2. a tinygo >= 0.34 on PATH (what users install from TinyGo releases);
#   3. TinyGo 0.30 that `make tools` builds into $SPINPORT_CACHE.
# Why not any tinygo on PATH: 0.31+ built from the Go module zip lacks src/net
# (a git submodule), and 0.30 is the one we can build here from registries alone.
#
# Executed: prints the path or exits 1. Sourced: defines the helpers below.
set -euo pipefail

SPINPORT_CACHE="${SPINPORT_CACHE:-$HOME/.cache/spinport}"
SPINPORT_TINYGO_WRAPPER="$SPINPORT_CACHE/bin/tinygo"

# tinygo_version BIN -> "0.30.0" (empty if BIN does not run)
tinygo_version() {
	"$1" version 2>/dev/null | awk '$1 == "tinygo" && $2 == "version" { print $3; exit }' || true
}

# version_ge A B -> true if version A >= version B
version_ge() {
	[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

# path_tinygo -> path of a tinygo >= 0.34 on PATH that is not our own wrapper
path_tinygo() {
	local p v
	p="$(command -v tinygo 2>/dev/null)" || return 1
	[ "$(readlink -f "$p")" = "$(readlink -f "$SPINPORT_TINYGO_WRAPPER" 2>/dev/null || true)" ] && return 1
	v="$(tinygo_version "$p")"
	[ -n "$v" ] && version_ge "$v" 0.34.0 || return 1
	echo "$p"
}

# find_tinygo -> path of the tinygo to use, or return 1
find_tinygo() {
	if [ -n "${TINYGO:-}" ]; then
		command -v "$TINYGO"
		return
	fi
	path_tinygo && return 0
	if [ -x "$SPINPORT_TINYGO_WRAPPER" ] && [ -n "$(tinygo_version "$SPINPORT_TINYGO_WRAPPER")" ]; then
		echo "$SPINPORT_TINYGO_WRAPPER"
		return 0
	fi
	return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	if ! find_tinygo; then
		echo "tinygo not found: run \`make tools\` (installs TinyGo 0.30 into $SPINPORT_CACHE)" >&2
		exit 1
	fi
fi

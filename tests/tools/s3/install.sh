#!/bin/sh
# tests/tools/s3/install.sh - installs the pinned npm packages of s3stack.js
# (package-lock.json) into a cache directory, once per lock file, and prints
# that directory (its node_modules/ is what NODE_PATH wants).  Run by
# scripts/deps.sh (ph_install_deps test) and by tests/e2e/s3.sh; needs npm
# and, the first time, the npm registry.
#   PORTHOLE_NPM_CACHE   the cache (default ${XDG_CACHE_HOME:-~/.cache}/porthole/npm)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${PORTHOLE_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/porthole/npm}
sum=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)
dir=$cache/s3-$sum
if [ ! -f "$dir/.installed" ]; then
	command -v npm >/dev/null || { echo "s3 tools: npm is missing (scripts/deps.sh installs it)" >&2; exit 1; }
	mkdir -p "$dir"
	cp "$here/package.json" "$here/package-lock.json" "$dir/"
	(cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
	touch "$dir/.installed"
fi
echo "$dir"

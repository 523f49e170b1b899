#!/usr/bin/env bash
# Prints the Debian version of this checkout: $VERSION when set; else from `git describe` of
# the last vX.Y.Z tag (v1.2.3 -> 1.2.3, 5 commits later -> 1.2.3+5.gHASH); without a tag,
# 0.0~gitDATE.HASH (the commit's date, so that later commits sort later). Uncommitted changes
# add +dirty.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -n "${VERSION:-}" ]; then
	v=$VERSION
elif d=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
	v=$(printf '%s\n' "${d#v}" | sed -E 's/-([0-9]+)-g([0-9a-f]+)/+\1.g\2/; s/-dirty$/+dirty/')
elif h=$(git rev-parse --short HEAD 2>/dev/null); then
	v="0.0~git$(git log -1 --format=%cd --date=format:%Y%m%d%H%M%S).$h"
	git diff --quiet HEAD -- 2>/dev/null || v="$v+dirty"
else
	echo "version.sh: not a git checkout: set VERSION (e.g. make deb VERSION=1.0.0)" >&2
	exit 1
fi
if ! dpkg --validate-version "$v" 2>/dev/null; then
	echo "version.sh: $v is not a valid Debian version (it must start with a digit)" >&2
	exit 1
fi
printf '%s\n' "$v"

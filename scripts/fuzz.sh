#!/usr/bin/env bash
# Runs Go fuzz targets, each for FUZZTIME: scripts/fuzz.sh FUZZTIME PKG:Target...
#
# A duration -fuzztime races the fuzz coordinator's own deadline: on a loaded machine a worker
# still busy when it expires makes `go test` fail with a bare "context deadline exceeded" and no
# input found (a Go toolchain defect, golang/go#75804). A real finding always writes a failing
# input under testdata/fuzz and prints it. So a failure counts as that toolchain race only when
# the output says exactly that and nothing else failed, and the target's whole corpus (seeds and
# testdata) then replays clean; any other failure fails the run.
set -uo pipefail
fuzztime=$1
shift
GO=${GO:-go}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
for t in "$@"; do
	pkg=${t%%:*} name=${t#*:}
	echo "fuzz $name ($pkg) for $fuzztime"
	if "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" 2>&1 | tee "$log"; then
		continue
	fi
	if grep -q 'context deadline exceeded' "$log" &&
		! grep -Eq 'Failing input written|panic:|_test\.go:[0-9]+:|fuzz: minimizing' "$log"; then
		echo "fuzz $name: bare deadline at the end of -fuzztime, no input found; replaying its corpus"
		if "$GO" test -count=1 -run "^${name}\$" "$pkg"; then
			echo "fuzz $name: corpus replays clean: the toolchain's deadline race, not a finding"
			continue
		fi
	fi
	echo "fuzz $name ($pkg): FAILED" >&2
	status=1
done
exit $status

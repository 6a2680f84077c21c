#!/usr/bin/env bash
# Runs the integration tests against each supported Kubernetes release in turn, each on
# a control plane built from that release (`make test-matrix`), then prints one line per
# release. Exit status 1 if any release failed.
#
# Usage: bash controlplane/matrix.sh [--smoke] [RELEASE|oldest|newest ...]
#   RELEASE: v1.36.3 or 1.36; default: every release in versions.env's KUBE_RELEASES.
#   --smoke: only the smoke tests (the control plane itself, scheduling, discovery)
#            instead of the whole integration suite.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
# shellcheck source=controlplane/versions.env
. controlplane/versions.env
read -ra supported <<<"$KUBE_RELEASES"

smoke=0
releases=()
for arg; do
	case $arg in
	--smoke) smoke=1 ;;
	oldest) releases+=("${supported[0]}") ;;
	newest) releases+=("${supported[-1]}") ;;
	*) releases+=("$arg") ;;
	esac
done
((${#releases[@]})) || releases=("${supported[@]}")

tests=(tests/integration)
if ((smoke)); then
	tests=(tests/integration/test_control_plane.py tests/integration/test_scheduling.py
		tests/integration/test_discovery.py)
fi
if [[ ! -x .venv/bin/pytest ]]; then
	echo "matrix.sh: .venv missing; run \`make venv\` first" >&2
	exit 2
fi

# The release comes from PY_SCHEDULER_KUBE_VERSION; an explicit binary folder would
# override it for every release.
unset PY_SCHEDULER_BIN_DIR
logs=$(mktemp -d "${TMPDIR:-/tmp}/py-scheduler-matrix.XXXXXX")
results=()
failed=0
for release in "${releases[@]}"; do
	start=$SECONDS
	echo "== $release: building (or reusing) its control plane" >&2
	if ! folder=$(bash controlplane/build.sh "$release" 2>"$logs/build.log"); then
		cat "$logs/build.log" >&2
		results+=("$release  build failed ($((SECONDS - start)) s)")
		failed=1
		continue
	fi
	release=${folder##*/k8s-} # as build.sh resolved it: 1.35 -> v1.35.4
	built=$((SECONDS - start))
	echo "== $release: ${tests[*]}" >&2
	PY_SCHEDULER_KUBE_VERSION=$release PY_SCHEDULER_REQUIRE_CONTROLPLANE=1 \
		.venv/bin/pytest -q -p no:cacheprovider "${tests[@]}" 2>&1 | tee "$logs/$release.log" >&2
	code=${PIPESTATUS[0]}
	summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed)|no tests ran|error' "$logs/$release.log" | tail -1)
	summary=${summary//=/}
	if ((code == 0)); then
		results+=("$release  ok    ${summary# } (build ${built} s, total $((SECONDS - start)) s)")
	else
		results+=("$release  FAIL  ${summary# } (log: $logs/$release.log)")
		failed=1
	fi
done

echo "== release matrix ($( ((smoke)) && echo smoke tests || echo integration suite))"
printf '%s\n' "${results[@]}"
exit "$failed"

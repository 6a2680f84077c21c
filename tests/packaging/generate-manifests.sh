#!/usr/bin/env bash
# Renders charts/py-scheduler with its default values into plain manifests, for clusters
# that do not use Helm (`make manifests`). tests/packaging/run.sh checks that the committed
# file is current.
#
# Usage: bash tests/packaging/generate-manifests.sh [OUTPUT]
#   OUTPUT defaults to deploy/manifests/py-scheduler.yaml; "-" writes to stdout.
# helm is $HELM if set, else the pinned build from controlplane/build.sh, so every machine
# renders byte-identical output.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=${1:-deploy/manifests/py-scheduler.yaml}

helm=${HELM:-$(bash controlplane/build.sh)/bin/helm}

args=(template py-scheduler charts/py-scheduler --namespace py-scheduler --skip-tests)

render() {
	cat <<HEADER
# Generated from charts/py-scheduler (default values) by tests/packaging/generate-manifests.sh.
# Do not edit: change the chart, then run \`make manifests\`
# (or \`bash tests/packaging/generate-manifests.sh\`), which runs
#   helm ${args[*]}
# Apply after deploy/manifests/namespace.yaml; the image is the released one of the chart's
# appVersion (set another with \`kubectl set image\` if you build your own):
#   kubectl apply -f deploy/manifests/namespace.yaml -f deploy/manifests/py-scheduler.yaml
#   kubectl -n py-scheduler set image deployment/py-scheduler scheduler=REGISTRY/TEAM/py-scheduler:TAG
HEADER
	"$helm" "${args[@]}"
}

if [[ $out == - ]]; then
	render
else
	# Through a temporary file, so a failed render leaves the committed file alone.
	tmp=$(mktemp)
	trap 'rm -f "$tmp"' EXIT
	render >"$tmp"
	cat "$tmp" >"$out"
	echo "wrote $out" >&2
fi

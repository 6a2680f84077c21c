#!/usr/bin/env bash
# Builds the local control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, etcd, kwok, helm) from Go modules into a versioned cache
# directory outside the repository. Prints that directory on stdout.
# A directory that already holds every binary is reused as is.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=controlplane/versions.env
. "$here/versions.env"

cache_root="${PY_SCHEDULER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/py-scheduler}"
out="$cache_root/k8s-$KUBE_VERSION"
binaries=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok helm)

complete() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$out/bin/$b" ]] || return 1; done
}

if complete; then
  echo "$out"
  exit 0
fi

log() { echo "controlplane: $*" >&2; }
staging="$out/.staging.$$"
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging"
export CGO_ENABLED=0 GOFLAGS="-buildvcs=false -trimpath"
start=$SECONDS

minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
kube_ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=$minor \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION \
 -X k8s.io/client-go/pkg/version.gitMajor=1 \
 -X k8s.io/client-go/pkg/version.gitMinor=$minor"

log "building kube-apiserver, kube-controller-manager, kube-scheduler, etcd $KUBE_VERSION (a cold build takes tens of minutes)"
(cd "$here" && go build -ldflags "$kube_ldflags" -o "$staging/" ./cmd/...)

log "building kwok $KWOK_VERSION"
GOBIN="$staging" go install -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
  "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"

log "building helm $HELM_VERSION"
GOBIN="$staging" go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"

mkdir -p "$out/bin"
for b in "${binaries[@]}"; do mv -f "$staging/$b" "$out/bin/$b"; done
log "built in $((SECONDS - start)) s into $out"
echo "$out"

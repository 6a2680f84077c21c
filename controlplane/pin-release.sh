#!/usr/bin/env bash
# Pins a Kubernetes release's module graph: writes releases/<minor>.mod and .sum,
# which build.sh reads with `go build -modfile`. Run once when a release is added or
# its patch version changes, then commit both files and list the release in versions.env.
#
# Usage: bash controlplane/pin-release.sh v1.37.2
#
# k8s.io/kubernetes requires its staging modules (k8s.io/api, k8s.io/client-go...) at
# v0.0.0 and points them at ./staging with replace lines that do not apply to a
# dependent module. The modfile therefore replaces every staging module that release's
# go.mod names with its published v0.<minor>.<patch>, requires the etcd server the
# release itself pins, and takes the release's go and godebug lines; `go mod tidy`
# then fills in the rest.
set -euo pipefail

release=${1:?usage: pin-release.sh v1.MINOR.PATCH}
[[ $release =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || {
	echo "pin-release: $release is not a release such as v1.37.2" >&2
	exit 2
}
minor=${BASH_REMATCH[1]}
staging_version="v0.$minor.${BASH_REMATCH[2]}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
modfile="$here/releases/1.$minor.mod"

# Downloaded from a scratch module: the release's own go.mod, as the proxy serves it.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
(cd "$scratch" && go mod init pin >/dev/null 2>&1 &&
	go mod download -json "k8s.io/kubernetes@$release" >download.json)
upstream=$(sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p' "$scratch/download.json")
[[ -f $upstream ]] || {
	echo "pin-release: could not download k8s.io/kubernetes@$release" >&2
	exit 1
}

go_line=$(grep -m1 '^go ' "$upstream")
godebug_line=$(grep -m1 '^godebug ' "$upstream" || true)
etcd=$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2; exit }' "$upstream")
mapfile -t staging < <(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }' "$upstream" | sort -u)
((${#staging[@]} > 0)) || {
	echo "pin-release: no staging modules in $upstream" >&2
	exit 1
}

{
	echo "// Module graph of Kubernetes $release for the local control plane; written by"
	echo "// pin-release.sh, read by build.sh through go build -modfile."
	echo "module github.com/py-scheduler/py-scheduler/controlplane"
	echo
	echo "$go_line"
	[[ -z $godebug_line ]] || {
		echo
		echo "$godebug_line"
	}
	echo
	echo "require ("
	echo "	go.etcd.io/etcd/server/v3 $etcd"
	echo "	k8s.io/component-base $staging_version"
	echo "	k8s.io/kubernetes $release"
	echo ")"
	echo
	echo "replace ("
	for module in "${staging[@]}"; do
		echo "	$module => $module $staging_version"
	done
	echo ")"
} >"$modfile"
: >"${modfile%.mod}.sum"

(cd "$here" && go mod tidy -modfile="$modfile")
echo "pinned $release (etcd $etcd, ${#staging[@]} staging modules) in $modfile" >&2

#!/usr/bin/env bash
# Builds the py-scheduler OCI image without Docker or a registry, from parts these machines
# reach: Debian bookworm packages (mmdebstrap), the locked wheels from the package index
# (requirements.lock, hashes checked) and the project's own wheel. umoci assembles the
# layers, skopeo writes the OCI archive and inspects it.
#
#   bash image/build.sh            -> dist/py-scheduler_<version>_<arch>.oci.tar
#   ARCH=arm64 bash image/build.sh    (a foreign ARCH needs qemu-user binfmt support)
#
# Layers: 1. the Debian base (python3.11 and its libraries, unpacked without maintainer
# scripts, pruned), cached under ~/.cache/py-scheduler/image keyed by the package list;
# 2. /opt/venv with the dependencies and the project. The result has the Dockerfile's
# layout: venv at /opt/venv, user 65532, exec-form entrypoint, the same labels.
# Needs root (mmdebstrap and chroot), and the Debian tools mmdebstrap, umoci, skopeo
# (`apt-get install mmdebstrap umoci skopeo`; `make image` installs them when missing).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

arch="${ARCH:-$(dpkg --print-architecture)}"
case "$arch" in
amd64) pyarch=x86_64 ;;
arm64) pyarch=aarch64 ;;
*)
	echo "image: unsupported ARCH $arch (amd64 or arm64)" >&2
	exit 2
	;;
esac
suite=bookworm
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
cache="${PY_SCHEDULER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/py-scheduler}/image"
python="${PYTHON:-.venv/bin/python}"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml)"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
[[ -z "$(git status --porcelain 2>/dev/null)" ]] || revision="$revision-dirty"
source_url="${SOURCE_URL:-https://github.com/py-scheduler/py-scheduler}"
# One timestamp for every file and the image's created time: the last commit's.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
out="${OUT:-dist/py-scheduler_${version}_${arch}.oci.tar}"

log() { echo "image: $*" >&2; }
for tool in mmdebstrap umoci skopeo dpkg-deb; do
	command -v "$tool" >/dev/null || {
		log "$tool missing: apt-get install mmdebstrap umoci skopeo"
		exit 2
	}
done
[[ $(id -u) == 0 ]] || {
	log "needs root (mmdebstrap and chroot)"
	exit 2
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
start=$SECONDS

# Deterministic tar: sorted, one owner and time, no access or change times.
# shellcheck disable=SC2054 # the commas belong to --pax-option
tar_flags=(--sort=name --numeric-owner --owner=0 --group=0 "--mtime=@$SOURCE_DATE_EPOCH"
	--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime)

# ---- layer 1: the Debian base ------------------------------------------------------

packages=$(sed -e 's/#.*//' -e '/^\s*$/d' "$here/debian-packages.txt" | tr '\n' ',' | sed 's/,$//')
key=$(cat "$here/debian-packages.txt" "$here/prune-base.sh" <(echo "$suite $arch unchecked-hash-bytecode") | sha256sum | cut -c1-16)
base="$cache/base-$suite-$arch-$key.tar"
if [[ ! -s $base ]]; then
	log "building the Debian base ($packages) for $arch"
	mkdir -p "$cache"
	rootfs="$work/base"
	# extract: the packages and their dependencies, unpacked; no maintainer scripts, no
	# Essential set. The .debs are kept long enough to record them in dpkg's status.
	mmdebstrap --quiet --variant=extract --architectures="$arch" --include="$packages" \
		--skip=cleanup/apt/cache --format=directory "$suite" "$rootfs" \
		"deb $mirror $suite main" "deb $mirror $suite-updates main" \
		"deb $security $suite-security main"
	bash "$here/prune-base.sh" "$rootfs"
	# Bytecode that is never checked against the sources' times: the tar below resets
	# every mtime, and the read-only root filesystem could not take a recompiled copy.
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$rootfs" /usr/bin/python3.11 -m compileall -q --invalidation-mode unchecked-hash \
		/usr/lib/python3.11 >/dev/null
	tar "${tar_flags[@]}" -C "$rootfs" -cf "$base.tmp" .
	mv "$base.tmp" "$base"
	find "$cache" -maxdepth 1 -name "base-$suite-$arch-*.tar" ! -name "$(basename "$base")" -delete
fi

# ---- layer 2: /opt/venv ------------------------------------------------------------

wheels="$cache/wheels-$arch"
mkdir -p "$wheels" "$work/dist"
platforms=(--platform "manylinux2014_$pyarch")
for minor in $(seq 36 -1 17); do platforms+=(--platform "manylinux_2_${minor}_$pyarch"); done
log "fetching the locked wheels for $arch (hashes checked)"
"$python" -m pip download --quiet --disable-pip-version-check --dest "$wheels" \
	--require-hashes --no-deps --only-binary=:all: "${platforms[@]}" \
	--python-version 3.11 --implementation cp --abi cp311 -r requirements.lock
log "building the project's wheel"
"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir "$work/dist" .

stage="$work/stage"
mkdir -p "$stage"
tar -C "$stage" -xf "$base"
mkdir -p "$stage/tmp/build/wheels" "$stage/tmp/build/pip"
cp requirements.lock "$stage/tmp/build/"
cp "$work"/dist/*.whl "$stage/tmp/build/"
# pip itself runs from the dev venv's copy (pinned in requirements-dev.lock); it does not
# stay in the image.
cp -r "$("$python" -c 'import os, pip; print(os.path.dirname(pip.__file__))')" "$stage/tmp/build/pip/"
# Only the wheels the lock names, so an old cached version cannot slip in.
"$python" - "$wheels" "$stage/tmp/build/wheels" <<'EOF'
import re, shutil, sys
from pathlib import Path
source, target = map(Path, sys.argv[1:])
lock = Path("requirements.lock").read_text()
for name, version in re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", lock, re.MULTILINE):
    stem = re.sub(r"[-_.]+", "_", name).lower()
    found = [w for w in source.glob("*.whl") if w.name.lower().startswith(f"{stem}-{version}-")]
    if not found:
        sys.exit(f"no wheel for {name}=={version} in {source}")
    for wheel in found:
        shutil.copy2(wheel, target)
EOF

log "installing into /opt/venv"
# A private mount namespace: /dev and /proc are visible to the chroot only, and vanish
# with it. The script's variables are its own, hence the single quotes.
# shellcheck disable=SC2016
unshare --mount --propagation private bash -euo pipefail -c '
	stage=$1
	mount --rbind /dev "$stage/dev"
	mount -t proc proc "$stage/proc"
	# A clean environment: nothing of the host (pip settings, paths) reaches the chroot.
	in_stage() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin PYTHONDONTWRITEBYTECODE=1 "$@"; }
	in_stage chroot "$stage" /usr/bin/python3.11 -m venv --without-pip /opt/venv
	pip() { in_stage PYTHONPATH=/tmp/build/pip chroot "$stage" /opt/venv/bin/python -m pip \
		--disable-pip-version-check --no-cache-dir --no-input "$@"; }
	pip install --quiet --no-compile --no-index --find-links /tmp/build/wheels --require-hashes \
		--no-deps -r /tmp/build/requirements.lock
	wheel=$(basename "$stage"/tmp/build/py_scheduler-*.whl)
	pip install --quiet --no-compile --no-index --no-deps "/tmp/build/$wheel"
	in_stage chroot "$stage" /opt/venv/bin/python -m compileall -q -f \
		--invalidation-mode unchecked-hash /opt/venv/lib/python3.11/site-packages >/dev/null
	in_stage chroot "$stage" /opt/venv/bin/python -c "import py_scheduler.app.main"
	umount -l "$stage/proc" "$stage/dev"
' _ "$stage"
rm -rf "$stage/tmp/build"
[[ $arch == "$(dpkg --print-architecture)" ]] || export STRIP="${STRIP:-$pyarch-linux-gnu-strip}"
bash "$here/prune-venv.sh" "$stage/opt/venv"
# The trimmed venv still runs: numpy computes, cryptography signs the serving
# certificate made when none is given, the CLI answers.
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin PYTHONDONTWRITEBYTECODE=1 chroot "$stage" /opt/venv/bin/python -c '
import numpy, py_scheduler.app.main
from py_scheduler.app import tls
assert numpy.arange(4).sum() == 6
assert tls.self_signed("127.0.0.1", days=1)[0].startswith(b"-----BEGIN CERTIFICATE-----")
'
tar "${tar_flags[@]}" -C "$stage" -cf "$work/venv.tar" opt

# ---- assemble ----------------------------------------------------------------------

log "assembling the image"
oci="$work/oci"
tag="$version"
created="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
umoci init --layout "$oci"
umoci new --image "$oci:$tag"
umoci raw add-layer --image "$oci:$tag" --history.created "$created" \
	--history.created_by "image/build.sh: Debian $suite base ($packages)" "$base"
umoci raw add-layer --image "$oci:$tag" --history.created "$created" \
	--history.created_by "image/build.sh: /opt/venv from requirements.lock and the project wheel" \
	"$work/venv.tar"
labels=()
while IFS='=' read -r name value; do
	labels+=(--config.label "$name=$value" --manifest.annotation "$name=$value")
done <<EOF
org.opencontainers.image.title=py-scheduler
org.opencontainers.image.description=A Kubernetes scheduler in Python with kube-scheduler's semantics and PDB-safe preemption
org.opencontainers.image.version=$version
org.opencontainers.image.revision=$revision
org.opencontainers.image.source=$source_url
org.opencontainers.image.licenses=Apache-2.0
org.opencontainers.image.created=$created
org.opencontainers.image.base.name=debian:$suite
EOF
# The same user, entrypoint, environment and port as the Dockerfile's final stage
# (tests/packaging/checks.py compares them).
umoci config --image "$oci:$tag" --no-history \
	--architecture "$arch" --os linux --created "$created" \
	--config.user 65532:65532 \
	--config.workingdir / \
	--config.env PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	--config.env PYTHONDONTWRITEBYTECODE=1 \
	--config.env PYTHONUNBUFFERED=1 \
	--config.env HOME=/tmp \
	--config.entrypoint /opt/venv/bin/python --config.entrypoint -m --config.entrypoint py_scheduler \
	--config.cmd run \
	--config.exposedports 10259/tcp \
	"${labels[@]}"
umoci gc --layout "$oci"

mkdir -p "$(dirname "$out")"
rm -f "$out"
skopeo copy --quiet "oci:$oci:$tag" "oci-archive:$out:$tag"
log "built $out in $((SECONDS - start)) s"
base_mb=$(($(stat -c %s "$base") / 1000000))
venv_mb=$(($(stat -c %s "$work/venv.tar") / 1000000))
skopeo inspect --raw "oci-archive:$out" |
	"$python" -c '
import json, sys
layers = json.load(sys.stdin)["layers"]
unpacked = [int(size) for size in sys.argv[1:]]
print("image: %d layers, %.1f MB compressed, %d MB unpacked"
      % (len(layers), sum(l["size"] for l in layers) / 1e6, sum(unpacked)))
for layer, size in zip(layers, unpacked):
    print("  %s  %6.1f MB compressed  %4d MB unpacked" % (layer["digest"][:19], layer["size"] / 1e6, size))
' "$base_mb" "$venv_mb" >&2
echo "$out"

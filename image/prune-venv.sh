#!/usr/bin/env bash
# Trims the image's virtual environment (image/build.sh's second layer) to what runs.
#
#   bash image/prune-venv.sh VENV
#
# Cut: the test suites packages ship (numpy's alone is ~20 MB), C headers, numpy's f2py
# and its launcher scripts, and any pip or setuptools. Kept: the bytecode pip compiled at
# install time, since the root filesystem is read-only and Python could not cache it then.
set -euo pipefail
venv=$1
site="$venv/lib/python3.11/site-packages"
[[ -d $site ]] || {
	echo "prune-venv: no $site" >&2
	exit 2
}
find "$site" -depth -type d -name tests \
	-path '*/numpy/*' -exec rm -rf {} +
rm -rf "$site"/numpy/f2py "$site"/numpy/_pyinstaller "$site"/numpy/_core/include \
	"$site"/numpy/_core/lib "$site"/pip "$site"/pip-* "$site"/setuptools* \
	"$site"/_distutils_hack "$site"/distutils-precedence.pth \
	"$venv"/bin/f2py "$venv"/bin/numpy-config "$venv"/include
# Packages' own test directories elsewhere (none of the others ship any today).
find "$site" -depth -mindepth 2 -maxdepth 2 -type d -name tests -exec rm -rf {} +
# Debug sections of the compiled extensions (mostly numpy's and cryptography's): only debuggers
# read them; --strip-debug keeps every symbol the loader needs. The libraries auditwheel
# vendored (*.libs/) are left alone: patchelf rewrote them, and strip breaks their segment
# alignment. A strip for a foreign architecture may be given as STRIP; without one those
# files stay as they are.
strip=${STRIP:-strip}
if command -v "$strip" >/dev/null; then
	find "$venv" -type f -name '*.so*' ! -path '*.libs/*' -print0 | xargs -0 -r "$strip" --strip-debug 2>/dev/null ||
		echo "prune-venv: $strip could not strip these files (another architecture?); kept" >&2
fi

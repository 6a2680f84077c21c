#!/usr/bin/env bash
# node-prep.sh: prepare a RHEL-family or Debian-family host for `kubeadm init` / `kubeadm join`.
#
# Kept as one self-contained file on purpose: it is meant to be curl'ed onto a node or pasted
# into cloud-init user-data. Every step is idempotent and reports "changed" or "unchanged";
# --dry-run prints every action without taking it, --check runs only the preflight checks.
# Usage and the list of steps: deploy/README.md, or `node-prep.sh --help`.
#
# Test hooks: every absolute path goes through p(), which puts $NODE_PREP_ROOT (default: empty,
# i.e. the real /) in front of it, and every external command is looked up on PATH. The test
# suite (tests/deploy/) runs the script against a scratch directory with stub commands.

set -Eeuo pipefail

PROG=node-prep
ROOT=${NODE_PREP_ROOT:-}
ROOT=${ROOT%/}

# Defaults. deploy/kubeadm/cluster-configuration.yaml repeats the CIDRs and the version, and a
# test checks that the two stay in step.
DEFAULT_K8S_VERSION=1.35
DEFAULT_IMAGE_REPOSITORY=registry.k8s.io
DEFAULT_POD_CIDR=10.244.0.0/16
DEFAULT_SERVICE_CIDR=10.96.0.0/12
MIN_MEM_MB=1700 # kubeadm's own preflight threshold (ControlPlaneMem)

# Files this script owns or edits (logical paths; use p() to reach them).
MODULES_CONF=/etc/modules-load.d/k8s.conf
# "k8s.conf" sorts after every numbered file in /etc/sysctl.d, so at boot these values win.
SYSCTL_CONF=/etc/sysctl.d/k8s.conf
FSTAB=/etc/fstab
SELINUX_CONF=/etc/selinux/config
ZRAM_GENERATOR_CONF=/etc/systemd/zram-generator.conf
CONTAINERD_CONFIG=/etc/containerd/config.toml
CONTAINERD_CERTS_D=/etc/containerd/certs.d
CONTAINERD_PROXY_DROPIN=/etc/systemd/system/containerd.service.d/http-proxy.conf
CRICTL_CONFIG=/etc/crictl.yaml
APT_KEYRINGS=/etc/apt/keyrings
APT_SOURCES=/etc/apt/sources.list
APT_SOURCES_D=/etc/apt/sources.list.d
K8S_APT_KEYRING=$APT_KEYRINGS/kubernetes-apt-keyring.gpg
K8S_APT_LIST=$APT_SOURCES_D/kubernetes.list
DOCKER_APT_KEYRING=$APT_KEYRINGS/docker.asc
DOCKER_APT_LIST=$APT_SOURCES_D/docker.list
YUM_REPOS_D=/etc/yum.repos.d
K8S_YUM_REPO=$YUM_REPOS_D/kubernetes.repo
DOCKER_YUM_REPO=$YUM_REPOS_D/docker-ce.repo
BACKUP_BASE=/var/backups/node-prep
CRI_SOCKET=unix:///run/containerd/containerd.sock

# Options.
K8S_VERSION=$DEFAULT_K8S_VERSION
K8S_MINOR=
K8S_PATCH=
IMAGE_REPOSITORY=$DEFAULT_IMAGE_REPOSITORY
REGISTRY_MIRRORS=()
ROLE=control-plane
POD_CIDR=$DEFAULT_POD_CIDR
SERVICE_CIDR=$DEFAULT_SERVICE_CIDR
PROXY_URL=
NO_PROXY_EXTRA=
CONTAINERD_SOURCE=auto
PULL_IMAGES=0
MANAGE_FIREWALL=1
DRY_RUN=0
CHECK_ONLY=0
ASSUME_YES=0

# Detected host facts.
OS_ID=
OS_ID_LIKE=
OS_VERSION_ID=
OS_NAME=
OS_CODENAME=
FAMILY=
PKG=
NODE_HOSTNAME=unknown

# Run state.
N_CHANGED=0
N_UNCHANGED=0
N_PROBLEMS=0
FILE_CHANGED=0
BACKUPS_MADE=0
APT_STALE=1
CURRENT_STEP=
WORK=
TMP_FILES=()
RUN_ID=

# ---------------------------------------------------------------------------------------------
# Output and error handling

info() { printf '    %s\n' "$*"; }
warn() { printf '    warning: %s\n' "$*" >&2; }
step() {
	CURRENT_STEP=$1
	printf '\n==> %s\n' "$1"
}

die() {
	local code=1
	if [[ $1 =~ ^[0-9]+$ ]]; then
		code=$1
		shift
	fi
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	if [[ -n $CURRENT_STEP && $CURRENT_STEP != preflight ]]; then
		printf '%s: step "%s" failed; fix the cause and run again (finished steps will report unchanged).\n' "$PROG" "$CURRENT_STEP" >&2
		printf '%s: files are replaced atomically, so none is left half-written.\n' "$PROG" >&2
		if ((BACKUPS_MADE)); then
			printf '%s: originals of the files changed so far: %s/%s\n' "$PROG" "$BACKUP_BASE" "$RUN_ID" >&2
		fi
	fi
	exit "$code"
}

on_error() {
	local rc=$? line=$1 cmd=$2
	printf '%s: error: unexpected failure (exit %s) at line %s: %s\n' "$PROG" "$rc" "$line" "$cmd" >&2
	exit "$rc"
}

cleanup() {
	local f
	for f in "${TMP_FILES[@]}"; do
		if [[ -e $f ]]; then rm -f -- "$f"; fi
	done
	if [[ -n $WORK && -d $WORK ]]; then rm -rf -- "$WORK"; fi
}

# report changed|unchanged <what>: the one place that says whether a step changed the node.
report() {
	local state=$1
	shift
	case $state in
	changed)
		N_CHANGED=$((N_CHANGED + 1))
		if ((DRY_RUN)); then
			printf '    [would change] %s\n' "$*"
		else
			printf '    [changed] %s\n' "$*"
		fi
		;;
	unchanged)
		N_UNCHANGED=$((N_UNCHANGED + 1))
		printf '    [unchanged] %s\n' "$*"
		;;
	*) die "internal: report() got '$state'" ;;
	esac
}

check_ok() { printf '    ok    %s\n' "$*"; }
check_fail() {
	N_PROBLEMS=$((N_PROBLEMS + 1))
	printf '    FAIL  %s\n' "$*"
}
check_info() { printf '    info  %s\n' "$*"; }

quote_cmd() {
	local out='' a
	for a in "$@"; do
		printf -v a '%q' "$a"
		out+=" $a"
	done
	printf '%s' "${out# }"
}

# run: every command that changes the node goes through here, so --dry-run can print it instead.
run() {
	if ((DRY_RUN)); then
		info "would run: $(quote_cmd "$@")"
		return 0
	fi
	info "+ $(quote_cmd "$@")"
	local rc=0
	"$@" || rc=$?
	((rc == 0)) || die "command failed (exit $rc): $(quote_cmd "$@")"
}

# try_run: like run, but the caller decides what a failure means.
try_run() {
	if ((DRY_RUN)); then
		info "would run: $(quote_cmd "$@")"
		return 0
	fi
	info "+ $(quote_cmd "$@")"
	"$@"
}

# ---------------------------------------------------------------------------------------------
# Paths and files

p() { printf '%s%s' "$ROOT" "$1"; }

read_value() {
	local f line=''
	f=$(p "$1")
	[[ -r $f ]] || return 1
	IFS= read -r line <"$f" || [[ -n $line ]] || return 1
	printf '%s' "$line"
}

work_file() { mktemp "$WORK/f.XXXXXX"; }

same_content() {
	[[ -f $2 ]] || return 1
	if command -v cmp >/dev/null 2>&1; then
		cmp -s -- "$1" "$2"
	else
		[[ $(sha256sum <"$1") == "$(sha256sum <"$2")" ]]
	fi
}

# Where a write to <logical path> really lands. A symlink is followed, but never out of the
# test root: a stray absolute link must not let a sandboxed run touch the real /etc.
write_target() {
	local real
	real=$(p "$1")
	if [[ -L $real ]]; then
		real=$(readlink -f -- "$real")
		if [[ -n $ROOT && $real != "$ROOT"/* ]]; then
			die "$1 is a symlink that leads outside $ROOT"
		fi
	fi
	printf '%s' "$real"
}

# Keep the first original of every file this run replaces or removes.
backup() {
	local path=$1 real=$2 dest
	dest=$(p "$BACKUP_BASE/$RUN_ID$path")
	[[ -e $dest ]] && return 0
	mkdir -p -- "${dest%/*}"
	cp -a -- "$real" "$dest"
	BACKUPS_MADE=1
	info "backup: $path -> $BACKUP_BASE/$RUN_ID$path"
}

# Readers of these files (containerd, apt, systemd) must never see half a file, so the new
# content goes to a temp file in the same directory and is renamed over the old one.
install_atomically() {
	local src=$1 path=$2 mode=$3 real dir tmp
	real=$(write_target "$path")
	dir=${real%/*}
	[[ -d $dir ]] || mkdir -p -- "$dir"
	if [[ -e $real ]]; then
		backup "$path" "$real"
		mode=$(stat -c '%a' -- "$real")
	fi
	tmp=$(mktemp "$dir/.node-prep.XXXXXX")
	TMP_FILES+=("$tmp")
	cat -- "$src" >"$tmp"
	chmod "$mode" -- "$tmp"
	mv -f -- "$tmp" "$real"
}

show_diff() {
	local old=$1 new=$2 label=$3
	[[ -e $old ]] || old=/dev/null
	if command -v diff >/dev/null 2>&1; then
		{ diff -u --label "$label" --label "$label (new)" -- "$old" "$new" || true; } |
			awk 'NR <= 120 { print "      " $0 } END { if (NR > 120) print "      ... (" NR - 120 " more diff lines)" }'
	else
		info "new content of $label:"
		sed 's/^/      /' -- "$new"
	fi
}

# ensure_file_from <src> <path> <mode> <what>: make <path> hold exactly the bytes of <src>.
# Sets FILE_CHANGED so callers can restart or reload whatever reads the file.
ensure_file_from() {
	local src=$1 path=$2 mode=$3 what=$4 real
	FILE_CHANGED=0
	real=$(p "$path")
	if [[ -f $real ]] && same_content "$src" "$real"; then
		report unchanged "$what ($path)"
		return 0
	fi
	FILE_CHANGED=1
	if ((DRY_RUN)); then
		show_diff "$real" "$src" "$path"
	else
		install_atomically "$src" "$path" "$mode"
	fi
	report changed "$what ($path)"
}

# ensure_file <path> <mode> <what>, content on stdin.
ensure_file() {
	local tmp
	tmp=$(work_file)
	cat >"$tmp"
	ensure_file_from "$tmp" "$@"
}

remove_file() {
	local path=$1 what=$2 real
	real=$(p "$path")
	[[ -e $real || -L $real ]] || return 0
	if ((!DRY_RUN)); then
		backup "$path" "$real"
		rm -f -- "$real"
	fi
	report changed "$what removed ($path)"
}

ensure_dir() {
	local path=$1 mode=$2
	[[ -d $(p "$path") ]] && return 0
	if ((DRY_RUN)); then
		info "would create directory $path"
	else
		mkdir -p -- "$(p "$path")"
		chmod "$mode" -- "$(p "$path")"
	fi
}

# ---------------------------------------------------------------------------------------------
# Small TOML editor for containerd's config.toml: table headers are matched after removing
# blanks and treating ' and " alike, because containerd 2.x writes single-quoted names and
# hand-written files often use double quotes.

# shellcheck disable=SC2016 # awk code, not shell
AWK_TOML_LIB='
function norm(s) { gsub(/[[:space:]]/, "", s); gsub(/\047/, "\"", s); return s }
function is_header(s) { return s ~ /^[[:space:]]*\[\[?[[:space:]]*[A-Za-z_]/ }
function header_name(s,  t) {
	t = s; sub(/^[[:space:]]*\[\[?/, "", t); sub(/\]\]?[[:space:]]*(#.*)?$/, "", t); return norm(t)
}
function trim(v) { sub(/^[[:space:]]+/, "", v); sub(/[[:space:]]+$/, "", v); return v }
function unquote(v) {
	v = trim(v)
	if (v ~ /^".*"$/ || v ~ /^\047.*\047$/) v = substr(v, 2, length(v) - 2)
	return v
}
function value_of(s,  t) { t = s; sub(/^[^=]*=/, "", t); sub(/[[:space:]]+#[^"\047]*$/, "", t); return unquote(t) }
function key_re(k) { return "^[[:space:]]*" k "[[:space:]]*=" }
'

# toml_set <file> <table> <key> <value>: set key = value (value already TOML-quoted) in [table],
# adding the key or the whole table when missing; everything else is kept byte for byte.
toml_set() {
	local file=$1 out
	out=$(work_file)
	awk -v table="$2" -v key="$3" -v value="$4" "$AWK_TOML_LIB"'
		{ line[NR] = $0 }
		END {
			want = norm(table); start = 0; stop = NR + 1; at = 0
			for (i = 1; i <= NR; i++) if (is_header(line[i])) {
				if (start) { stop = i; break }
				if (header_name(line[i]) == want) start = i
			}
			if (start) for (i = start + 1; i < stop; i++) if (line[i] ~ key_re(key)) { at = i; break }
			for (i = 1; i <= NR; i++) {
				if (i == at) {
					if (value_of(line[i]) == unquote(value)) print line[i]
					else { match(line[i], /^[[:space:]]*/); print substr(line[i], 1, RLENGTH) key " = " value }
					continue
				}
				print line[i]
				if (i == start && !at) { match(line[i], /^[[:space:]]*/); print substr(line[i], 1, RLENGTH) "  " key " = " value }
			}
			if (!start) { print ""; print "[" table "]"; print "  " key " = " value }
		}' "$file" >"$out"
	mv -f -- "$out" "$file"
}

# toml_get <file> <table> <key>: print the unquoted value, or nothing.
toml_get() {
	awk -v table="$2" -v key="$3" "$AWK_TOML_LIB"'
		BEGIN { want = norm(table) }
		is_header($0) { inside = (header_name($0) == want); next }
		inside && $0 ~ key_re(key) { print value_of($0); exit }' "$1"
}

# toml_version <file>: the top-level "version = N" (config layout), or nothing.
toml_version() {
	awk "$AWK_TOML_LIB"'
		is_header($0) { exit }
		/^[[:space:]]*version[[:space:]]*=/ { v = $0; sub(/^[^=]*=[[:space:]]*/, "", v); sub(/[^0-9].*$/, "", v); print v; exit }' "$1"
}

toml_has_table_prefix() {
	awk -v prefix="$2" "$AWK_TOML_LIB"'
		BEGIN { want = norm(prefix); found = 0 }
		is_header($0) && index(header_name($0), want) == 1 { found = 1; exit }
		END { exit !found }' "$1"
}

# Docker's containerd.io package ships disabled_plugins = ["cri"], and kubelet then fails with
# "unknown service runtime.v1.RuntimeService". Drop the CRI ids from a one-line list.
toml_enable_cri() {
	local file=$1 out
	out=$(work_file)
	awk "$AWK_TOML_LIB"'
		BEGIN { top = 1 }
		is_header($0) { top = 0 }
		top && /^[[:space:]]*disabled_plugins[[:space:]]*=[[:space:]]*\[.*\]/ {
			pre = $0; sub(/\[.*/, "", pre)
			inner = $0; sub(/^[^\[]*\[/, "", inner); sub(/\][^\]]*$/, "", inner)
			n = split(inner, items, ","); out = ""; drop = 0
			for (i = 1; i <= n; i++) {
				v = unquote(items[i])
				if (v == "") continue
				if (v == "cri" || v ~ /^io\.containerd\.(grpc\.v1\.cri|cri\.v1\.)/) { drop = 1; continue }
				out = out (out == "" ? "" : ", ") trim(items[i])
			}
			if (drop) { print pre "[" out "]"; next }
		}
		{ print }' "$file" >"$out"
	mv -f -- "$out" "$file"
}

# ---------------------------------------------------------------------------------------------
# Packages

pkg_installed() {
	case $FAMILY in
	debian)
		# shellcheck disable=SC2016 # dpkg-query format, not a shell expansion
		[[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
		;;
	rhel) rpm -q --whatprovides "$1" >/dev/null 2>&1 ;;
	esac
}

# Upstream version of an installed package (1.35.4 for 1.35.4-1.1), or nothing.
pkg_version() {
	local v=''
	case $FAMILY in
	debian)
		pkg_installed "$1" || return 0
		# shellcheck disable=SC2016 # dpkg-query format, not a shell expansion
		v=$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true)
		;;
	rhel) v=$(rpm -q --qf '%{VERSION}' "$1" 2>/dev/null || true) ;;
	esac
	[[ $v =~ ^([0-9]+:)?([0-9][0-9.]*) ]] && printf '%s' "${BASH_REMATCH[2]}"
	return 0
}

apt_update_if_needed() {
	if ((APT_STALE)); then
		run apt-get update -q
		APT_STALE=0
	fi
}

pkg_install() {
	case $FAMILY in
	debian)
		apt_update_if_needed
		# Keep the node's own config files if a package ships a new version of one.
		run apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
		;;
	rhel) run "$PKG" install -y "$@" ;;
	esac
}

# The kubernetes repo file excludes the kube packages so `dnf upgrade` never moves them; installs
# lift the exclude for that one repo. DNF5 dropped --disableexcludes in favour of a setopt.
dnf_disable_excludes_opt() {
	if [[ $PKG == dnf ]] && dnf --version 2>/dev/null | awk 'NR == 1 && /dnf5/ { found = 1 } END { exit !found }'; then
		printf '%s' '--setopt=disable_excludes=kubernetes'
	else
		printf '%s' '--disableexcludes=kubernetes'
	fi
}

# ---------------------------------------------------------------------------------------------
# Argument parsing

usage() {
	cat <<EOF
Usage: node-prep.sh [options]

Prepare this host for kubeadm: kernel modules, sysctls, swap, SELinux, firewall ports,
containerd (CRI on, systemd cgroups, kubeadm's pause image, registry mirrors), the
pkgs.k8s.io repository with kubeadm/kubelet/kubectl pinned and held, and kubelet enabled.
Every step is idempotent and reports [changed] or [unchanged].

Options:
  --k8s-version V         Kubernetes minor (1.35) or exact patch (1.35.4) to install.
                          Default: $DEFAULT_K8S_VERSION (latest patch of that minor).
  --role R                control-plane or worker; decides the ports and CPU minimum
                          checked and the firewall ports opened. Default: control-plane.
  --image-repository R    Repository for the control-plane images and the pause (sandbox)
                          image, e.g. a mirror of registry.k8s.io. Default: $DEFAULT_IMAGE_REPOSITORY.
  --registry-mirror [REG=]URL
                          Pull REG's images through URL (repeatable; REG defaults to
                          registry.k8s.io). Written to $CONTAINERD_CERTS_D/REG/hosts.toml
                          and enabled in containerd with config_path, so it applies to every
                          pull, not only to the pre-pull.
  --pod-cidr CIDR         Pod network CIDR, for NO_PROXY and checks. Default: $DEFAULT_POD_CIDR.
  --service-cidr CIDR     Service CIDR, for NO_PROXY and checks. Default: $DEFAULT_SERVICE_CIDR.
                          An IPv6 CIDR in either also turns on net.ipv6.conf.all.forwarding.
  --proxy URL             HTTP(S) proxy for package downloads and for containerd (systemd
                          drop-in); NO_PROXY then covers localhost, both CIDRs and .svc names.
  --no-proxy LIST         Extra comma-separated NO_PROXY entries (e.g. the API endpoint).
  --containerd-source S   auto, distro or docker. auto: Docker's repository on RHEL-family
                          hosts (they ship no containerd), the distro package on Debian/Ubuntu.
  --pull-images           Pre-pull the images (control-plane: kubeadm config images pull;
                          worker: pause and kube-proxy).
  --no-firewall           Leave firewalld alone (by default its ports are opened if it runs).
  --dry-run               Print every action and change nothing.
  --check                 Run the preflight checks only; exit 1 if one fails.
  --yes, -y               Do not ask for confirmation (needed when stdin is not a terminal).
  --help, -h              Show this help.

Environment:
  NODE_PREP_ROOT          Treat this directory as / (used by the tests). Default: the real /.

Exit status: 0 success; 1 a step failed or --check found a problem; 2 bad usage;
3 unsupported host (distribution, not root, no systemd).
EOF
}

usage_error() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	printf "Try 'node-prep.sh --help'.\n" >&2
	exit 2
}

parse_args() {
	local opt val
	while (($#)); do
		opt=$1
		val=
		case $opt in
		--*=*)
			val=${opt#*=}
			opt=${opt%%=*}
			;;
		esac
		case $opt in
		--k8s-version | --image-repository | --registry-mirror | --role | --pod-cidr | --service-cidr | \
			--proxy | --no-proxy | --containerd-source)
			if [[ $1 != *=* ]]; then
				(($# >= 2)) || usage_error "$opt needs a value"
				val=$2
				shift
			fi
			;;
		esac
		case $opt in
		--k8s-version) K8S_VERSION=$val ;;
		--image-repository) IMAGE_REPOSITORY=${val%/} ;;
		--registry-mirror) REGISTRY_MIRRORS+=("$val") ;;
		--role) ROLE=$val ;;
		--pod-cidr) POD_CIDR=$val ;;
		--service-cidr) SERVICE_CIDR=$val ;;
		--proxy) PROXY_URL=$val ;;
		--no-proxy) NO_PROXY_EXTRA=$val ;;
		--containerd-source) CONTAINERD_SOURCE=$val ;;
		--pull-images) PULL_IMAGES=1 ;;
		--no-firewall) MANAGE_FIREWALL=0 ;;
		--dry-run) DRY_RUN=1 ;;
		--check) CHECK_ONLY=1 ;;
		--yes | -y) ASSUME_YES=1 ;;
		--help | -h)
			usage
			exit 0
			;;
		*) usage_error "unknown option: $1" ;;
		esac
		shift
	done

	if [[ $K8S_VERSION =~ ^v?(1\.([0-9]+))(\.([0-9]+))?$ ]]; then
		K8S_MINOR=${BASH_REMATCH[1]}
		K8S_PATCH=
		[[ -z ${BASH_REMATCH[3]} ]] || K8S_PATCH=$K8S_MINOR${BASH_REMATCH[3]}
		# pkgs.k8s.io starts at v1.24.
		((BASH_REMATCH[2] >= 24)) || usage_error "--k8s-version $K8S_VERSION: pkgs.k8s.io only has v1.24 and later"
	else
		usage_error "--k8s-version must look like 1.35 or 1.35.4, got '$K8S_VERSION'"
	fi
	case $ROLE in control-plane | worker) ;; *) usage_error "--role must be control-plane or worker, got '$ROLE'" ;; esac
	case $CONTAINERD_SOURCE in auto | distro | docker) ;; *) usage_error "--containerd-source must be auto, distro or docker" ;; esac
	local cidr
	for cidr in ${POD_CIDR//,/ } ${SERVICE_CIDR//,/ }; do
		[[ $cidr =~ ^[0-9a-fA-F.:]+/[0-9]+$ ]] || usage_error "not a CIDR: '$cidr'"
	done
	[[ -n $IMAGE_REPOSITORY && $IMAGE_REPOSITORY != *[[:space:]]* ]] || usage_error "--image-repository is empty or has blanks"
	local m
	for m in "${REGISTRY_MIRRORS[@]}"; do
		mirror_registry "$m" >/dev/null || usage_error "--registry-mirror must be [REGISTRY=]URL, got '$m'"
	done
	if ((DRY_RUN && CHECK_ONLY)); then usage_error "--dry-run and --check do not go together"; fi
	return 0
}

# --registry-mirror [REG=]URL helpers.
mirror_registry() {
	local spec=$1 reg=registry.k8s.io
	[[ $spec == *=* ]] && reg=${spec%%=*}
	[[ $reg =~ ^[A-Za-z0-9.-]+(:[0-9]+)?$ ]] || return 1
	[[ -n $(mirror_url "$spec") ]] || return 1
	printf '%s' "$reg"
}

mirror_url() {
	local url=$1
	[[ $url == *=* ]] && url=${url#*=}
	[[ -n $url && $url != *[[:space:]\"]* ]] || return 0
	[[ $url == http://* || $url == https://* ]] || url=https://$url
	printf '%s' "${url%/}"
}

# ---------------------------------------------------------------------------------------------
# Preflight

os_field() {
	awk -F= -v k="$2" '$1 == k { v = substr($0, length(k) + 2); gsub(/^["\047]|["\047]$/, "", v); print v; exit }' "$1"
}

detect_distro() {
	local f major
	f=$(p /etc/os-release)
	[[ -r $f ]] || f=$(p /usr/lib/os-release)
	[[ -r $f ]] || die 3 "cannot read /etc/os-release; supported: RHEL, CentOS Stream, Rocky Linux, AlmaLinux, Debian, Ubuntu"
	OS_ID=$(os_field "$f" ID)
	OS_ID_LIKE=$(os_field "$f" ID_LIKE)
	OS_VERSION_ID=$(os_field "$f" VERSION_ID)
	OS_NAME=$(os_field "$f" PRETTY_NAME)
	OS_CODENAME=$(os_field "$f" VERSION_CODENAME)
	[[ -n $OS_CODENAME ]] || OS_CODENAME=$(os_field "$f" UBUNTU_CODENAME)
	[[ -n $OS_NAME ]] || OS_NAME="$OS_ID $OS_VERSION_ID"

	case $OS_ID in
	rhel | centos | rocky | almalinux) FAMILY=rhel ;;
	debian | ubuntu) FAMILY=debian ;;
	*)
		if [[ " $OS_ID_LIKE " == *" rhel "* ]]; then
			FAMILY=rhel
		elif [[ " $OS_ID_LIKE " == *" debian "* || " $OS_ID_LIKE " == *" ubuntu "* ]]; then
			FAMILY=debian
		fi
		;;
	esac
	[[ -n $FAMILY ]] || die 3 "unsupported distribution: $OS_NAME (ID=$OS_ID). Supported: RHEL, CentOS Stream, Rocky Linux, AlmaLinux (dnf/yum) and Debian, Ubuntu (apt)."

	major=${OS_VERSION_ID%%.*}
	if [[ $major =~ ^[0-9]+$ ]]; then
		case $OS_ID in
		rhel | centos | rocky | almalinux) ((major >= 8)) || die 3 "unsupported release: $OS_NAME (need 8 or later)" ;;
		debian) ((major >= 11)) || die 3 "unsupported release: $OS_NAME (need Debian 11 or later)" ;;
		ubuntu) ((major >= 20)) || die 3 "unsupported release: $OS_NAME (need Ubuntu 20.04 or later)" ;;
		esac
	fi

	if [[ $FAMILY == rhel ]]; then
		if command -v dnf >/dev/null 2>&1; then
			PKG=dnf
		elif command -v yum >/dev/null 2>&1; then
			PKG=yum
		else
			die 3 "$OS_NAME has neither dnf nor yum on PATH"
		fi
	else
		command -v apt-get >/dev/null 2>&1 || die 3 "$OS_NAME has no apt-get on PATH"
		PKG=apt-get
	fi
	check_ok "distribution: $OS_NAME ($PKG)"
}

check_root() {
	local uid
	uid=$(id -u)
	if [[ $uid == 0 ]]; then
		check_ok "running as root"
	elif ((CHECK_ONLY)); then
		check_fail "not running as root (uid $uid); kubeadm needs root"
	elif ((DRY_RUN)); then
		warn "not running as root (uid $uid): some values below may be unreadable"
	else
		die 3 "must run as root (uid $uid); try again with sudo"
	fi
}

check_systemd() {
	if [[ -d $(p /run/systemd/system) ]]; then
		check_ok "systemd is the init system"
	elif ((CHECK_ONLY || DRY_RUN)); then
		check_fail "systemd is not running (no /run/systemd/system); kubelet and containerd need it"
	else
		die 3 "systemd is not running (no /run/systemd/system); kubelet and containerd need it"
	fi
}

# kubeadm refuses duplicate node names, and cloned VMs that share a MAC or product_uuid break
# networking in ways that are hard to trace; print them so they can be compared across nodes.
report_identity() {
	local uuid dir name addr macs='' nics=0
	NODE_HOSTNAME=$(read_value /proc/sys/kernel/hostname) || NODE_HOSTNAME=$(hostname 2>/dev/null) || NODE_HOSTNAME=unknown
	uuid=$(read_value /sys/class/dmi/id/product_uuid 2>/dev/null) || uuid=unreadable
	for dir in "$(p /sys/class/net)"/*; do
		[[ -r $dir/address ]] || continue
		name=${dir##*/}
		[[ $name == lo ]] && continue
		addr=$(<"$dir/address")
		[[ -z $addr || $addr == 00:00:00:00:00:00 ]] && continue
		macs+="${macs:+,}$name=$addr"
		[[ -e $dir/device ]] && nics=$((nics + 1))
	done
	check_info "node identity (must differ on every node): hostname=$NODE_HOSTNAME product_uuid=$uuid mac=${macs:-none}"
	if ((nics > 1)); then
		check_info "$nics network interfaces: if the cluster network is not on the default route, add a route for it"
	fi

	if [[ $NODE_HOSTNAME == localhost || $NODE_HOSTNAME == localhost.* ]]; then
		check_fail "hostname is '$NODE_HOSTNAME'; give every node its own name (hostnamectl set-hostname)"
	elif [[ ${#NODE_HOSTNAME} -le 253 && $NODE_HOSTNAME =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ ]]; then
		check_ok "hostname '$NODE_HOSTNAME' is a valid node name"
	else
		check_fail "hostname '$NODE_HOSTNAME' is not a valid node name (lower-case RFC 1123: a-z, 0-9, '-', '.')"
	fi
}

check_resources() {
	local cpus mem_kb mem_mb min_cpus=1
	[[ $ROLE == control-plane ]] && min_cpus=2
	cpus=$(nproc 2>/dev/null || echo 0)
	if ((cpus >= min_cpus)); then
		check_ok "$cpus CPU(s) (a $ROLE needs $min_cpus)"
	else
		check_fail "$cpus CPU(s); a $ROLE needs at least $min_cpus (kubeadm preflight NumCPU)"
	fi
	mem_kb=$(awk '/^MemTotal:/ { print $2; exit }' "$(p /proc/meminfo)" 2>/dev/null || true)
	mem_mb=$((${mem_kb:-0} / 1024))
	if ((mem_mb >= MIN_MEM_MB)); then
		check_ok "memory ${mem_mb} MiB (need $MIN_MEM_MB)"
	else
		check_fail "memory ${mem_mb} MiB; kubeadm needs at least $MIN_MEM_MB MiB (preflight Mem)"
	fi
}

role_ports() {
	if [[ $ROLE == control-plane ]]; then
		echo 6443 2379 2380 10250 10257 10259
	else
		echo 10250 10256
	fi
}

check_ports() {
	local listening port busy=0
	if ! command -v ss >/dev/null 2>&1; then
		check_info "ss not found; cannot check that the Kubernetes ports are free"
		return 0
	fi
	listening=" $(ss -Hltn 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u | tr '\n' ' ') "
	for port in $(role_ports); do
		if [[ $listening == *" $port "* ]]; then
			check_fail "port $port/tcp is already in use (kubeadm preflight Port-$port)"
			busy=1
		fi
	done
	((busy)) || check_ok "ports $(role_ports | tr ' ' ',') are free"
}

no_proxy_list() {
	local list="localhost,127.0.0.1,::1,$POD_CIDR,$SERVICE_CIDR,.svc,.svc.cluster.local,.cluster.local"
	[[ -z $NO_PROXY_EXTRA ]] || list+=",$NO_PROXY_EXTRA"
	printf '%s' "$list"
}

# kubeadm's HTTPProxyCIDRCheck only warns, but a proxied service or pod CIDR breaks the cluster.
check_proxy_env() {
	local proxy=${HTTPS_PROXY:-${https_proxy:-${HTTP_PROXY:-${http_proxy:-}}}}
	local np=${NO_PROXY:-${no_proxy:-}} cidr missing=''
	if [[ -n $PROXY_URL ]]; then
		proxy=$PROXY_URL
		np=$(no_proxy_list)
	fi
	if [[ -z $proxy ]]; then
		check_ok "no HTTP(S) proxy configured"
		return 0
	fi
	for cidr in ${POD_CIDR//,/ } ${SERVICE_CIDR//,/ }; do
		[[ ",${np// /}," == *",$cidr,"* ]] || missing+=" $cidr"
	done
	if [[ -n $missing ]]; then
		warn "a proxy is set but NO_PROXY lacks:$missing; before kubeadm init/join run: export NO_PROXY=\"$(no_proxy_list)\" (or pass --proxy to this script)"
	else
		check_ok "NO_PROXY covers the pod and service CIDRs"
	fi
}

check_swap_info() {
	local n
	n=$(awk 'NR > 1 && NF' "$(p /proc/swaps)" 2>/dev/null | wc -l)
	if ((n > 0)); then
		check_info "$n swap device(s) active (turned off by the swap step)"
	else
		check_ok "no active swap"
	fi
}

preflight() {
	step preflight
	check_root
	detect_distro
	check_systemd
	report_identity
	check_resources
	check_ports
	check_swap_info
	check_proxy_env
}

# ---------------------------------------------------------------------------------------------
# Steps

step_kernel_modules() {
	step "kernel modules"
	ensure_file "$MODULES_CONF" 0644 "modules loaded at boot" <<'EOF'
# Written by node-prep.sh. overlay: containerd's default snapshotter.
# br_netfilter: lets iptables see bridged pod traffic; the bridge-nf-call sysctls
# only exist while it is loaded, so it must load at boot, before systemd-sysctl.
overlay
br_netfilter
EOF
	local m
	for m in overlay br_netfilter; do
		if [[ -d $(p "/sys/module/$m") ]]; then
			report unchanged "module $m is loaded"
		else
			run modprobe "$m"
			report changed "module $m loaded"
		fi
	done
}

sysctl_keys() {
	echo net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
	if [[ $POD_CIDR == *:* || $SERVICE_CIDR == *:* ]]; then echo net.ipv6.conf.all.forwarding; fi
}

step_sysctl() {
	step "sysctl"
	local key keys cur stale='' conf
	keys=$(sysctl_keys)
	conf=$(work_file)
	{
		echo "# Written by node-prep.sh: packet forwarding and bridge filtering for Kubernetes networking."
		for key in $keys; do echo "$key = 1"; done
	} >"$conf"
	ensure_file_from "$conf" "$SYSCTL_CONF" 0644 "kernel parameters persisted"
	for key in $keys; do
		cur=$(read_value "/proc/sys/${key//.//}" 2>/dev/null || echo missing)
		[[ $cur == 1 ]] || stale+=" $key=$cur"
	done
	if [[ -z $stale ]]; then
		report unchanged "kernel parameters active ($(echo "$keys" | tr '\n' ' ' | sed 's/ $//') = 1)"
		return 0
	fi
	info "not yet active:$stale"
	run sysctl -q -p "$(p "$SYSCTL_CONF")"
	if ((!DRY_RUN)); then
		for key in $keys; do
			cur=$(read_value "/proc/sys/${key//.//}" 2>/dev/null || echo missing)
			[[ $cur == 1 ]] || die "$key is still $cur after sysctl -p (is br_netfilter loaded?)"
		done
	fi
	report changed "kernel parameters applied now"
}

step_swap() {
	step "swap"
	local active zram_active=0 fstab tmp units u state
	active=$(awk 'NR > 1 && NF' "$(p /proc/swaps)" 2>/dev/null || true)
	[[ $active == *"/dev/zram"* ]] && zram_active=1
	if [[ -n $active ]]; then
		run swapoff -a
		report changed "swap turned off ($(printf '%s\n' "$active" | awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//'))"
	else
		report unchanged "no active swap"
	fi

	# Swap comes back at boot unless every source is switched off: fstab, swap units and zram.
	fstab=$(p "$FSTAB")
	if [[ -f $fstab ]]; then
		tmp=$(work_file)
		awk '
			/^[[:space:]]*#/ || NF < 3 { print; next }
			$3 == "swap" { print "# disabled by node-prep.sh (kubelet needs swap off): " $0; next }
			{ print }' "$fstab" >"$tmp"
		ensure_file_from "$tmp" "$FSTAB" 0644 "swap entries commented out"
		if ((FILE_CHANGED)); then run systemctl daemon-reload; fi
	fi

	units=$({
		systemctl list-units --type=swap --all --no-legend --plain 2>/dev/null || true
		systemctl list-unit-files --type=swap --no-legend 2>/dev/null || true
	} | awk '$1 ~ /\.swap$/ { print $1 }' | sort -u)
	if [[ -z $units ]]; then
		report unchanged "no systemd swap units"
	fi
	for u in $units; do
		state=$(systemctl is-enabled "$u" 2>/dev/null || true)
		if [[ $state == masked ]]; then
			report unchanged "swap unit $u is masked"
		else
			run systemctl mask "$u"
			report changed "swap unit $u masked"
		fi
	done

	local zram=0
	if ((zram_active)) || [[ -e $(p /usr/lib/systemd/zram-generator.conf) || -e $(p /usr/lib/systemd/system-generators/zram-generator) || -s $(p "$ZRAM_GENERATOR_CONF") ]]; then
		zram=1
		# An /etc/systemd/zram-generator.conf with no [zramN] sections overrides the vendor
		# file and makes zram-generator create no swap device.
		ensure_file "$ZRAM_GENERATOR_CONF" 0644 "zram swap disabled" <<'EOF'
# Written by node-prep.sh: no [zramN] sections, so zram-generator creates no zram swap.
EOF
	fi
	state=$(systemctl is-enabled zram-config.service 2>/dev/null || true)
	if [[ $state == enabled || $state == enabled-runtime ]]; then
		zram=1
		run systemctl mask zram-config.service
		report changed "zram-config.service masked"
	fi
	((zram)) || report unchanged "no zram swap configured"
}

step_selinux() {
	step "SELinux"
	local mode conf tmp
	if ! command -v getenforce >/dev/null 2>&1; then
		report unchanged "SELinux tools not installed; nothing to do"
		return 0
	fi
	mode=$(getenforce 2>/dev/null || echo unknown)
	if [[ $mode == Enforcing ]]; then
		run setenforce 0
		report changed "SELinux switched to permissive now"
	else
		report unchanged "SELinux is $mode now"
	fi
	conf=$(p "$SELINUX_CONF")
	[[ -f $conf ]] || return 0
	tmp=$(work_file)
	# Only the SELINUX= key, only when it says enforcing; "disabled" stays disabled (going
	# from disabled to permissive needs a relabel) and SELINUXTYPE= is never touched.
	awk '
		/^[[:space:]]*SELINUX[[:space:]]*=/ {
			found = 1
			v = $0; sub(/^[^=]*=/, "", v); sub(/#.*/, "", v); gsub(/["\047[:space:]]/, "", v)
			if (tolower(v) == "enforcing") { print "SELINUX=permissive"; next }
		}
		{ print }
		END { if (!found) print "SELINUX=permissive" }' "$conf" >"$tmp"
	ensure_file_from "$tmp" "$SELINUX_CONF" 0644 "SELinux permissive at boot"
}

step_firewall() {
	step "firewall"
	if ((!MANAGE_FIREWALL)); then
		info "skipped (--no-firewall)"
		return 0
	fi
	if ! command -v firewall-cmd >/dev/null 2>&1 || ! systemctl is-active --quiet firewalld 2>/dev/null; then
		report unchanged "firewalld is not running; no ports to open"
		return 0
	fi
	local ports port added=0
	if [[ $ROLE == control-plane ]]; then
		ports="6443 2379-2380 10250 10257 10259"
	else
		ports="10250 10256 30000-32767"
	fi
	for port in $ports; do
		if firewall-cmd --permanent --query-port="$port/tcp" >/dev/null 2>&1; then
			report unchanged "firewalld port $port/tcp open"
		else
			run firewall-cmd --permanent --add-port="$port/tcp"
			report changed "firewalld port $port/tcp opened"
			added=1
		fi
	done
	((added)) && run firewall-cmd --reload
	info "the CNI plugin's own ports (e.g. VXLAN 8472/udp, BGP 179/tcp) are not opened here"
}

step_base_packages() {
	step "required tools"
	local required optional p missing=()
	if [[ $FAMILY == debian ]]; then
		required="ca-certificates curl gpg conntrack socat ethtool iproute2 iptables"
		optional="ebtables"
	else
		required="conntrack-tools socat ethtool iproute iproute-tc iptables"
		optional="ebtables"
	fi
	for p in $required; do pkg_installed "$p" || missing+=("$p"); done
	if ((${#missing[@]})); then
		pkg_install "${missing[@]}"
		report changed "installed ${missing[*]}"
	else
		report unchanged "present: ${required// /, }"
	fi
	# kubeadm only warns when these are missing, and some releases no longer package them.
	for p in $optional; do
		if pkg_installed "$p"; then
			report unchanged "present: $p"
		elif [[ $FAMILY == debian ]] && { apt_update_if_needed && try_run apt-get install -y -q "$p"; }; then
			report changed "installed $p"
		elif [[ $FAMILY == rhel ]] && try_run "$PKG" install -y "$p"; then
			report changed "installed $p"
		else
			warn "optional package $p could not be installed; kubeadm preflight will only warn"
		fi
	done
}

containerd_installed() { pkg_installed containerd.io || pkg_installed containerd; }

docker_repo_rhel() {
	local distro=centos
	[[ $OS_ID == rhel ]] && distro=rhel
	ensure_file "$DOCKER_YUM_REPO" 0644 "Docker CE repository (for containerd.io)" <<EOF
# Written by node-prep.sh: containerd.io, which RHEL-family distributions do not package.
[docker-ce-stable]
name=Docker CE Stable - \$basearch
baseurl=https://download.docker.com/linux/$distro/\$releasever/\$basearch/stable
enabled=1
gpgcheck=1
gpgkey=https://download.docker.com/linux/$distro/gpg
EOF
}

docker_repo_apt() {
	local arch list
	arch=$(dpkg --print-architecture)
	[[ -n $OS_CODENAME ]] || die "no VERSION_CODENAME in /etc/os-release; cannot pick Docker's apt suite"
	ensure_dir "$APT_KEYRINGS" 0755
	if [[ -s $(p "$DOCKER_APT_KEYRING") ]]; then
		report unchanged "Docker repository signing key ($DOCKER_APT_KEYRING)"
	elif ((DRY_RUN)); then
		info "would download https://download.docker.com/linux/$OS_ID/gpg to $DOCKER_APT_KEYRING"
		report changed "Docker repository signing key ($DOCKER_APT_KEYRING)"
	else
		run curl -fsSL --retry 3 -o "$WORK/docker.asc" "https://download.docker.com/linux/$OS_ID/gpg"
		ensure_file_from "$WORK/docker.asc" "$DOCKER_APT_KEYRING" 0644 "Docker repository signing key"
	fi
	list=$(work_file)
	printf '# Written by node-prep.sh: containerd.io from Docker.\ndeb [arch=%s signed-by=%s] https://download.docker.com/linux/%s %s stable\n' \
		"$arch" "$DOCKER_APT_KEYRING" "$OS_ID" "$OS_CODENAME" >"$list"
	ensure_file_from "$list" "$DOCKER_APT_LIST" 0644 "Docker apt repository"
	((FILE_CHANGED)) && APT_STALE=1
	return 0
}

step_containerd_install() {
	step "containerd"
	local source=$CONTAINERD_SOURCE
	if [[ $source == auto ]]; then
		if [[ $FAMILY == rhel ]]; then source=docker; else source=distro; fi
	fi
	if containerd_installed; then
		report unchanged "containerd is installed ($(containerd_version))"
		return 0
	fi
	case $FAMILY:$source in
	rhel:distro) die "RHEL-family distributions do not package containerd; use --containerd-source docker (the default)" ;;
	rhel:docker)
		docker_repo_rhel
		if ! try_run "$PKG" install -y containerd.io; then
			die "installing containerd.io failed; if podman's runc conflicts, remove podman/runc first or install containerd.io with --allowerasing"
		fi
		;;
	debian:docker)
		docker_repo_apt
		pkg_install containerd.io
		;;
	debian:distro) pkg_install containerd ;;
	esac
	if [[ $source == docker ]]; then
		report changed "containerd installed (containerd.io from Docker's repository)"
	else
		report changed "containerd installed (the distribution's package)"
	fi
}

k8s_installed_check() {
	local pkg v
	for pkg in kubeadm kubelet kubectl; do
		v=$(pkg_version "$pkg")
		[[ -z $v ]] && continue
		if [[ $v != "$K8S_MINOR".* ]]; then
			die "$pkg $v is installed but --k8s-version asks for $K8S_VERSION. Moving between minor versions is a kubeadm upgrade (kubernetes.io: Upgrading kubeadm clusters), not node preparation."
		fi
	done
}

# The legacy repositories (apt.kubernetes.io, yum.kubernetes.io, packages.cloud.google.com) were
# frozen on 2023-09-13 and their keys have expired: a leftover entry breaks `apt-get update`.
disable_legacy_repos() {
	local f real tmp legacy='apt\.kubernetes\.io|yum\.kubernetes\.io|packages\.cloud\.google\.com'
	if [[ $FAMILY == debian ]]; then
		for real in "$(p "$APT_SOURCES_D")"/*.list "$(p "$APT_SOURCES_D")"/*.sources; do
			[[ -f $real ]] || continue
			f=${real#"$ROOT"}
			[[ $f == "$K8S_APT_LIST" ]] && continue
			if grep -Eq "$legacy" "$real"; then
				remove_file "$f" "legacy Kubernetes repository"
				APT_STALE=1
			fi
		done
		real=$(p "$APT_SOURCES")
		if [[ -f $real ]] && grep -Eq "^[[:space:]]*deb.*($legacy)" "$real"; then
			tmp=$(work_file)
			awk -v re="$legacy" '$0 ~ "^[[:space:]]*deb" && $0 ~ re { print "# disabled by node-prep.sh (frozen repository): " $0; next } { print }' "$real" >"$tmp"
			ensure_file_from "$tmp" "$APT_SOURCES" 0644 "legacy Kubernetes repository commented out"
			APT_STALE=1
		fi
	else
		for real in "$(p "$YUM_REPOS_D")"/*.repo; do
			[[ -f $real ]] || continue
			f=${real#"$ROOT"}
			[[ $f == "$K8S_YUM_REPO" ]] && continue
			if grep -Eq "$legacy" "$real"; then remove_file "$f" "legacy Kubernetes repository"; fi
		done
	fi
}

k8s_repo_apt() {
	local list key_needed=0
	ensure_dir "$APT_KEYRINGS" 0755
	list=$(work_file)
	cat >"$list" <<EOF
# Written by node-prep.sh: pkgs.k8s.io has one repository per minor version.
deb [signed-by=$K8S_APT_KEYRING] https://pkgs.k8s.io/core:/stable:/v$K8S_MINOR/deb/ /
EOF
	# Fetch the key when it is missing or the repository moves to another minor (keys rotate),
	# and install it before the list so apt never sees the list without its key.
	if [[ ! -s $(p "$K8S_APT_KEYRING") ]] || ! same_content "$list" "$(p "$K8S_APT_LIST")"; then key_needed=1; fi
	if ((!key_needed)); then
		report unchanged "Kubernetes repository signing key ($K8S_APT_KEYRING)"
	elif ((DRY_RUN)); then
		info "would download https://pkgs.k8s.io/core:/stable:/v$K8S_MINOR/deb/Release.key and dearmor it to $K8S_APT_KEYRING"
		report changed "Kubernetes repository signing key ($K8S_APT_KEYRING)"
	else
		run curl -fsSL --retry 3 -o "$WORK/k8s-release.key" "https://pkgs.k8s.io/core:/stable:/v$K8S_MINOR/deb/Release.key"
		run gpg --batch --yes --dearmor -o "$WORK/k8s-keyring.gpg" "$WORK/k8s-release.key"
		ensure_file_from "$WORK/k8s-keyring.gpg" "$K8S_APT_KEYRING" 0644 "Kubernetes repository signing key"
		((FILE_CHANGED)) && APT_STALE=1
	fi
	ensure_file_from "$list" "$K8S_APT_LIST" 0644 "Kubernetes apt repository v$K8S_MINOR"
	((FILE_CHANGED)) && APT_STALE=1
	return 0
}

k8s_repo_rpm() {
	ensure_file "$K8S_YUM_REPO" 0644 "Kubernetes rpm repository v$K8S_MINOR" <<EOF
# Written by node-prep.sh: pkgs.k8s.io has one repository per minor version.
# exclude= holds the packages back from \`dnf upgrade\`; install them with --disableexcludes=kubernetes.
[kubernetes]
name=Kubernetes v$K8S_MINOR
baseurl=https://pkgs.k8s.io/core:/stable:/v$K8S_MINOR/rpm/
enabled=1
gpgcheck=1
gpgkey=https://pkgs.k8s.io/core:/stable:/v$K8S_MINOR/rpm/repodata/repomd.xml.key
exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni
EOF
}

step_kubernetes_packages() {
	step "Kubernetes packages (pkgs.k8s.io v$K8S_MINOR)"
	local pkgs=(kubelet kubeadm kubectl) pkg v need=0 have='' specs=() ver
	k8s_installed_check
	disable_legacy_repos
	if [[ $FAMILY == debian ]]; then k8s_repo_apt; else k8s_repo_rpm; fi

	for pkg in "${pkgs[@]}"; do
		v=$(pkg_version "$pkg")
		if [[ -z $v ]] || { [[ -n $K8S_PATCH ]] && [[ $v != "$K8S_PATCH" ]]; }; then need=1; fi
		have=$v
	done
	if ((!need)); then
		report unchanged "kubelet, kubeadm, kubectl $have installed"
	elif [[ $FAMILY == debian ]]; then
		if [[ -n $K8S_PATCH ]]; then
			if ((DRY_RUN)); then
				ver="$K8S_PATCH-*"
			else
				apt_update_if_needed
				ver=$(apt-cache madison kubeadm 2>/dev/null | awk -F'|' -v want="$K8S_PATCH-" '{ gsub(/[[:space:]]/, "", $2) } index($2, want) == 1 { print $2; exit }')
				[[ -n $ver ]] || die "Kubernetes $K8S_PATCH is not in the pkgs.k8s.io v$K8S_MINOR repository (see: apt-cache madison kubeadm)"
			fi
			specs=("kubelet=$ver" "kubeadm=$ver" "kubectl=$ver")
		else
			specs=("${pkgs[@]}")
		fi
		apt_update_if_needed
		run apt-get install -y -q --allow-change-held-packages --allow-downgrades \
			-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${specs[@]}"
		report changed "installed ${specs[*]}"
	else
		if [[ -n $K8S_PATCH ]]; then
			specs=("kubelet-$K8S_PATCH" "kubeadm-$K8S_PATCH" "kubectl-$K8S_PATCH")
		else
			specs=("${pkgs[@]}")
		fi
		run "$PKG" install -y "$(dnf_disable_excludes_opt)" "${specs[@]}"
		report changed "installed ${specs[*]}"
	fi

	# A routine `apt upgrade` must not move kubelet past the control plane's version.
	if [[ $FAMILY == debian ]]; then
		local held unheld=()
		held=" $(apt-mark showhold 2>/dev/null | tr '\n' ' ') "
		for pkg in "${pkgs[@]}"; do [[ $held == *" $pkg "* ]] || unheld+=("$pkg"); done
		if ((${#unheld[@]})); then
			run apt-mark hold "${unheld[@]}"
			report changed "held ${unheld[*]} (apt-mark hold)"
		else
			report unchanged "kubelet, kubeadm, kubectl are held (apt-mark)"
		fi
	else
		info "kubelet, kubeadm, kubectl are held by exclude= in $K8S_YUM_REPO"
	fi
}

# Pause tags kubeadm used per minor, for when kubeadm itself is not installed yet (dry run).
pause_tag_for_minor() {
	local minor=${K8S_MINOR#1.}
	if ((minor >= 36)); then
		echo 3.10.2
	elif ((minor >= 34)); then
		echo 3.10.1
	elif ((minor >= 31)); then
		echo 3.10
	else
		echo 3.9
	fi
}

# The full version to hand to kubeadm: the pinned patch, else the kubeadm that got installed.
k8s_target_version() {
	local v
	if [[ -n $K8S_PATCH ]]; then
		printf '%s' "$K8S_PATCH"
		return 0
	fi
	v=$(pkg_version kubeadm)
	if [[ $v == "$K8S_MINOR".* ]]; then
		printf '%s' "$v"
	else
		printf 'stable-%s' "$K8S_MINOR"
	fi
}

# kubeadm warns "sandbox image ... is inconsistent with that used by kubeadm" when containerd's
# pause image differs from its own, so ask kubeadm for it (with the chosen repository).
pause_image() {
	local ver img=''
	ver=$(k8s_target_version)
	if [[ $ver != stable-* ]] && pkg_installed kubeadm; then
		img=$(kubeadm config images list --kubernetes-version "v$ver" --image-repository "$IMAGE_REPOSITORY" 2>/dev/null |
			awk '/\/pause:/ { print; exit }' || true)
	fi
	[[ -n $img ]] || img="$IMAGE_REPOSITORY/pause:$(pause_tag_for_minor)"
	printf '%s' "$img"
}

# "containerd containerd.io 1.7.27 <sha>" or "containerd github.com/containerd/containerd/v2 v2.1.4 <sha>"
containerd_version() {
	containerd --version 2>/dev/null | awk '{
		for (i = 1; i <= NF; i++) if ($i ~ /^v?[0-9]+\.[0-9]+/) { v = $i; sub(/^v/, "", v); print v; exit }
	}'
}

write_mirror_hosts() {
	local spec reg url regs=() seen=' ' server file
	for spec in "${REGISTRY_MIRRORS[@]}"; do
		reg=$(mirror_registry "$spec")
		[[ $seen == *" $reg "* ]] || {
			regs+=("$reg")
			seen+="$reg "
		}
	done
	for reg in "${regs[@]}"; do
		server="https://$reg"
		[[ $reg == docker.io ]] && server=https://registry-1.docker.io
		file=$(work_file)
		{
			echo "# Written by node-prep.sh: pulls from $reg try these mirrors in order, then $server."
			echo "server = \"$server\""
			for spec in "${REGISTRY_MIRRORS[@]}"; do
				[[ $(mirror_registry "$spec") == "$reg" ]] || continue
				url=$(mirror_url "$spec")
				echo
				echo "[host.\"$url\"]"
				echo '  capabilities = ["pull", "resolve"]'
				# containerd appends /v2 to a host's path unless told the path already has it.
				[[ $url == */v2 ]] && echo '  override_path = true'
			done
		} >"$file"
		ensure_file_from "$file" "$CONTAINERD_CERTS_D/$reg/hosts.toml" 0644 "registry mirror for $reg"
	done
}

step_containerd_config() {
	step "containerd configuration"
	local cfg real cver major version q runc_table sandbox_table sandbox_key registry_table mirrors_prefix
	local pause cur restart=0 dropin_changed=0
	real=$(p "$CONTAINERD_CONFIG")
	pause=$(pause_image)

	if ! containerd_installed; then
		((DRY_RUN)) || die "containerd is not installed"
		info "containerd is not installed yet: would write $CONTAINERD_CONFIG from 'containerd config default'"
		info "with the CRI plugin enabled, SystemdCgroup = true and sandbox image $pause"
		report changed "containerd configuration ($CONTAINERD_CONFIG)"
	else
		cver=$(containerd_version)
		major=${cver%%.*}
		if [[ $cver =~ ^1\.[0-6]\. ]]; then
			warn "containerd $cver is older than 1.7, the oldest line current Kubernetes releases support; consider --containerd-source docker"
		fi
		cfg=$(work_file)
		[[ -f $real ]] && cat -- "$real" >"$cfg"
		version=$(toml_version "$cfg")
		if [[ $version != 2 && $version != 3 ]]; then
			# No version 2/3 header: a missing file, Docker's stub (CRI disabled, everything else
			# commented out) or an old v1 layout. Start from containerd's own full default.
			info "$CONTAINERD_CONFIG has no 'version = 2' or 'version = 3' header; starting from 'containerd config default'"
			containerd config default >"$cfg" || die "'containerd config default' failed"
			version=$(toml_version "$cfg")
		fi
		if [[ $major == 1 && $version == 3 ]]; then
			die "$CONTAINERD_CONFIG is config version 3, which containerd 1.x cannot read; move it aside and re-run"
		fi
		# Same settings, different key paths: config v2 (containerd 1.x) keeps everything under
		# the io.containerd.grpc.v1.cri plugin; v3 (containerd 2.x) splits runtime and images.
		case $version in
		2)
			q='"'
			runc_table='plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options'
			sandbox_table='plugins."io.containerd.grpc.v1.cri"'
			sandbox_key=sandbox_image
			registry_table='plugins."io.containerd.grpc.v1.cri".registry'
			;;
		3)
			q="'"
			runc_table="plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options"
			sandbox_table="plugins.'io.containerd.cri.v1.images'.pinned_images"
			sandbox_key=sandbox
			registry_table="plugins.'io.containerd.cri.v1.images'.registry"
			;;
		*) die "cannot understand $CONTAINERD_CONFIG (version '$version')" ;;
		esac
		mirrors_prefix="$registry_table.mirrors."
		info "containerd ${cver:-unknown}, config version $version"

		toml_enable_cri "$cfg"
		# kubeadm configures the kubelet with the systemd cgroup driver; the runtime must match.
		toml_set "$cfg" "$runc_table" SystemdCgroup true
		toml_set "$cfg" "$sandbox_table" "$sandbox_key" "$q$pause$q"
		if ((${#REGISTRY_MIRRORS[@]})); then
			# containerd refuses config_path together with the deprecated registry.mirrors tables.
			if toml_has_table_prefix "$cfg" "$mirrors_prefix"; then
				die "$CONTAINERD_CONFIG still has [$mirrors_prefix...] tables, which containerd does not accept together with config_path; move them to $CONTAINERD_CERTS_D/<registry>/hosts.toml and re-run"
			fi
			cur=$(toml_get "$cfg" "$registry_table" config_path)
			if [[ ":$cur:" != *":$CONTAINERD_CERTS_D:"* ]]; then
				toml_set "$cfg" "$registry_table" config_path "$q$CONTAINERD_CERTS_D${cur:+:$cur}$q"
			fi
		fi
		ensure_file_from "$cfg" "$CONTAINERD_CONFIG" 0644 "containerd config: CRI on, SystemdCgroup = true, sandbox $pause"
		((FILE_CHANGED)) && restart=1
	fi

	# hosts.toml files are read on every pull, so they need no restart.
	if ((${#REGISTRY_MIRRORS[@]})); then write_mirror_hosts; fi

	ensure_file "$CRICTL_CONFIG" 0644 "crictl endpoint" <<EOF
# Written by node-prep.sh: point crictl at containerd instead of probing every runtime socket.
runtime-endpoint: $CRI_SOCKET
image-endpoint: $CRI_SOCKET
timeout: 10
EOF

	if [[ -n $PROXY_URL ]]; then
		ensure_file "$CONTAINERD_PROXY_DROPIN" 0644 "containerd proxy settings" <<EOF
# Written by node-prep.sh: image pulls go through the proxy; cluster-internal traffic does not.
[Service]
Environment="HTTP_PROXY=$PROXY_URL"
Environment="HTTPS_PROXY=$PROXY_URL"
Environment="NO_PROXY=$(no_proxy_list)"
EOF
		dropin_changed=$FILE_CHANGED
		((dropin_changed)) && restart=1
	fi

	local enabled
	enabled=$(systemctl is-enabled containerd 2>/dev/null || true)
	if [[ $enabled == enabled ]]; then
		report unchanged "containerd enabled at boot"
	else
		run systemctl enable containerd
		report changed "containerd enabled at boot"
	fi
	if ((dropin_changed)); then run systemctl daemon-reload; fi
	if ((restart)); then
		run systemctl restart containerd
		report changed "containerd restarted with the new configuration"
	elif ! systemctl is-active --quiet containerd 2>/dev/null; then
		run systemctl start containerd
		report changed "containerd started"
	else
		report unchanged "containerd running"
	fi
}

step_kubelet() {
	step kubelet
	local enabled
	enabled=$(systemctl is-enabled kubelet 2>/dev/null || true)
	if [[ $enabled == enabled ]]; then
		report unchanged "kubelet enabled"
	else
		# Until kubeadm init/join writes its config, kubelet restarts every few seconds; expected.
		run systemctl enable --now kubelet
		report changed "kubelet enabled"
	fi
}

step_pull_images() {
	step "image pre-pull"
	if ((!PULL_IMAGES)); then
		info "skipped (use --pull-images)"
		return 0
	fi
	local ver images img missing=()
	ver=$(k8s_target_version)
	[[ $ver == stable-* ]] || ver=v$ver
	if ! pkg_installed kubeadm; then
		info "kubeadm is not installed yet"
		run kubeadm config images pull --kubernetes-version "$ver" --image-repository "$IMAGE_REPOSITORY" --cri-socket "$CRI_SOCKET"
		report changed "images for Kubernetes $ver pulled from $IMAGE_REPOSITORY"
		return 0
	fi
	images=$(kubeadm config images list --kubernetes-version "$ver" --image-repository "$IMAGE_REPOSITORY") ||
		die "kubeadm config images list failed"
	if [[ $ROLE == worker ]]; then
		images=$(printf '%s\n' "$images" | grep -E '/(pause|kube-proxy):' || true)
	fi
	for img in $images; do
		crictl inspecti "$img" >/dev/null 2>&1 || missing+=("$img")
	done
	if ((${#missing[@]} == 0)); then
		report unchanged "images present: $(echo "$images" | tr '\n' ' ' | sed 's/ $//')"
		return 0
	fi
	if [[ $ROLE == control-plane ]]; then
		run kubeadm config images pull --kubernetes-version "$ver" --image-repository "$IMAGE_REPOSITORY" --cri-socket "$CRI_SOCKET"
	else
		for img in "${missing[@]}"; do run crictl pull "$img"; done
	fi
	report changed "pulled ${missing[*]}"
}

# ---------------------------------------------------------------------------------------------

confirm() {
	((DRY_RUN || ASSUME_YES)) && return 0
	if [[ -t 0 ]]; then
		local answer=''
		read -r -p "Apply these changes to $NODE_HOSTNAME? [y/N] " answer || true
		[[ $answer == [yY]* ]] || die 1 "aborted; nothing was changed"
	else
		die 2 "stdin is not a terminal: pass --yes to apply changes (or --dry-run to preview them)"
	fi
}

main() {
	parse_args "$@"
	# apt reads keyrings as the unprivileged _apt user; a strict root umask would hide them.
	umask 022
	RUN_ID=$(date +%Y%m%d-%H%M%S)-$$
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/node-prep.XXXXXX")
	trap cleanup EXIT
	trap 'on_error "$LINENO" "$BASH_COMMAND"' ERR

	local mode=apply
	((DRY_RUN)) && mode="dry run: nothing will be changed"
	((CHECK_ONLY)) && mode="check only"
	printf '%s: Kubernetes %s, role %s, image repository %s (%s)\n' "$PROG" "$K8S_VERSION" "$ROLE" "$IMAGE_REPOSITORY" "$mode"
	[[ -z $ROOT ]] || printf '%s: using %s as the root directory\n' "$PROG" "$ROOT"
	if [[ -n $PROXY_URL ]]; then
		export HTTP_PROXY=$PROXY_URL HTTPS_PROXY=$PROXY_URL http_proxy=$PROXY_URL https_proxy=$PROXY_URL
		NO_PROXY=$(no_proxy_list)
		export NO_PROXY no_proxy=$NO_PROXY
	fi
	export DEBIAN_FRONTEND=noninteractive

	preflight
	if ((CHECK_ONLY)); then
		printf '\n'
		if ((N_PROBLEMS)); then
			printf '%s: check failed: %d problem(s)\n' "$PROG" "$N_PROBLEMS"
			exit 1
		fi
		printf '%s: check passed\n' "$PROG"
		exit 0
	fi
	if ((N_PROBLEMS)); then
		warn "preflight found $N_PROBLEMS problem(s) (FAIL above); preparing the node anyway, but kubeadm will refuse until they are fixed"
	fi
	confirm

	step_kernel_modules
	step_sysctl
	step_swap
	[[ $FAMILY == rhel ]] && step_selinux
	step_firewall
	step_base_packages
	step_containerd_install
	step_kubernetes_packages
	step_containerd_config
	step_kubelet
	step_pull_images
	CURRENT_STEP=

	printf '\n'
	if ((DRY_RUN)); then
		printf '%s: dry run: %d would change, %d unchanged; nothing was modified\n' "$PROG" "$N_CHANGED" "$N_UNCHANGED"
	else
		printf '%s: done: %d changed, %d unchanged\n' "$PROG" "$N_CHANGED" "$N_UNCHANGED"
		if [[ $ROLE == control-plane ]]; then
			info "next: kubeadm init --config cluster-configuration.yaml (see deploy/kubeadm/), or"
			info "      kubeadm init --pod-network-cidr $POD_CIDR --service-cidr $SERVICE_CIDR --image-repository $IMAGE_REPOSITORY"
		else
			info "next: kubeadm join <endpoint>:6443 --token <token> --discovery-token-ca-cert-hash sha256:<hash>"
		fi
	fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	main "$@"
fi

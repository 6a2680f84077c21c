#!/usr/bin/env bats
# deploy/node-prep.sh against a scratch root with stub commands (helpers/sandbox.bash,
# helpers/stub-command). Nothing here touches the real system.

load helpers/sandbox

# --- interface --------------------------------------------------------------------------------

@test "--help documents every option" {
	sandbox_init rocky9
	node_prep --help
	assert_success
	assert_output_has --k8s-version --image-repository --registry-mirror --role --dry-run --check --yes \
		--pod-cidr --service-cidr --proxy --no-proxy --containerd-source --pull-images NODE_PREP_ROOT
}

@test "bad usage exits 2 and writes nothing" {
	sandbox_init rocky9
	before=$(sandbox_digest)
	node_prep --yes --role bystander
	assert_status 2
	assert_output_has "--role must be control-plane or worker"
	node_prep --yes --k8s-version 1.x
	assert_status 2
	node_prep --yes --frobnicate
	assert_status 2
	assert_digest "$before"
}

# --- dry run ----------------------------------------------------------------------------------

@test "rocky9: --dry-run prints the actions and changes nothing" {
	sandbox_init rocky9
	before=$(sandbox_digest)
	node_prep --dry-run
	assert_success
	assert_output_has "would run: modprobe br_netfilter" "would run: swapoff -a" "would run: setenforce 0" \
		"+SELINUX=permissive" "pkgs.k8s.io/core:/stable:/v1.35/rpm/" "would run: dnf install -y --disableexcludes=kubernetes" \
		"would run: systemctl enable --now kubelet" "nothing was modified"
	refute_output_has "[changed]"
	assert_digest "$before"
	assert_no_mutating_calls
}

@test "ubuntu2404: --dry-run prints the actions and changes nothing" {
	sandbox_init ubuntu2404
	before=$(sandbox_digest)
	node_prep --dry-run --k8s-version 1.35.4 --registry-mirror https://mirror.example.com
	assert_success
	assert_output_has "would run: apt-get install" "kubeadm=1.35.4-\\*" "would run: apt-mark hold kubelet kubeadm kubectl" \
		"/etc/containerd/certs.d/registry.k8s.io/hosts.toml" "nothing was modified"
	refute_output_has "[changed]"
	assert_digest "$before"
	assert_no_mutating_calls
}

# --- first and second run ---------------------------------------------------------------------

@test "rocky9: first run makes every change, second run changes nothing" {
	sandbox_init rocky9
	node_prep --yes
	assert_success
	assert_output_has "[changed] modules loaded at boot" "[changed] module overlay loaded" "[changed] module br_netfilter loaded" \
		"[changed] kernel parameters persisted" "[changed] kernel parameters applied now" "[changed] swap turned off" \
		"[changed] swap entries commented out" "[changed] swap unit dev-mapper-rl\\x2dswap.swap masked" \
		"[changed] SELinux switched to permissive now" "[changed] SELinux permissive at boot" \
		"[changed] installed conntrack-tools socat" "[changed] Docker CE repository" "[changed] containerd installed" \
		"[changed] Kubernetes rpm repository v1.35" "[changed] installed kubelet kubeadm kubectl" \
		"[changed] containerd config" "[changed] crictl endpoint" "[changed] containerd enabled at boot" \
		"[changed] containerd restarted" "[changed] kubelet enabled" "node-prep: done:"

	r=$ROOT_DIR
	grep -qx overlay "$r/etc/modules-load.d/k8s.conf"
	grep -qx br_netfilter "$r/etc/modules-load.d/k8s.conf"
	[[ $(grep -vc '^#' "$r/etc/modules-load.d/k8s.conf") == 2 ]]
	assert_file_has "$r/etc/sysctl.d/k8s.conf" "net.ipv4.ip_forward = 1" "net.bridge.bridge-nf-call-iptables = 1" \
		"net.bridge.bridge-nf-call-ip6tables = 1"
	[[ $(cat "$r/proc/sys/net/ipv4/ip_forward") == 1 ]]
	[[ $(cat "$r/proc/sys/net/bridge/bridge-nf-call-iptables") == 1 ]]
	[[ $(wc -l <"$r/proc/swaps") == 1 ]]
	[[ $(readlink "$r/etc/systemd/system/dev-mapper-rl\\x2dswap.swap") == /dev/null ]]
	grep -qx 'SELINUX=permissive' "$r/etc/selinux/config"
	grep -qx 'SELINUXTYPE=targeted' "$r/etc/selinux/config"
	[[ $(cat "$STATE_DIR/selinux") == Permissive ]]
	assert_file_has "$r/etc/yum.repos.d/kubernetes.repo" "baseurl=https://pkgs.k8s.io/core:/stable:/v1.35/rpm/" \
		"exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni"
	assert_file_has "$r/etc/yum.repos.d/docker-ce.repo" "https://download.docker.com/linux/centos/"
	assert_file_has "$r/etc/containerd/config.toml" "SystemdCgroup = true" 'sandbox_image = "registry.k8s.io/pause:3.10.1"'
	assert_file_has "$r/etc/crictl.yaml" "runtime-endpoint: unix:///run/containerd/containerd.sock"
	grep -qx 'dnf install -y --disableexcludes=kubernetes kubelet kubeadm kubectl' "$CALLS"
	grep -q '^conntrack-tools ' "$STATE_DIR/packages"
	grep -q '^socat ' "$STATE_DIR/packages"
	[[ -e $STATE_DIR/enabled/kubelet && -e $STATE_DIR/enabled/containerd ]]
	# Backups of the files that existed before, nothing left over from the atomic writes.
	[[ -n $(find "$r/var/backups/node-prep" -path '*/etc/fstab') ]]
	[[ -n $(find "$r/var/backups/node-prep" -path '*/etc/selinux/config') ]]
	[[ -z $(find "$r" -name '.node-prep.*') ]]

	before=$(sandbox_digest)
	: >"$CALLS"
	node_prep --yes
	assert_success
	refute_output_has "[changed]"
	assert_output_has "node-prep: done: 0 changed"
	assert_digest "$before"
	assert_no_mutating_calls
}

@test "ubuntu2404: first run makes every change, second run changes nothing" {
	sandbox_init ubuntu2404
	node_prep --yes --k8s-version 1.35.4
	assert_success
	assert_output_has "[changed] module br_netfilter loaded" "[changed] kernel parameters applied now" \
		"[changed] swap entries commented out" "[changed] swap unit swap.img.swap masked" \
		"[changed] Kubernetes repository signing key" "[changed] Kubernetes apt repository v1.35" \
		"[changed] installed kubelet=1.35.4-1.1 kubeadm=1.35.4-1.1 kubectl=1.35.4-1.1" \
		"[changed] held kubelet kubeadm kubectl" "[changed] containerd installed (the distribution's package)" \
		"[changed] containerd config" "[changed] kubelet enabled"
	refute_output_has "SELinux"

	r=$ROOT_DIR
	assert_file_has "$r/etc/apt/sources.list.d/kubernetes.list" \
		"deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v1.35/deb/ /"
	# The dearmored keyring is binary (the stub puts a NUL in it) and must arrive intact.
	[[ $(head -c 12 "$r/etc/apt/keyrings/kubernetes-apt-keyring.gpg") == stub-keyring ]]
	[[ $(stat -c %a "$r/etc/apt/keyrings/kubernetes-apt-keyring.gpg") == 644 ]]
	grep -qx 'apt-mark hold kubelet kubeadm kubectl' "$CALLS"
	grep -qx 'apt-cache madison kubeadm' "$CALLS"
	grep -qxF 'apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold containerd' "$CALLS"
	[[ $(sort "$STATE_DIR/held" | tr '\n' ' ') == "kubeadm kubectl kubelet " ]]
	assert_file_has "$r/etc/containerd/config.toml" "SystemdCgroup = true" 'sandbox_image = "registry.k8s.io/pause:3.10.1"'
	grep -q $'^# disabled by node-prep.sh (kubelet needs swap off): /swap.img\tnone\tswap' "$r/etc/fstab"

	before=$(sandbox_digest)
	: >"$CALLS"
	node_prep --yes --k8s-version 1.35.4
	assert_success
	refute_output_has "[changed]"
	assert_output_has "node-prep: done: 0 changed"
	assert_digest "$before"
	assert_no_mutating_calls
}

# --- swap -------------------------------------------------------------------------------------

@test "swap entries in fstab are commented out, everything else is kept" {
	sandbox_init ubuntu2404
	cat >"$ROOT_DIR/etc/fstab" <<'EOF'
# <file system> <mount point> <type> <options> <dump> <pass>
UUID=2c6a0f3e / ext4 errors=remount-ro 0 1
/swapfile                                 none            swap    sw              0       0
  /dev/sdb2 none swap sw,pri=5 0 0
#/dev/sdc1 none swap sw 0 0
tmpfs /tmp tmpfs defaults,size=1G 0 0
EOF
	node_prep --yes
	assert_success
	f=$ROOT_DIR/etc/fstab
	[[ $(grep -c '^# disabled by node-prep.sh (kubelet needs swap off): ' "$f") == 2 ]]
	assert_file_has "$f" "# disabled by node-prep.sh (kubelet needs swap off): /swapfile" \
		"UUID=2c6a0f3e / ext4 errors=remount-ro 0 1" "#/dev/sdc1 none swap sw 0 0" "tmpfs /tmp tmpfs defaults,size=1G 0 0"
	# No uncommented swap line remains.
	[[ -z $(awk '!/^[[:space:]]*#/ && $3 == "swap"' "$f") ]]
	grep -qx 'systemctl daemon-reload' "$CALLS"
}

@test "zram-generator swap is disabled" {
	sandbox_init rocky9
	mkdir -p "$ROOT_DIR/usr/lib/systemd"
	printf '[zram0]\nzram-size = min(ram, 8192)\n' >"$ROOT_DIR/usr/lib/systemd/zram-generator.conf"
	printf 'Filename\tType\tSize\tUsed\tPriority\n/dev/zram0 partition 8388604 0 100\n' >"$ROOT_DIR/proc/swaps"
	echo 'dev-zram0.swap' >>"$STATE_DIR/swap-units"
	node_prep --yes
	assert_success
	assert_output_has "[changed] zram swap disabled (/etc/systemd/zram-generator.conf)" "[changed] swap unit dev-zram0.swap masked"
	[[ $(grep -vc '^#' "$ROOT_DIR/etc/systemd/zram-generator.conf") == 0 ]]
	[[ $(readlink "$ROOT_DIR/etc/systemd/system/dev-zram0.swap") == /dev/null ]]
}

# --- containerd config ------------------------------------------------------------------------

@test "existing containerd 1.x config (version 2) is patched in place and backed up" {
	sandbox_init rocky9
	mkdir -p "$ROOT_DIR/etc/containerd"
	cp "$FIXTURES/containerd-existing-v2.toml" "$ROOT_DIR/etc/containerd/config.toml"
	node_prep --yes --image-repository registry.example.internal/k8s
	assert_success
	refute_output_has "starting from 'containerd config default'"
	f=$ROOT_DIR/etc/containerd/config.toml
	assert_file_has "$f" 'SystemdCgroup = true' 'sandbox_image = "registry.example.internal/k8s/pause:3.10.1"' \
		'disabled_plugins = ["io.containerd.internal.v1.tracing"]' \
		'# Site-specific containerd 1.x settings' 'root = "/data/containerd"' 'BinaryName = "/usr/local/sbin/runc"' \
		'max_concurrent_downloads = 5'
	refute_file_has "$f" 'SystemdCgroup = false' 'pause:3.6' '"cri"' "io.containerd.cri.v1"
	# The key is set inside the runc options table, not appended somewhere else.
	awk '/^\[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options\]/ { t = 1; next } /^\[/ { t = 0 } t && /SystemdCgroup = true/ { ok = 1 } END { exit !ok }' "$f"
	backup=$(find "$ROOT_DIR/var/backups/node-prep" -path '*/etc/containerd/config.toml')
	cmp "$backup" "$FIXTURES/containerd-existing-v2.toml"
	grep -qx 'systemctl restart containerd' "$CALLS"

	: >"$CALLS"
	node_prep --yes --image-repository registry.example.internal/k8s
	assert_success
	refute_output_has "[changed]"
}

@test "existing containerd 2.x config (version 3) gets the v3 keys, not the v2 ones" {
	sandbox_init ubuntu2404
	echo 2 >"$STATE_DIR/containerd-major"
	echo "containerd 2.1.4-0ubuntu1" >"$STATE_DIR/packages"
	mkdir -p "$ROOT_DIR/etc/containerd"
	cp "$FIXTURES/containerd-existing-v3.toml" "$ROOT_DIR/etc/containerd/config.toml"
	node_prep --yes
	assert_success
	assert_output_has "containerd 2.1.4, config version 3"
	f=$ROOT_DIR/etc/containerd/config.toml
	assert_file_has "$f" "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]" \
		"SystemdCgroup = true" "[plugins.'io.containerd.cri.v1.images'.pinned_images]" \
		"sandbox = 'registry.k8s.io/pause:3.10.1'" 'enable_unprivileged_ports = true' 'root = "/data/containerd"'
	refute_file_has "$f" "io.containerd.grpc.v1.cri" "sandbox_image"

	: >"$CALLS"
	node_prep --yes
	assert_success
	refute_output_has "[changed]"
}

@test "containerd 2.x default config is generated and patched with v3 keys" {
	sandbox_init rocky9
	echo 2 >"$STATE_DIR/containerd-major"
	node_prep --yes
	assert_success
	f=$ROOT_DIR/etc/containerd/config.toml
	assert_file_has "$f" "version = 3" "sandbox = 'registry.k8s.io/pause:3.10.1'"
	awk "/^ *\\[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options\\]/ { t = 1; next } /^ *\\[/ { t = 0 } t && /SystemdCgroup = true/ { ok = 1 } END { exit !ok }" "$f"
	refute_file_has "$f" "SystemdCgroup = false" "pause:3.10'"
}

@test "Docker's containerd.io stub config (CRI disabled, no version) is regenerated" {
	sandbox_init rocky9
	mkdir -p "$ROOT_DIR/etc/containerd"
	cp "$FIXTURES/containerd-docker-stub.toml" "$ROOT_DIR/etc/containerd/config.toml"
	node_prep --yes
	assert_success
	assert_output_has "starting from 'containerd config default'"
	f=$ROOT_DIR/etc/containerd/config.toml
	assert_file_has "$f" "version = 2" "disabled_plugins = []" "SystemdCgroup = true"
	refute_file_has "$f" '"cri"'
	backup=$(find "$ROOT_DIR/var/backups/node-prep" -path '*/etc/containerd/config.toml')
	cmp "$backup" "$FIXTURES/containerd-docker-stub.toml"
}

@test "--registry-mirror writes hosts.toml and turns on config_path (v2 layout)" {
	sandbox_init ubuntu2404
	node_prep --yes --registry-mirror https://k8s-mirror.example.com --registry-mirror registry.k8s.io=mirror2.example.com:5000 \
		--registry-mirror docker.io=https://hub-mirror.example.com
	assert_success
	h=$ROOT_DIR/etc/containerd/certs.d/registry.k8s.io/hosts.toml
	assert_file_has "$h" 'server = "https://registry.k8s.io"' '[host."https://k8s-mirror.example.com"]' \
		'[host."https://mirror2.example.com:5000"]' 'capabilities = ["pull", "resolve"]'
	# Mirrors are tried in the order given.
	[[ $(grep -n 'k8s-mirror' "$h" | cut -d: -f1) -lt $(grep -n 'mirror2' "$h" | cut -d: -f1) ]]
	assert_file_has "$ROOT_DIR/etc/containerd/certs.d/docker.io/hosts.toml" 'server = "https://registry-1.docker.io"' \
		'[host."https://hub-mirror.example.com"]'
	awk '/^ *\[plugins."io.containerd.grpc.v1.cri".registry\]/ { t = 1; next } /^ *\[/ { t = 0 } t && /config_path = "\/etc\/containerd\/certs.d"/ { ok = 1 } END { exit !ok }' \
		"$ROOT_DIR/etc/containerd/config.toml"
}

@test "--registry-mirror with containerd 2.x sets config_path under cri.v1.images" {
	sandbox_init rocky9
	echo 2 >"$STATE_DIR/containerd-major"
	node_prep --yes --registry-mirror https://k8s-mirror.example.com
	assert_success
	assert_file_has "$ROOT_DIR/etc/containerd/certs.d/registry.k8s.io/hosts.toml" '[host."https://k8s-mirror.example.com"]'
	awk "/^ *\\[plugins.'io.containerd.cri.v1.images'.registry\\]/ { t = 1; next } /^ *\\[/ { t = 0 } t && /config_path = '\\/etc\\/containerd\\/certs.d'/ { ok = 1 } END { exit !ok }" \
		"$ROOT_DIR/etc/containerd/config.toml"
}

@test "--registry-mirror refuses a config that still has legacy registry.mirrors tables" {
	sandbox_init rocky9
	mkdir -p "$ROOT_DIR/etc/containerd"
	{
		cat "$FIXTURES/containerd-existing-v2.toml"
		printf '\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\n  endpoint = ["https://m.example"]\n'
	} >"$ROOT_DIR/etc/containerd/config.toml"
	cp "$ROOT_DIR/etc/containerd/config.toml" "$BATS_TEST_TMPDIR/config.before"
	node_prep --yes --registry-mirror https://k8s-mirror.example.com
	assert_status 1
	assert_output_has "registry.mirrors" 'step "containerd configuration" failed'
	cmp "$ROOT_DIR/etc/containerd/config.toml" "$BATS_TEST_TMPDIR/config.before"
}

# --- repositories and packages ----------------------------------------------------------------

@test "legacy apt.kubernetes.io repositories are removed and replaced by pkgs.k8s.io" {
	sandbox_init ubuntu2404
	d=$ROOT_DIR/etc/apt/sources.list.d
	echo 'deb https://apt.kubernetes.io/ kubernetes-xenial main' >"$d/kubernetes.list"
	echo 'deb [signed-by=/usr/share/keyrings/k.gpg] https://packages.cloud.google.com/apt kubernetes-xenial main' >"$d/google-k8s.list"
	node_prep --yes
	assert_success
	assert_output_has "[changed] legacy Kubernetes repository removed (/etc/apt/sources.list.d/google-k8s.list)"
	[[ ! -e $d/google-k8s.list ]]
	refute_file_has "$d/kubernetes.list" "apt.kubernetes.io"
	assert_file_has "$d/kubernetes.list" "https://pkgs.k8s.io/core:/stable:/v1.35/deb/ /"
	[[ -n $(find "$ROOT_DIR/var/backups/node-prep" -name google-k8s.list) ]]
}

@test "rocky9: --k8s-version 1.34.2 pins the rpm packages and the v1.34 repo" {
	sandbox_init rocky9
	STUB_K8S_LATEST=1.34.2 node_prep --yes --k8s-version 1.34.2
	assert_success
	grep -qx 'dnf install -y --disableexcludes=kubernetes kubelet-1.34.2 kubeadm-1.34.2 kubectl-1.34.2' "$CALLS"
	assert_file_has "$ROOT_DIR/etc/yum.repos.d/kubernetes.repo" "https://pkgs.k8s.io/core:/stable:/v1.34/rpm/"
}

@test "ubuntu2404: --containerd-source docker uses Docker's apt repository" {
	sandbox_init ubuntu2404
	node_prep --yes --containerd-source docker
	assert_success
	assert_file_has "$ROOT_DIR/etc/apt/sources.list.d/docker.list" \
		"deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu noble stable"
	[[ -s $ROOT_DIR/etc/apt/keyrings/docker.asc ]]
	grep -q '^containerd.io ' "$STATE_DIR/packages"
	[[ $(grep -c '^containerd ' "$STATE_DIR/packages") == 0 ]]
}

@test "DNF5 hosts lift the repo's excludes with --setopt" {
	sandbox_init rocky9
	touch "$STATE_DIR/dnf5"
	node_prep --yes
	assert_success
	grep -qx 'dnf install -y --setopt=disable_excludes=kubernetes kubelet kubeadm kubectl' "$CALLS"
}

@test "an installed kubeadm of another minor is not silently upgraded" {
	sandbox_init ubuntu2404
	echo "kubeadm 1.34.1-1.1" >"$STATE_DIR/packages"
	node_prep --yes
	assert_status 1
	assert_output_has "kubeadm 1.34.1 is installed" "kubeadm upgrade"
	[[ ! -e $ROOT_DIR/etc/apt/sources.list.d/kubernetes.list ]]
}

@test "--pull-images pre-pulls through --image-repository, once" {
	sandbox_init rocky9
	node_prep --yes --pull-images --image-repository registry.example.internal/k8s
	assert_success
	grep -qx 'kubeadm config images pull --kubernetes-version v1.35.4 --image-repository registry.example.internal/k8s --cri-socket unix:///run/containerd/containerd.sock' "$CALLS"
	grep -qx 'registry.example.internal/k8s/pause:3.10.1' "$STATE_DIR/images"
	: >"$CALLS"
	node_prep --yes --pull-images --image-repository registry.example.internal/k8s
	assert_success
	assert_output_has "[unchanged] images present"
	[[ $(grep -c 'images pull' "$CALLS") == 0 ]]
}

# --- proxy and firewall -----------------------------------------------------------------------

@test "--proxy writes a containerd drop-in whose NO_PROXY covers the pod and service CIDRs" {
	sandbox_init ubuntu2404
	node_prep --yes --proxy http://proxy.example.com:3128 --pod-cidr 192.168.0.0/16 --service-cidr 10.100.0.0/16 \
		--no-proxy 10.0.0.10
	assert_success
	f=$ROOT_DIR/etc/systemd/system/containerd.service.d/http-proxy.conf
	assert_file_has "$f" 'Environment="HTTPS_PROXY=http://proxy.example.com:3128"' \
		'Environment="NO_PROXY=localhost,127.0.0.1,::1,192.168.0.0/16,10.100.0.0/16,.svc,.svc.cluster.local,.cluster.local,10.0.0.10"'
	grep -qx 'systemctl daemon-reload' "$CALLS"
	grep -qx 'systemctl restart containerd' "$CALLS"
}

@test "a proxy in the environment without the CIDRs in NO_PROXY is flagged" {
	sandbox_init rocky9
	HTTPS_PROXY=http://proxy.example.com:3128 NO_PROXY=localhost node_prep --check
	assert_success
	assert_output_has "NO_PROXY lacks: 10.244.0.0/16 10.96.0.0/12"
}

@test "an IPv6 service CIDR also enables IPv6 forwarding" {
	sandbox_init ubuntu2404
	node_prep --yes --service-cidr 10.96.0.0/12,fd00:10:96::/112
	assert_success
	assert_file_has "$ROOT_DIR/etc/sysctl.d/k8s.conf" "net.ipv6.conf.all.forwarding = 1"
	[[ $(cat "$ROOT_DIR/proc/sys/net/ipv6/conf/all/forwarding") == 1 ]]
}

@test "running firewalld gets the role's ports opened" {
	sandbox_init rocky9
	mkdir -p "$STATE_DIR/active" && touch "$STATE_DIR/active/firewalld"
	node_prep --yes --role worker
	assert_success
	[[ $(sort "$STATE_DIR/firewall-ports" | tr '\n' ' ') == "10250/tcp 10256/tcp 30000-32767/tcp " ]]
	grep -qx 'firewall-cmd --reload' "$CALLS"
	: >"$CALLS"
	node_prep --yes --role worker
	refute_output_has "[changed]"
	[[ $(grep -c -- '--reload' "$CALLS") == 0 ]]
}

# --- check mode -------------------------------------------------------------------------------

@test "--check passes on a suitable host and changes nothing" {
	sandbox_init rocky9
	before=$(sandbox_digest)
	node_prep --check
	assert_success
	assert_output_has "hostname=node1" "product_uuid=9b3c4d56-0bb8-1c6d-3ab7-e216b7008b54" "mac=eth0=00:0c:29:00:8b:54" \
		"check passed"
	refute_output_has "==> kernel modules"
	assert_digest "$before"
	assert_no_mutating_calls
}

@test "--check fails when port 6443 is busy" {
	sandbox_init ubuntu2404
	printf '22\n6443\n' >"$STATE_DIR/listening"
	node_prep --check
	assert_status 1
	assert_output_has "FAIL  port 6443/tcp is already in use" "check failed: 1 problem(s)"
}

@test "--check --role worker ignores 6443 but not 10250" {
	sandbox_init ubuntu2404
	printf '6443\n10250\n' >"$STATE_DIR/listening"
	node_prep --check --role worker
	assert_status 1
	assert_output_has "port 10250/tcp is already in use"
	refute_output_has "port 6443/tcp"
}

@test "--check fails on too little memory and too few CPUs" {
	sandbox_init rocky9
	printf 'MemTotal:        1015000 kB\n' >"$ROOT_DIR/proc/meminfo"
	echo 1 >"$STATE_DIR/nproc"
	node_prep --check
	assert_status 1
	assert_output_has "FAIL  memory 991 MiB" "FAIL  1 CPU(s); a control-plane needs at least 2" "check failed: 2 problem(s)"
	node_prep --check --role worker
	assert_status 1
	assert_output_has "check failed: 1 problem(s)"
}

@test "--check fails on an invalid or duplicate-prone hostname" {
	sandbox_init rocky9
	echo Node_1 >"$ROOT_DIR/proc/sys/kernel/hostname"
	node_prep --check
	assert_status 1
	assert_output_has "hostname 'Node_1' is not a valid node name"
	echo localhost >"$ROOT_DIR/proc/sys/kernel/hostname"
	node_prep --check
	assert_status 1
	assert_output_has "hostname is 'localhost'"
}

# --- failures ---------------------------------------------------------------------------------

@test "unsupported distro fails cleanly with nothing written" {
	sandbox_init alpine
	before=$(sandbox_digest)
	node_prep --yes
	assert_status 3
	assert_output_has "unsupported distribution: Alpine Linux v3.20 (ID=alpine)"
	assert_digest "$before"
	assert_no_mutating_calls
	node_prep --check
	assert_status 3
}

@test "not root: refuses before changing anything" {
	sandbox_init ubuntu2404
	echo 1000 >"$STATE_DIR/uid"
	before=$(sandbox_digest)
	node_prep --yes
	assert_status 3
	assert_output_has "must run as root"
	assert_digest "$before"
}

@test "without --yes and without a terminal it refuses and writes nothing" {
	sandbox_init ubuntu2404
	before=$(sandbox_digest)
	node_prep </dev/null
	assert_status 2
	assert_output_has "pass --yes"
	assert_digest "$before"
}

@test "a failing step stops the run with a clear error and no half-written files" {
	sandbox_init rocky9
	export STUB_FAIL="dnf install -y containerd.io"
	node_prep --yes
	assert_status 1
	assert_output_has "node-prep: error: installing containerd.io failed" 'step "containerd" failed'
	refute_output_has "==> kubelet"
	[[ -z $(find "$ROOT_DIR" -name '.node-prep.*') ]]
	[[ ! -e $ROOT_DIR/etc/containerd/config.toml ]]
	# Fixed and re-run: the finished steps report unchanged, the rest completes.
	unset STUB_FAIL
	node_prep --yes
	assert_success
	assert_output_has "[unchanged] modules loaded at boot" "[changed] containerd installed"
}

# --- the kubeadm example ----------------------------------------------------------------------

@test "deploy/kubeadm/cluster-configuration.yaml agrees with the script's defaults" {
	y=$REPO_DIR/deploy/kubeadm/cluster-configuration.yaml
	s=$REPO_DIR/deploy/node-prep.sh
	pod=$(sed -n 's/^DEFAULT_POD_CIDR=//p' "$s")
	svc=$(sed -n 's/^DEFAULT_SERVICE_CIDR=//p' "$s")
	minor=$(sed -n 's/^DEFAULT_K8S_VERSION=//p' "$s")
	grep -Eq "^  podSubnet: \"?$pod\"?$" "$y"
	grep -Eq "^  serviceSubnet: \"?$svc\"?$" "$y"
	grep -Eq "^kubernetesVersion: v$minor\.[0-9]+$" "$y"
	grep -q '^apiVersion: kubeadm.k8s.io/v1beta4$' "$y"
	grep -q '^kind: InitConfiguration$' "$y"
	grep -q '^kind: ClusterConfiguration$' "$y"
	grep -q '^kind: KubeletConfiguration$' "$y"
	grep -q '^cgroupDriver: systemd$' "$y"
	grep -q '^imageRepository: ' "$y"
	grep -q 'criSocket: unix:///run/containerd/containerd.sock' "$y"
}

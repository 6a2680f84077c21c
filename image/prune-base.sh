#!/usr/bin/env bash
# Trims an unpacked Debian root filesystem (image/build.sh's base layer) to what the
# scheduler needs at run time, and records the packages in it for scanners and SBOMs.
#
#   bash image/prune-base.sh ROOTFS
#
# Kept: the interpreter, its libraries, /etc/os-release, the packages' copyright files.
# Cut: dpkg's own tools (no package manager runs in the image), docs, man pages,
# locales, apt's state. /etc/passwd and /etc/group name root and the image's user 65532.
set -euo pipefail
rootfs=$1
cd "$rootfs"

# dpkg's status, from the downloaded packages' control files: with the extract variant no
# maintainer script ran, so nothing else records what is installed. The package manager
# and the tools only it needs (tar, awk) come out whole, and out of the record.
drop_packages=(dpkg tar mawk)
: >var/lib/dpkg/status
for deb in var/cache/apt/archives/*.deb; do
	name=$(dpkg-deb -f "$deb" Package)
	if [[ " ${drop_packages[*]} " == *" $name "* ]]; then
		dpkg-deb --fsys-tarfile "$deb" | tar -t | grep -v '/$' | sed 's|^\./||' |
			while read -r file; do rm -f "./$file"; done
		continue
	fi
	dpkg-deb -f "$deb" | sed '/^Package:/a Status: install ok installed' >>var/lib/dpkg/status
	echo >>var/lib/dpkg/status
done
rm -rf var/cache/apt var/lib/apt var/log/* var/lib/dpkg/info var/lib/dpkg/alternatives \
	var/lib/dpkg/*-old var/lib/dpkg/triggers var/lib/dpkg/updates var/lib/dpkg/parts
mkdir -p var/lib/dpkg

# dpkg's programs and configuration, and what Debian installs for humans.
# mmdebstrap's copies of the build host's resolv.conf and hostname go too: the runtime
# provides both.
rm -rf usr/share/dpkg usr/libexec/dpkg etc/dpkg etc/alternatives etc/cron.daily \
	etc/logrotate.d etc/apt etc/resolv.conf etc/hostname etc/rmt \
	usr/share/man usr/share/info usr/share/locale usr/share/lintian usr/share/bug \
	usr/share/applications usr/share/pixmaps usr/share/polkit-1 usr/share/binfmts \
	usr/share/menu usr/share/doc-base usr/share/bash-completion
# glibc's iconv modules: Python's codecs are its own.
rm -rf usr/lib/*-linux-gnu/gconv
find usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
find usr/share/doc -mindepth 1 -type d -empty -delete

# The image's users. 65532 is the chart's runAsUser; its home is the chart's /tmp emptyDir.
cat >etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin
PASSWD
cat >etc/group <<'GROUP'
root:x:0:
nonroot:x:65532:
GROUP
mkdir -p tmp root
chmod 1777 tmp
chmod 0700 root

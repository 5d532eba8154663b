#!/usr/bin/env bash
# Build a Debian riscv64 root file system as an ext4 image, from Debian's packages:
#
#   OUTDIR/rootfs.ext4         ext4 image: systemd (systemd-sysv, udev, dbus), a console
#                              login for root (no password), the modules of the kernel
#                              fetch-guest.sh fetched (linux-modules-<abi>, depmod'ed)
#   OUTDIR/rootfs.json         rvnest config booting it (Image + initramfs of fetch-guest.sh)
#   OUTDIR/rootfs.packages     the installed packages and versions
#
# Usage: resources/rootfs/build-rootfs.sh [--refresh] [OUTDIR]
#   OUTDIR     default: resources/out, which must hold fetch-guest.sh's assets
#   --refresh  re-read the package index and rebuild if a package changed
#
# How: apt (the private riscv64 configuration of resources/lib/debian-apt.sh) resolves
# and downloads the package set; the Essential packages are unpacked with dpkg-deb into
# a merged-/usr tree; then the riscv64 dpkg inside that tree installs every package,
# running the maintainer scripts as Debian does. The riscv64 programs run on the host
# through proot with qemu-user-static (no binfmt_misc, no chroot, no loop mount needed).
# The tree becomes an image with mkfs.ext4 -d. Needs root (file ownership in the image).
# A second run only checks the stamp, offline.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RES_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
SUITE=${RVNEST_DEBIAN_SUITE:-sid}
# The system: systemd as init with udev and the D-Bus system bus (logind needs it),
# kmod for the kernel's modules, iproute2 and procps to look around. Recommends are not
# installed; the Essential and required packages come from the suite's priorities.
PACKAGES=(systemd systemd-sysv udev dbus kmod iproute2 procps)
# Bump when the layout of the produced image changes, to force a rebuild.
ROOTFS_FORMAT=1

REFRESH=0
OUTDIR=
for arg in "$@"; do
    case "$arg" in
    --refresh) REFRESH=1 ;;
    -h | --help)
        sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "build-rootfs: unknown option $arg" >&2
        exit 2
        ;;
    *) OUTDIR=$arg ;;
    esac
done
OUTDIR=${OUTDIR:-$RES_DIR/out}
CACHE=${RVNEST_GUEST_CACHE:-$RES_DIR/cache}
mkdir -p "$OUTDIR" "$CACHE"
OUTDIR=$(cd "$OUTDIR" && pwd)
CACHE=$(cd "$CACHE" && pwd)

log() { echo "build-rootfs: $*" >&2; }
die() {
    echo "build-rootfs: error: $*" >&2
    exit 1
}
. "$RES_DIR/lib/debian-apt.sh"

[[ -s $OUTDIR/kernel-version && -s $OUTDIR/Image && -s $OUTDIR/initramfs.cpio.gz ]] ||
    die "$OUTDIR has no guest kernel: run resources/fetch-guest.sh $OUTDIR first"
ABI=$(cat "$OUTDIR/kernel-version")
IMAGE=$OUTDIR/rootfs.ext4
STAMP=$OUTDIR/.build-rootfs.stamp
RECIPE_SHA=$(cat "${BASH_SOURCE[0]}" "$RES_DIR/lib/debian-apt.sh" | sha256sum | cut -d' ' -f1)
stamp_get() { sed -n "s/^$1=//p" "$STAMP" 2>/dev/null; }
# image_current [PACKAGE-LIST-HASH]: the image exists and was built by this recipe for
# this kernel (and, if given, this exact package set).
image_current() {
    [[ -s $IMAGE && -s $OUTDIR/rootfs.json && -s $STAMP ]] &&
        [[ $(stamp_get format) == "$ROOTFS_FORMAT" && $(stamp_get recipe) == "$RECIPE_SHA" ]] &&
        [[ $(stamp_get abi) == "$ABI" && $(stamp_get suite) == "$SUITE" ]] &&
        [[ -z ${1:-} || $(stamp_get packages) == "$1" ]]
}
if [[ $REFRESH == 0 ]] && image_current; then
    log "up to date (use --refresh to look for newer packages)"
    exit 0
fi

[[ $(id -u) == 0 ]] || die "run as root: the image's files belong to root and other system users"
need_pkgs=()
command -v proot >/dev/null || need_pkgs+=(proot)
command -v qemu-riscv64-static >/dev/null || need_pkgs+=(qemu-user-static)
command -v mkfs.ext4 >/dev/null || need_pkgs+=(e2fsprogs)
if ((${#need_pkgs[@]})); then
    log "installing host packages: ${need_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

debian_apt_init "$CACHE" "$SUITE" "$REFRESH"

# ---------------------------------------------------------------------------
# The package set: apt resolves it against an empty system.
# ---------------------------------------------------------------------------
WORK=$CACHE/rootfs
DEBS=$WORK/debs
mkdir -p "$DEBS/partial"
: >"$WORK/empty-status"
rapt() {
    papt -o "Dir::State::status=$WORK/empty-status" -o "Dir::Cache::archives=$DEBS" \
        -o APT::Install-Recommends=false "$@"
}
# resolve PATTERN... -> "package version" lines, in apt's install order.
resolve() { rapt -s install "$@" | awk '$1 == "Inst" { v = $3; gsub(/[()]/, "", v); print $2, v }'; }
ESSENTIAL=$(resolve '?essential')
ALL=$(resolve '?essential' '?priority(required)' "${PACKAGES[@]}" "linux-modules-$ABI")
[[ -n $ESSENTIAL && -n $ALL ]] || die "apt could not resolve the package set in $SUITE"
PKG_HASH=$(sha256sum <<<"$ALL" | cut -d' ' -f1)
if image_current "$PKG_HASH"; then
    log "up to date"
    exit 0
fi

# The kernel's modules are already in fetch-guest.sh's cache: link, do not download again.
for f in "$CACHE"/debs/linux-modules-"$ABI"_*.deb; do
    [[ -e $f && ! -e $DEBS/$(basename "$f") ]] && ln "$f" "$DEBS/" 2>/dev/null || cp "$f" "$DEBS/" 2>/dev/null || true
done
[[ $(id -u) != 0 ]] || chown _apt "$DEBS/partial" 2>/dev/null || true
log "downloading $(wc -l <<<"$ALL") packages (cached in $DEBS)"
rapt -y --download-only install '?essential' '?priority(required)' "${PACKAGES[@]}" "linux-modules-$ABI" >&2
deb_of() { # package version -> its .deb in the archive dir
    local f
    f=$(printf '%s/%s_%s_riscv64.deb' "$DEBS" "$1" "${2//:/%3a}")
    [[ -s $f ]] || f=$(printf '%s/%s_%s_all.deb' "$DEBS" "$1" "${2//:/%3a}")
    [[ -s $f ]] || die "apt did not download $1 $2"
    echo "$f"
}

# ---------------------------------------------------------------------------
# Stage 1: unpack the Essential packages into a merged-/usr tree.
# ---------------------------------------------------------------------------
ROOT=$WORK/tree
rm -rf "$ROOT"
mkdir -p "$ROOT"/{usr/bin,usr/sbin,usr/lib,etc,var/lib/dpkg/updates,var/lib/dpkg/info,tmp,proc,sys,dev,run,root}
for d in bin sbin lib; do ln -s "usr/$d" "$ROOT/$d"; done
chmod 1777 "$ROOT/tmp"
: >"$ROOT/var/lib/dpkg/status"
: >"$ROOT/var/lib/dpkg/available"
log "stage 1: unpacking $(wc -l <<<"$ESSENTIAL") Essential packages"
while read -r p v; do
    dpkg-deb --fsys-tarfile "$(deb_of "$p" "$v")" | tar -x --keep-directory-symlink -C "$ROOT"
done <<<"$ESSENTIAL"

# ---------------------------------------------------------------------------
# Stage 2: the target's own dpkg installs everything, under proot + qemu-user.
# ---------------------------------------------------------------------------
mkdir -p "$ROOT/var/cache/rvnest-debs"
while read -r p v; do ln "$(deb_of "$p" "$v")" "$ROOT/var/cache/rvnest-debs/" 2>/dev/null ||
    cp "$(deb_of "$p" "$v")" "$ROOT/var/cache/rvnest-debs/"; done <<<"$ALL"
in_target() {
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true \
        proot -0 -q qemu-riscv64-static -r "$ROOT" -w / -b /dev -b /proc -b /sys "$@"
}
# No service may start while installing (the policy-rc.d convention).
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
debs_in_target() { while read -r p v; do echo "/var/cache/rvnest-debs/$(basename "$(deb_of "$p" "$v")")"; done; }
log "stage 2: dpkg --install of the Essential packages"
mapfile -t ess < <(debs_in_target <<<"$ESSENTIAL")
in_target dpkg --force-depends --install "${ess[@]}" >"$WORK/dpkg-essential.log" 2>&1 ||
    { tail -n 30 "$WORK/dpkg-essential.log" >&2; die "dpkg failed (log: $WORK/dpkg-essential.log)"; }
# systemd-tmpfiles trips proot (its fd-relative path calls); the units that run it at
# every boot (systemd-tmpfiles-setup*.service) create what the packages' postinst would.
in_target dpkg-divert --quiet --local --rename --add /usr/bin/systemd-tmpfiles
printf '#!/bin/sh\nexit 0\n' >"$ROOT/usr/bin/systemd-tmpfiles"
chmod 0755 "$ROOT/usr/bin/systemd-tmpfiles"
# As debootstrap's second stage: unpack all (pre-dependencies are on disk already),
# then configure in dependency order.
log "stage 2: dpkg --unpack + --configure of the rest"
mapfile -t rest < <(grep -vxF -f <(echo "$ESSENTIAL") <<<"$ALL" | debs_in_target)
{ in_target dpkg --force-depends --unpack "${rest[@]}" && in_target dpkg --configure -a; } >"$WORK/dpkg-rest.log" 2>&1 ||
    { tail -n 30 "$WORK/dpkg-rest.log" >&2; die "dpkg failed (log: $WORK/dpkg-rest.log)"; }
if in_target dpkg --audit | grep -q .; then
    in_target dpkg --audit >&2
    die "packages left unconfigured (log: $WORK/dpkg-rest.log)"
fi
rm -f "$ROOT/usr/bin/systemd-tmpfiles"
in_target dpkg-divert --quiet --local --rename --remove /usr/bin/systemd-tmpfiles

# ---------------------------------------------------------------------------
# The system's own settings (what the installer would ask).
# ---------------------------------------------------------------------------
log "configuring"
rm -f "$ROOT/usr/sbin/policy-rc.d"
rm -rf "$ROOT/var/cache/rvnest-debs"
echo rvnest >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\trvnest\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
printf '# <file system> <mount point> <type> <options> <dump> <pass>\n/dev/vda / ext4 defaults 0 1\n' >"$ROOT/etc/fstab"
# root logs in on the console without a password (a test image).
in_target passwd --delete root >/dev/null
# An empty machine-id: systemd makes one at boot, without first-boot prompts.
: >"$ROOT/etc/machine-id"
in_target depmod "$ABI"
in_target systemctl set-default multi-user.target >/dev/null 2>&1
in_target dpkg-query -W -f '${Package} ${Version}\n' | sort >"$OUTDIR/rootfs.packages"
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/log/dpkg.log \
    "$ROOT"/var/log/apt/* "$ROOT"/tmp/* "$ROOT"/root/.bash_history

# ---------------------------------------------------------------------------
# The image: the tree's size plus room to write.
# ---------------------------------------------------------------------------
used_mib=$(du -s --block-size=1M "$ROOT" | cut -f1)
size_mib=$(((used_mib * 3 / 2 + 256 + 63) / 64 * 64))
log "making $IMAGE (${size_mib} MiB, ${used_mib} MiB used)"
rm -f "$IMAGE.tmp"
mkfs.ext4 -q -F -L rootfs -d "$ROOT" "$IMAGE.tmp" "${size_mib}M"
mv "$IMAGE.tmp" "$IMAGE"
cat >"$OUTDIR/rootfs.json" <<JSON
{
  "boot-source": {
    "kernel_image_path": "$OUTDIR/Image",
    "initrd_path": "$OUTDIR/initramfs.cpio.gz",
    "boot_args": "console=ttyS0 earlycon=sbi panic=-1 rvnest.init=switch_root rvnest.kvm=0 rvnest.cpuinfo=0 rvnest.modules=virtio_mmio,virtio_blk,ext4"
  },
  "machine-config": {
    "vcpu_count": 1,
    "mem_size_mib": 1024,
    "backend": "soft"
  },
  "drives": [
    {
      "drive_id": "rootfs",
      "path_on_host": "$IMAGE",
      "is_root_device": true,
      "is_read_only": false,
      "cache_type": "Writeback"
    }
  ]
}
JSON
{
    echo "format=$ROOTFS_FORMAT"
    echo "recipe=$RECIPE_SHA"
    echo "abi=$ABI"
    echo "suite=$SUITE"
    echo "packages=$PKG_HASH"
} >"$STAMP"
rm -rf "$ROOT"
# Drop downloaded packages no longer in the set.
for f in "$DEBS"/*.deb; do
    b=$(basename "$f")
    grep -qxF "$b" <(while read -r p v; do basename "$(deb_of "$p" "$v")"; done <<<"$ALL") || rm -f "$f"
done
log "done: $(du -h "$IMAGE" | cut -f1) $IMAGE ($(wc -l <"$OUTDIR/rootfs.packages") packages)"

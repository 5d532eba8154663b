#!/usr/bin/env bash
# Fetch a real riscv64 guest from Debian's packages and build test assets:
#
#   OUTDIR/Image               uncompressed RISC-V Linux Image (from linux-binary-<abi>)
#   OUTDIR/initramfs.cpio.gz   busybox-static + kvm.ko (+ deps, + a few virtio modules)
#   OUTDIR/vm.json             example rvnest config (Firecracker format)
#   OUTDIR/busybox             the static riscv64 busybox, for the root file systems
#                              that tests build with mkfs.ext4 -d
#   OUTDIR/kernel-version      the kernel ABI name, e.g. 7.2.13+deb14-riscv64
#
# Usage: resources/fetch-guest.sh [--refresh] [OUTDIR]
#   OUTDIR     default: resources/out (cache: resources/cache, or $RVNEST_GUEST_CACHE)
#   --refresh  re-read the package index and rebuild if the kernel changed
#
# The riscv64 packages come from Debian's newest suite ($RVNEST_DEBIAN_SUITE, default
# sid) through a private apt configuration under the cache dir. The mirror is taken at
# run time from this machine's apt sources (or $RVNEST_DEBIAN_MIRROR); the index is
# verified with the machine's Debian archive keyring. A second run is offline: it only
# checks that the outputs exist and match the recorded version.
#
# See resources/README.md for the guest's /init, its command-line options and markers.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE=${RVNEST_DEBIAN_SUITE:-sid}
# Modules copied into the initramfs besides kvm (loaded only on request, see README).
EXTRA_MODULES=${RVNEST_EXTRA_MODULES:-virtio_mmio virtio_blk virtio_net virtio_console virtio_rng vmw_vsock_virtio_transport ext4}
# Bump when the layout of the produced files changes, to force a rebuild.
ASSET_FORMAT=5

REFRESH=0
OUTDIR=
for arg in "$@"; do
    case "$arg" in
    --refresh) REFRESH=1 ;;
    -h | --help)
        sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "fetch-guest: unknown option $arg" >&2
        exit 2
        ;;
    *) OUTDIR=$arg ;;
    esac
done
OUTDIR=${OUTDIR:-$SCRIPT_DIR/out}
CACHE=${RVNEST_GUEST_CACHE:-$SCRIPT_DIR/cache}
mkdir -p "$OUTDIR" "$CACHE"
OUTDIR=$(cd "$OUTDIR" && pwd)
CACHE=$(cd "$CACHE" && pwd)

log() { echo "fetch-guest: $*" >&2; }
die() {
    echo "fetch-guest: error: $*" >&2
    exit 1
}
. "$SCRIPT_DIR/lib/debian-apt.sh"

# ---------------------------------------------------------------------------
# Fast path: everything already built for the recorded version.
# ---------------------------------------------------------------------------
STAMP=$OUTDIR/.fetch-guest.stamp
INIT_SHA=$(sha256sum <"$SCRIPT_DIR/guest/init" | cut -d' ' -f1)
stamp_get() { sed -n "s/^$1=//p" "$STAMP" 2>/dev/null; }
# outputs_current [VERSION]: the outputs exist and were built by this script's format
# and init, for the given linux-image-riscv64 version (default: whatever was built).
outputs_current() {
    [[ -s $STAMP && -s $OUTDIR/Image && -s $OUTDIR/initramfs.cpio.gz && -s $OUTDIR/vm.json ]] &&
        [[ -x $OUTDIR/busybox ]] &&
        [[ $(stamp_get format) == "$ASSET_FORMAT" && $(stamp_get outdir) == "$OUTDIR" ]] &&
        [[ $(stamp_get init) == "$INIT_SHA" && $(stamp_get suite) == "$SUITE" ]] &&
        [[ $(cat "$OUTDIR/kernel-version" 2>/dev/null) == "$(stamp_get abi)" ]] &&
        [[ -z ${1:-} || $(stamp_get version) == "$1" ]]
}

# Fast path: everything already built; no network, no apt.
if [[ $REFRESH == 0 ]] && outputs_current; then
    log "up to date (use --refresh to look for a newer kernel)"
    echo "kernel: $(cat "$OUTDIR/kernel-version")"
    exit 0
fi

# ---------------------------------------------------------------------------
# Host tools.
# ---------------------------------------------------------------------------
need_pkgs=()
need() { command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2"); }
need cpio cpio
need xz xz-utils
need zstd zstd
need gzip gzip
need dpkg-deb dpkg
need apt-get apt
need od coreutils
[[ -s $KEYRING_DEFAULT ]] || need_pkgs+=(debian-archive-keyring)
[[ -d /etc/ssl/certs ]] || need_pkgs+=(ca-certificates)
if ((${#need_pkgs[@]})); then
    [[ $(id -u) == 0 ]] || die "missing host packages: ${need_pkgs[*]} (run as root or install them)"
    log "installing host packages: ${need_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# ---------------------------------------------------------------------------
# The riscv64 index, through the private apt configuration of resources/lib.
# ---------------------------------------------------------------------------
debian_apt_init "$CACHE" "$SUITE" "$REFRESH"

# ---------------------------------------------------------------------------
# Which kernel: linux-image-riscv64 -> linux-image-<abi> -> linux-binary/modules-<abi>.
# ---------------------------------------------------------------------------

META_VER=$(candidate linux-image-riscv64)
[[ -n $META_VER && $META_VER != "(none)" ]] || die "linux-image-riscv64 not found in $SUITE"
ABI=$(pcache show "linux-image-riscv64=$META_VER" | sed -n 's/^Depends: //p' | head -n1 |
    tr ',' '\n' | sed -n 's/^ *linux-image-\([^ ]*-riscv64\)\( .*\)\{0,1\}$/\1/p' | head -n1)
[[ -n $ABI ]] || die "cannot find the kernel ABI in linux-image-riscv64's dependencies"
log "kernel: linux-image-riscv64 $META_VER -> $ABI"
if outputs_current "$META_VER" && [[ $(stamp_get busybox) == "$(candidate busybox-static)" ]]; then
    log "up to date"
    echo "kernel: $ABI"
    exit 0
fi

if has_pkg "linux-binary-$ABI"; then BIN_PKG=linux-binary-$ABI; else BIN_PKG=linux-image-$ABI; fi
if has_pkg "linux-modules-$ABI"; then MOD_PKG=linux-modules-$ABI; else MOD_PKG=linux-image-$ABI; fi
PKGS=("$BIN_PKG" "$MOD_PKG" busybox-static)
mapfile -t PKGS < <(printf '%s\n' "${PKGS[@]}" | awk '!seen[$0]++')

# ---------------------------------------------------------------------------
# Download (apt-get download; skipped when the .deb of the candidate is cached).
# ---------------------------------------------------------------------------
DEBS=$CACHE/debs
mkdir -p "$DEBS"
deb_path() { # $1 = package -> cached path of its candidate's .deb
    local v
    v=$(candidate "$1")
    printf '%s/%s_%s_riscv64.deb' "$DEBS" "$1" "${v//:/%3a}"
}
to_fetch=()
for p in "${PKGS[@]}"; do
    has_pkg "$p" || die "package $p not found in $SUITE"
    [[ -s $(deb_path "$p") ]] || to_fetch+=("$p")
done
if ((${#to_fetch[@]})); then
    log "downloading ${to_fetch[*]}"
    papt_download "$DEBS" "${to_fetch[@]}"
fi

# ---------------------------------------------------------------------------
# Extract.
# ---------------------------------------------------------------------------
EXTRACT=$CACHE/extract
extract_deb() { # $1 = package -> prints the extraction root
    local deb root
    deb=$(deb_path "$1")
    root=$EXTRACT/$(basename "$deb" .deb)
    if [[ ! -f $root/.done ]]; then
        rm -rf "$root" && mkdir -p "$root"
        dpkg-deb -x "$deb" "$root"
        touch "$root/.done"
    fi
    echo "$root"
}
BIN_ROOT=$(extract_deb "$BIN_PKG")
MOD_ROOT=$(extract_deb "$MOD_PKG")
BB_ROOT=$(extract_deb busybox-static)

VMLINUZ=
for c in "$BIN_ROOT/usr/lib/modules/$ABI/vmlinuz" "$BIN_ROOT/boot/vmlinuz-$ABI" "$BIN_ROOT/boot/vmlinux-$ABI"; do
    if [[ -s $c ]]; then
        VMLINUZ=$c
        break
    fi
done
[[ -n $VMLINUZ ]] || die "no vmlinuz in $BIN_PKG"
MODDIR=
for c in "$MOD_ROOT/usr/lib/modules/$ABI" "$MOD_ROOT/lib/modules/$ABI"; do
    if [[ -d $c/kernel ]]; then
        MODDIR=$c
        break
    fi
done
[[ -n $MODDIR ]] || die "no modules directory in $MOD_PKG"
BUSYBOX=$BB_ROOT/usr/bin/busybox
[[ -s $BUSYBOX ]] || BUSYBOX=$BB_ROOT/bin/busybox
[[ -s $BUSYBOX ]] || die "no busybox in busybox-static"

# ---------------------------------------------------------------------------
# Image: plain RISC-V Image, gzip, or EFI zboot -> uncompressed Image.
# ---------------------------------------------------------------------------
bytes_at() { dd if="$1" bs=1 skip="$2" count="$3" status=none; }
hex_at() { od -An -v -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }
u32le_at() {
    local h
    h=$(hex_at "$1" "$2" 4)
    echo $((16#${h:6:2}${h:4:2}${h:2:2}${h:0:2}))
}
is_riscv_image() { [[ $(hex_at "$1" 48 8) == 5249534356000000 && $(hex_at "$1" 56 4) == 52534305 ]]; }

decompress() { # $1 = type, stdin -> stdout
    case "$1" in
    gzip) gzip -dc ;;
    xz) xz -dc ;;
    lzma) xz -dc --format=lzma ;;
    zstd) zstd -dcq ;;
    bzip2) bzip2 -dc ;;
    lz4) lz4 -dc ;;
    lzo) lzop -dc ;;
    *) die "unsupported kernel compression $1" ;;
    esac
}

make_image() { # $1 = vmlinuz, $2 = output Image
    local in=$1 out=$2 tmp=$2.tmp
    if is_riscv_image "$in"; then
        cp "$in" "$tmp"
    elif [[ $(hex_at "$in" 0 2) == 4d5a && $(bytes_at "$in" 4 4) == zimg ]]; then
        local off size comp
        off=$(u32le_at "$in" 8)
        size=$(u32le_at "$in" 12)
        comp=$(bytes_at "$in" 24 32 | tr -d '\0')
        log "EFI zboot image: $comp payload at $off, $size bytes"
        tail -c +$((off + 1)) "$in" | head -c "$size" | decompress "$comp" >"$tmp"
    elif [[ $(hex_at "$in" 0 2) == 1f8b ]]; then
        gzip -dc "$in" >"$tmp"
    else
        die "unknown kernel image format: $in"
    fi
    is_riscv_image "$tmp" || die "decompressed kernel has no RISC-V Image header"
    mv "$tmp" "$out"
}

# ---------------------------------------------------------------------------
# Modules: kvm + its dependencies (from each module's .modinfo "depends=").
# ---------------------------------------------------------------------------
declare -A MOD_INDEX=()
while IFS= read -r -d '' f; do
    n=$(basename "$f")
    n=${n%%.ko*}
    MOD_INDEX[${n//-/_}]=$f
done < <(find "$MODDIR/kernel" -name '*.ko*' -print0)

ko_bytes() { # $1 = module file -> uncompressed bytes on stdout
    case "$1" in
    *.ko.xz) xz -dc "$1" ;;
    *.ko.zst) zstd -dcq "$1" ;;
    *.ko.gz) gzip -dc "$1" ;;
    *.ko) cat "$1" ;;
    esac
}
mod_depends() { # $1 = module name -> dependency names, one a line
    ko_bytes "${MOD_INDEX[$1]}" | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' '\n' | sed '/^$/d; s/-/_/g'
}
declare -A MOD_SEEN=()
MOD_ORDER=()
resolve_mod() { # depth-first: dependencies first
    local m=${1//-/_} d
    [[ -n ${MOD_SEEN[$m]:-} ]] && return
    MOD_SEEN[$m]=1
    [[ -n ${MOD_INDEX[$m]:-} ]] || die "module $m not found in $MOD_PKG (built in?)"
    for d in $(mod_depends "$m"); do resolve_mod "$d"; done
    MOD_ORDER+=("$m")
}
resolve_mod kvm
KVM_CHAIN=("${MOD_ORDER[@]}")
for m in $EXTRA_MODULES; do
    if [[ -n ${MOD_INDEX[${m//-/_}]:-} ]]; then resolve_mod "$m"; else log "note: module $m not in $MOD_PKG (built in?), skipped"; fi
done

# ---------------------------------------------------------------------------
# initramfs.
# ---------------------------------------------------------------------------
build_initramfs() { # $1 = output .cpio.gz
    local root=$CACHE/initramfs-root m rel
    rm -rf "$root"
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc,run,mnt}
    cp "$BUSYBOX" "$root/bin/busybox"
    chmod 0755 "$root/bin/busybox"
    ln -s busybox "$root/bin/sh"
    if [[ $(id -u) == 0 ]]; then
        mknod -m 600 "$root/dev/console" c 5 1
        mknod -m 666 "$root/dev/null" c 1 3
    fi
    chmod 1777 "$root/tmp"
    mkdir -p "$root/lib/modules/$ABI"
    : >"$root/lib/modules/$ABI/modules.order"
    for m in "${MOD_ORDER[@]}"; do
        rel=${MOD_INDEX[$m]#"$MODDIR"/}
        rel=${rel%.xz}
        rel=${rel%.zst}
        rel=${rel%.gz}
        mkdir -p "$root/lib/modules/$ABI/$(dirname "$rel")"
        ko_bytes "${MOD_INDEX[$m]}" >"$root/lib/modules/$ABI/$rel"
        # name<TAB>path: the init's own tiny module index (load order = file order).
        printf '%s\t/lib/modules/%s/%s\n' "$m" "$ABI" "$rel" >>"$root/lib/modules/$ABI/rvnest.modules"
        echo "$rel" >>"$root/lib/modules/$ABI/modules.order"
    done
    for m in "${MOD_ORDER[@]}"; do
        printf '%s:' "$m"
        mod_depends "$m" | tr '\n' ' '
        echo
    done >"$root/lib/modules/$ABI/rvnest.deps"
    echo "${KVM_CHAIN[*]}" >"$root/lib/modules/$ABI/rvnest.kvm-chain"
    echo "$ABI" >"$root/etc/rvnest-kernel"
    cp "$SCRIPT_DIR/guest/init" "$root/init"
    chmod 0755 "$root/init"
    # Reproducible archive: sorted names, fixed owners and times.
    find "$root" -exec touch -h -d @0 {} +
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
        cpio --quiet -o -H newc --owner=0:0 --reproducible) | gzip -9n >"$1.tmp"
    mv "$1.tmp" "$1"
}

log "building $OUTDIR/Image"
make_image "$VMLINUZ" "$OUTDIR/Image"
log "building $OUTDIR/initramfs.cpio.gz (modules: ${MOD_ORDER[*]})"
build_initramfs "$OUTDIR/initramfs.cpio.gz"
echo "$ABI" >"$OUTDIR/kernel-version"

install -m 0755 "$BUSYBOX" "$OUTDIR/busybox"
cat >"$OUTDIR/vm.json" <<EOF
{
  "boot-source": {
    "kernel_image_path": "$OUTDIR/Image",
    "initrd_path": "$OUTDIR/initramfs.cpio.gz",
    "boot_args": "console=ttyS0 earlycon=sbi panic=-1"
  },
  "machine-config": {
    "vcpu_count": 1,
    "mem_size_mib": 512,
    "backend": "soft"
  }
}
EOF

{
    echo "format=$ASSET_FORMAT"
    echo "outdir=$OUTDIR"
    echo "suite=$SUITE"
    echo "abi=$ABI"
    echo "init=$INIT_SHA"
    echo "version=$META_VER"
    echo "busybox=$(candidate busybox-static)"
    echo "modules=${MOD_ORDER[*]}"
} >"$STAMP"

# Drop cached packages and extractions of other versions.
keep=()
for p in "${PKGS[@]}"; do keep+=("$(basename "$(deb_path "$p")" .deb)"); done
for f in "$DEBS"/*.deb "$EXTRACT"/*; do
    [[ -e $f ]] || continue
    b=$(basename "$f" .deb)
    if ! printf '%s\n' "${keep[@]}" | grep -qxF "$b"; then
        log "removing stale $f"
        rm -rf "$f"
    fi
done
rm -f "$APTDIR/srcpkgcache.bin"

log "done: $(du -h "$OUTDIR/Image" | cut -f1) Image, $(du -h "$OUTDIR/initramfs.cpio.gz" | cut -f1) initramfs"
echo "kernel: $ABI"

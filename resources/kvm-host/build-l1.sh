#!/usr/bin/env bash
# Builds the initramfs of the L1 guest that runs rvnest on KVM inside QEMU:
#
#   OUTDIR/l1-initramfs.cpio   the standard test initramfs (busybox, kvm.ko, ...) with
#                              /init = resources/kvm-host/init, /bin/rvnest (riscv64,
#                              static) and /l2/{Image,initramfs.cpio.gz}
#   OUTDIR/Image               the L1 kernel (Debian's riscv64 kernel, as for L2)
#
# Usage: resources/kvm-host/build-l1.sh [--rvnest PATH] [GUEST_DIR [OUTDIR]]
#   GUEST_DIR  the assets of resources/fetch-guest.sh (default resources/out)
#   OUTDIR     default GUEST_DIR/kvm-host
#   --rvnest   the riscv64 binary (default target/riscv64gc-unknown-linux-gnu/release/rvnest,
#              under $CARGO_TARGET_DIR when set)
#
# The archive is left uncompressed: the L1 kernel runs under TCG, where unpacking an
# uncompressed 40 MiB cpio takes a fraction of what gunzip would.
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
RVNEST=${CARGO_TARGET_DIR:-$ROOT/target}/riscv64gc-unknown-linux-gnu/release/rvnest
args=()
while (($#)); do
    case "$1" in
    --rvnest) RVNEST=$2; shift 2 ;;
    -h | --help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1"); shift ;;
    esac
done
GUEST=${args[0]:-$ROOT/resources/out}
OUT=${args[1]:-$GUEST/kvm-host}
die() { echo "build-l1: error: $*" >&2; exit 1; }

for f in Image initramfs.cpio.gz; do
    [[ -s $GUEST/$f ]] || die "$GUEST/$f missing: run resources/fetch-guest.sh"
done
GUEST=$(cd "$GUEST" && pwd)
[[ -x $RVNEST ]] || die "$RVNEST missing: cargo build --release -p vmm --target riscv64gc-unknown-linux-gnu"
file -b "$RVNEST" | grep -q 'RISC-V' || die "$RVNEST is not a RISC-V binary"
file -b "$RVNEST" | grep -Eq 'statically linked|static-pie linked' || die "$RVNEST is not statically linked"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
(cd "$tree" && gzip -dc "$GUEST/initramfs.cpio.gz" | cpio --quiet -id --no-absolute-filenames)
[[ -f $tree/lib/modules/$(cat "$GUEST/kernel-version")/rvnest.deps ]] ||
    die "the guest initramfs has no module index (rebuild it with resources/fetch-guest.sh)"
install -m 0755 "$SCRIPT_DIR/init" "$tree/init"
install -m 0755 "$RVNEST" "$tree/bin/rvnest"
mkdir -p "$tree/l2"
cp "$GUEST/Image" "$GUEST/initramfs.cpio.gz" "$tree/l2/"
find "$tree" -exec touch -h -d @0 {} +
(cd "$tree" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc --owner=0:0 --reproducible) >"$OUT/l1-initramfs.cpio.tmp"
mv "$OUT/l1-initramfs.cpio.tmp" "$OUT/l1-initramfs.cpio"
cp "$GUEST/Image" "$OUT/Image"
echo "build-l1: $OUT/l1-initramfs.cpio ($(du -h "$OUT/l1-initramfs.cpio" | cut -f1)), kernel $(cat "$GUEST/kernel-version")"

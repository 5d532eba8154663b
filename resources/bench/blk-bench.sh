#!/usr/bin/env bash
# virtio-blk throughput inside the guest, rvnest (soft backend) next to QEMU TCG's
# virtio-blk-device, same kernel, initramfs and images, in one run. The root is an
# ext4 image (mkfs.ext4 -d around busybox) whose /sbin/init times busybox dd on a
# 256 MiB raw data drive (/dev/vdb, O_DIRECT) with /proc/uptime.
#
# Usage: resources/bench/blk-bench.sh   (after cargo build --release -p vmm and
# resources/fetch-guest.sh). Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
G=$(realpath "${RVNEST_GUEST_DIR:-resources/out}")
RVNEST=$(realpath "${RVNEST_BIN:-target/release/rvnest}")
work=$(mktemp -d /tmp/rvnest-blk-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/tree/{bin,sbin,dev,proc,sys,tmp}
cp "$G/busybox" "$work/tree/bin/busybox"
ln -s busybox "$work/tree/bin/sh"
cat >"$work/tree/sbin/init" <<'INIT'
#!/bin/sh
export PATH=/bin
busybox mount -t proc proc /proc
t() { busybox cut -d' ' -f1 /proc/uptime; }
run() {
    name=$1; shift
    a=$(t); busybox dd "$@" 2>/dev/null; b=$(t)
    echo "BENCH $name $(busybox awk -v a=$a -v b=$b -v mib=$MIB 'BEGIN { printf "%.1f", mib/(b-a) }')"
}
MIB=128 run seq-read-1M if=/dev/vdb of=/dev/null bs=1M count=128 iflag=direct
MIB=128 run seq-write-1M-fsync if=/dev/zero of=/dev/vdb bs=1M count=128 oflag=direct conv=fsync
MIB=32 run read-4k if=/dev/vdb of=/dev/null bs=4k count=8192 iflag=direct
MIB=32 run write-4k if=/dev/zero of=/dev/vdb bs=4k count=8192 oflag=direct
busybox poweroff -f
INIT
chmod 0755 "$work/tree/sbin/init"
ARGS="console=ttyS0 earlycon=sbi panic=-1 rvnest.kvm=0 rvnest.cpuinfo=0 rvnest.init=switch_root rvnest.modules=virtio_mmio,virtio_blk,ext4"
images() {
    rm -f "$work/root.ext4" "$work/data.img"
    truncate -s 64M "$work/root.ext4"
    mkfs.ext4 -q -F -d "$work/tree" "$work/root.ext4"
    truncate -s 256M "$work/data.img"
}
images
cat >"$work/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$G/Image", "initrd_path": "$G/initramfs.cpio.gz", "boot_args": "$ARGS"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 512, "backend": "soft"},
 "drives": [{"drive_id": "rootfs", "path_on_host": "$work/root.ext4", "is_root_device": true},
            {"drive_id": "data", "path_on_host": "$work/data.img", "is_root_device": false, "cache_type": "Writeback"}]}
JSON
rv=$(timeout 600 "$RVNEST" --config-file "$work/vm.json" </dev/null 2>&1 | grep '^BENCH')
images
qemu=$(timeout 600 qemu-system-riscv64 -M virt -cpu rv64 -smp 1 -m 512 -nographic -bios default \
    -kernel "$G/Image" -initrd "$G/initramfs.cpio.gz" -append "$ARGS root=/dev/vda rw" \
    -drive "file=$work/root.ext4,if=none,id=r,format=raw,cache=writeback" -device virtio-blk-device,drive=r \
    -drive "file=$work/data.img,if=none,id=d,format=raw,cache=writeback" -device virtio-blk-device,drive=d \
    -no-reboot </dev/null 2>&1 | tr -d '\r' | grep '^BENCH')
echo "| test | rvnest soft (MiB/s) | QEMU TCG (MiB/s) | ratio rvnest/QEMU |"
echo "|---|---|---|---|"
for t in seq-read-1M seq-write-1M-fsync read-4k write-4k; do
    a=$(echo "$rv" | awk -v t=$t '$2 == t { print $3 }')
    b=$(echo "$qemu" | awk -v t=$t '$2 == t { print $3 }')
    r=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
    echo "| $t | $a | $b | $r |"
done

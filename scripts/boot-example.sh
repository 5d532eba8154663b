#!/usr/bin/env bash
# Boots Debian's riscv64 kernel with a busybox initramfs on rvnest's software hart.
# Does its own set-up: host packages, guest assets (cached), a release build.
#   --rootfs   boot the Debian root file system of resources/rootfs/build-rootfs.sh
#              instead (systemd to a console login: user root, no password; the image,
#              resources/out/rootfs.ext4, keeps what you change; `systemctl poweroff`
#              ends the VM)
# Extra arguments go to rvnest; RVNEST_VCPUS picks the number of harts (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
rootfs=0
if [ "${1:-}" = "--rootfs" ]; then
  rootfs=1
  shift
fi
. scripts/ensure-rust.sh
bash resources/setup-host.sh
bash resources/fetch-guest.sh resources/out
config=resources/out/vm.json
if [ $rootfs = 1 ]; then
  bash resources/rootfs/build-rootfs.sh resources/out
  config=resources/out/rootfs.json
fi
cargo build --release -p vmm
if [ -n "${RVNEST_VCPUS:-}" ]; then
  tmp=$(mktemp --suffix=.json)
  sed "s/\"vcpu_count\": *[0-9]*/\"vcpu_count\": ${RVNEST_VCPUS}/" "$config" > "$tmp"
  config=$tmp
fi
exec target/release/rvnest --config-file "$config" "$@"

#!/usr/bin/env bash
# Boots Debian's riscv64 kernel with a busybox initramfs on rvnest's software hart.
# Does its own set-up: host packages, guest assets (cached), a release build.
# Extra arguments go to rvnest; RVNEST_VCPUS picks the number of harts (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-rust.sh
bash resources/setup-host.sh
bash resources/fetch-guest.sh resources/out
cargo build --release -p vmm
config=resources/out/vm.json
if [ -n "${RVNEST_VCPUS:-}" ]; then
  config=$(mktemp --suffix=.json)
  sed "s/\"vcpu_count\": *[0-9]*/\"vcpu_count\": ${RVNEST_VCPUS}/" resources/out/vm.json > "$config"
fi
exec target/release/rvnest --config-file "$config" "$@"

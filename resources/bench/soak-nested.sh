#!/usr/bin/env bash
# Soak test of the nested stack: rvnest (soft backend, nesting on) -> Debian L1 with
# KVM -> the riscv64 rvnest (kvm backend, seccomp filters on) -> Debian L2, N times
# in a row, NACL on and off alternately, while a CPU-bound load runs beside it on
# the host. Every run must reach the L2's userspace and power off (L1 reports
# "RVNEST-L1-RVNEST-EXIT rc=0") within the time limit; a hang or failure keeps its
# log and the script exits 1 after the last run.
#
# Usage: resources/bench/soak-nested.sh [-n N] [--limit SECONDS] [--rvnest BIN] [--l1-dir DIR]
#   -n        runs (default 50)
#   --limit   per-run limit in seconds (default 900)
#   --l1-dir  the output of resources/kvm-host/build-l1.sh (default resources/out/kvm-host)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
runs=50
limit=900
rvnest=$ROOT/target/release/rvnest
l1=$ROOT/resources/out/kvm-host
while (($#)); do
    case "$1" in
    -n) runs=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --rvnest) rvnest=$2; shift 2 ;;
    --l1-dir) l1=$2; shift 2 ;;
    *) echo "usage: $0 [-n N] [--limit SECONDS] [--rvnest BIN] [--l1-dir DIR]" >&2; exit 2 ;;
    esac
done
[[ -x $rvnest ]] || { echo "soak-nested: $rvnest missing (cargo build --release -p vmm)" >&2; exit 1; }
[[ -s $l1/Image && -s $l1/l1-initramfs.cpio ]] || { echo "soak-nested: run resources/kvm-host/build-l1.sh first" >&2; exit 1; }
work=$(mktemp -d)
load_pid=
cleanup() {
    [[ -n $load_pid ]] && kill "$load_pid" 2>/dev/null || true
}
trap cleanup EXIT

for nacl in true false; do
    cat >"$work/nacl-$nacl.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$l1/Image", "initrd_path": "$l1/l1-initramfs.cpio",
                   "boot_args": "console=ttyS0 panic=-1" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 2048, "backend": "soft",
                      "nested": true, "nacl": {"enabled": $nacl} }
}
JSON
done

# The second load: one CPU-bound process, as another VM or a build would be.
( while :; do :; done ) &
load_pid=$!

failures=0
for ((i = 1; i <= runs; i++)); do
    nacl=$([[ $((i % 2)) == 1 ]] && echo true || echo false)
    log=$work/run-$i-nacl-$nacl.log
    start=$(date +%s)
    code=0
    timeout "$limit" "$rvnest" --config-file "$work/nacl-$nacl.json" </dev/null >"$log" 2>&1 || code=$?
    seconds=$(($(date +%s) - start))
    if grep -q "RVNEST-L1-RVNEST-EXIT rc=0" "$log" && [[ $code == 0 ]]; then
        echo "run $i nacl=$nacl: ok in ${seconds}s"
        rm -f "$log"
    else
        failures=$((failures + 1))
        what=$([[ $code == 124 ]] && echo "hung (killed at ${limit}s)" || echo "failed (exit $code)")
        echo "run $i nacl=$nacl: $what; log kept: $log"
    fi
done
echo "soak-nested: $runs runs, $failures failed"
((failures == 0)) && rm -rf "$work"
exit $((failures > 0))

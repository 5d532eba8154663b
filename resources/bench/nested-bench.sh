#!/usr/bin/env bash
# Nested-virtualization benchmark: the same L1 (Debian's kernel + KVM + the riscv64
# rvnest) boots the same L2 guest, with the outer machine being
#   rvnest (soft backend, nesting on) with NACL, rvnest without NACL, and
#   qemu-system-riscv64 TCG with the H extension,
# interleaved, N runs each. Reports the median L2 boot-to-poweroff time as L1 measures
# it (RVNEST-L1-RVNEST-EXIT ... seconds=) and the whole stack's wall time, as a
# markdown table with ratios to QEMU.
#
# Usage: resources/bench/nested-bench.sh [-n N] [--rvnest BIN] [--l1-dir DIR]
#   --l1-dir  the output of resources/kvm-host/build-l1.sh (default resources/out/kvm-host)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
runs=3
rvnest=$ROOT/target/release/rvnest
l1=$ROOT/resources/out/kvm-host
while (($#)); do
    case "$1" in
    -n) runs=$2; shift 2 ;;
    --rvnest) rvnest=$2; shift 2 ;;
    --l1-dir) l1=$2; shift 2 ;;
    *) echo "usage: $0 [-n N] [--rvnest BIN] [--l1-dir DIR]" >&2; exit 2 ;;
    esac
done
[[ -x $rvnest ]] || { echo "nested-bench: $rvnest missing (cargo build --release -p vmm)" >&2; exit 1; }
[[ -s $l1/Image && -s $l1/l1-initramfs.cpio ]] || { echo "nested-bench: run resources/kvm-host/build-l1.sh first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

config() { # name nacl-json
    cat >"$work/$1.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$l1/Image", "initrd_path": "$l1/l1-initramfs.cpio",
                   "boot_args": "console=ttyS0 panic=-1" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 2048, "backend": "soft",
                      "nested": true, "nacl": $2 }
}
JSON
}
config nacl '{"enabled": true}'
config nonacl '{"enabled": false}'

run_one() { # kind -> prints "l2_seconds wall_seconds"
    local log=$work/$1.log start end
    start=$(date +%s.%N)
    case "$1" in
    nacl | nonacl) timeout 900 "$rvnest" --config-file "$work/$1.json" </dev/null >"$log" 2>&1 || true ;;
    qemu) timeout 900 qemu-system-riscv64 -M virt -cpu rv64,h=true -smp 1 -m 2048 -nographic -no-reboot \
        -bios default -kernel "$l1/Image" -initrd "$l1/l1-initramfs.cpio" \
        -append "console=ttyS0 panic=-1" </dev/null >"$log" 2>&1 || true ;;
    esac
    end=$(date +%s.%N)
    local l2
    l2=$(sed -n 's/.*RVNEST-L1-RVNEST-EXIT rc=0 seconds=\([0-9.]*\).*/\1/p' "$log" | head -1)
    [[ -n $l2 ]] || { echo "nested-bench: $1 run failed; log:" >&2; tail -20 "$log" >&2; exit 1; }
    printf "%s %.1f\n" "$l2" "$(echo "$end - $start" | bc)"
}

declare -A l2s walls
for ((i = 1; i <= runs; i++)); do
    for kind in nacl nonacl qemu; do
        read -r l2 wall < <(run_one $kind)
        l2s[$kind]+="$l2 "
        walls[$kind]+="$wall "
        echo "nested-bench: $kind run $i: L2 $l2 s, stack $wall s" >&2
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A ml mw
for kind in nacl nonacl qemu; do
    ml[$kind]=$(echo "${l2s[$kind]}" | median)
    mw[$kind]=$(echo "${walls[$kind]}" | median)
done
ratio() { echo "scale=2; $1 / $2" | bc; }

echo "### Nested: L1 (Debian $(cat "$ROOT/resources/out/kernel-version" 2>/dev/null) + KVM + riscv64 rvnest) boots L2 (same kernel + busybox), 1 vCPU each"
echo
echo "Host: $(nproc) cores; $(date +%F); $runs runs each, interleaved; medians."
echo
echo "| outer machine | L2 boot-to-poweroff (s, as L1 measures it) | whole stack wall (s) | L2 ratio to QEMU |"
echo "|---|---|---|---|"
echo "| rvnest soft, NACL (all four features) | ${ml[nacl]} | ${mw[nacl]} | $(ratio "${ml[nacl]}" "${ml[qemu]}") |"
echo "| rvnest soft, NACL off | ${ml[nonacl]} | ${mw[nonacl]} | $(ratio "${ml[nonacl]}" "${ml[qemu]}") |"
echo "| QEMU $(qemu-system-riscv64 --version | head -1 | awk '{print $4}') TCG, \`-cpu rv64,h=true\` | ${ml[qemu]} | ${mw[qemu]} | 1.00 |"
echo
echo "Command: \`resources/bench/nested-bench.sh -n $runs\`"

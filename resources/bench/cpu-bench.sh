#!/usr/bin/env bash
# In-guest CPU throughput: rvnest's soft backend vs QEMU TCG on the same kernel and
# the same guest programs, in the same run.
#
# Usage: resources/bench/cpu-bench.sh [-n RUNS] [--rvnest BIN] [--assets DIR]
#
# The guest is the test initramfs with resources/bench/cpu/init as /init and a
# pointer-chasing program (resources/bench/cpu/chase.c, built static with Debian's
# riscv64 cross GCC) appended. It times, by the guest's own clock (/proc/uptime,
# 10 ms; clock_gettime for the chase): busybox sha256sum and gzip -9 over ~24 MiB of
# text generated in the guest, and 2e7 dependent loads over a 16 MiB array. Runs
# alternate between the VMMs; the table gives medians and the throughput ratio.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
RUNS=3
RVNEST=$REPO/target/release/rvnest
ASSETS=$REPO/resources/out
while (($#)); do
    case "$1" in
    -n) RUNS=$2; shift ;;
    --rvnest) RVNEST=$2; shift ;;
    --assets) ASSETS=$2; shift ;;
    -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cpu-bench: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

WORK=$REPO/target/bench-cpu
mkdir -p "$WORK/tree/bin"
riscv64-linux-gnu-gcc -O2 -static -o "$WORK/tree/bin/chase" "$SCRIPT_DIR/cpu/chase.c"
cp "$SCRIPT_DIR/cpu/init" "$WORK/tree/init"
cp "$ASSETS/initramfs.cpio.gz" "$WORK/initramfs.cpio.gz"
(cd "$WORK/tree" && find . | cpio --quiet -o -H newc --owner=0:0 | gzip -9n >>"$WORK/initramfs.cpio.gz")
APPEND="console=ttyS0 panic=-1"
cat >"$WORK/vm.json" <<JSON
{
  "boot-source": {"kernel_image_path": "$ASSETS/Image",
                  "initrd_path": "$WORK/initramfs.cpio.gz", "boot_args": "$APPEND"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 512, "backend": "soft"}
}
JSON

run() { # vmm log
    case "$1" in
    rvnest) timeout 600 "$RVNEST" --config-file "$WORK/vm.json" </dev/null >"$2" 2>&1 || true ;;
    qemu) timeout 600 qemu-system-riscv64 -M virt -cpu rv64 -m 512 -smp 1 -nographic \
        -no-reboot -bios default -kernel "$ASSETS/Image" -initrd "$WORK/initramfs.cpio.gz" \
        -append "$APPEND" </dev/null >"$2" 2>&1 || true ;;
    esac
    grep -q BENCH-DONE "$2" || { echo "cpu-bench: $1 run failed, see $2" >&2; exit 1; }
}

# One line per run and workload: vmm workload value (MB/s or million loads/s).
results=$WORK/results
: >"$results"
for i in $(seq 1 "$RUNS"); do
    for vmm in rvnest qemu; do
        log=$WORK/$vmm-$i.log
        run "$vmm" "$log"
        tr -d '\r' <"$log" | awk -v vmm="$vmm" '
            /^BENCH (sha256sum|gzip) / {
                split($3, b, "="); split($4, s, "="); split($5, e, "=")
                printf "%s %s %.3f\n", vmm, $2, b[2] / (e[2] - s[2]) / 1048576 }
            /^BENCH chase / {
                split($4, n, "="); split($5, s, "=")
                printf "%s chase %.3f\n", vmm, n[2] / s[2] / 1e6 }' >>"$results"
    done
done

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "Host: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1); $(date +%F); $RUNS runs each, alternating; medians."
echo
echo "| workload | unit | rvnest (soft) | QEMU $(qemu-system-riscv64 --version | head -n1 | sed 's/.*version //') TCG | rvnest/QEMU |"
echo "|---|---|---|---|---|"
for w in sha256sum gzip chase; do
    unit="MiB/s"
    [[ $w == chase ]] && unit="M loads/s"
    r=$(awk -v w="$w" '$1 == "rvnest" && $2 == w {print $3}' "$results" | median)
    q=$(awk -v w="$w" '$1 == "qemu" && $2 == w {print $3}' "$results" | median)
    printf '| %s | %s | %.2f | %.2f | %.2f |\n' "$w" "$unit" "$r" "$q" "$(awk -v r="$r" -v q="$q" 'BEGIN {print r / q}')"
done

#!/usr/bin/env bash
# Boot-to-poweroff of the test guest under rvnest's kvm backend inside QEMU, next to
# the same guest under QEMU directly (both TCG on this host).
#
# Usage: resources/kvm-host/bench.sh [-n N] [--vcpus V] [--irqchip I] [--host-dir DIR]
#                                    [--assets DIR]
#   -n N          runs of each, interleaved (default 5)
#   --vcpus V     vCPUs of the measured guest (default 1)
#   --irqchip I   plic or aia: the L1 KVM host gets AIA (QEMU -M virt,aia=aplic,
#                 -cpu ...,x-ssaia=true) and the L2 machine-config.irqchip is I;
#                 without it the host has no AIA and the L2 gets the PLIC
#   --host-dir    the output of build-l1.sh (default ASSETS/kvm-host)
#   --assets      the output of resources/fetch-guest.sh (default resources/out)
#
# rvnest/kvm: QEMU (-M virt -cpu rv64,h=true -smp 2 -m 2048) boots the L1 KVM host;
# its /init times rvnest from start to exit with /proc/uptime (QEMU's TCG guest clock
# follows the host's real time) and prints it on RVNEST-L1-RVNEST-EXIT. The MMIO
# exits to rvnest are summed from its "vCPU finished" log lines.
# QEMU direct: qemu-system-riscv64 -M virt -cpu rv64,h=true -smp V -m 256 on the same
# Image, initramfs and command line, wall time of the whole process.
# Both guests run "console=ttyS0 earlycon=sbi panic=-1 rvnest.kvm=0".
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
RUNS=5
VCPUS=1
IRQCHIP=
ASSETS=$ROOT/resources/out
HOST=
while (($#)); do
    case "$1" in
    -n) RUNS=$2; shift 2 ;;
    --vcpus) VCPUS=$2; shift 2 ;;
    --irqchip) IRQCHIP=$2; shift 2 ;;
    --host-dir) HOST=$2; shift 2 ;;
    --assets) ASSETS=$2; shift 2 ;;
    -h | --help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
    esac
done
HOST=${HOST:-$ASSETS/kvm-host}
for f in "$HOST/Image" "$HOST/l1-initramfs.cpio" "$ASSETS/Image" "$ASSETS/initramfs.cpio.gz"; do
    [[ -s $f ]] || { echo "bench: $f missing (resources/fetch-guest.sh, resources/kvm-host/build-l1.sh)" >&2; exit 1; }
done
APPEND="console=ttyS0 earlycon=sbi panic=-1 rvnest.kvm=0"
case "$IRQCHIP" in
'') L1_MACHINE=virt L1_CPU=rv64,h=true L1_APPEND= ;;
plic | aia) L1_MACHINE=virt,aia=aplic L1_CPU=rv64,h=true,x-ssaia=true L1_APPEND=" rvnest.l2irqchip=$IRQCHIP" ;;
*) echo "bench: --irqchip takes plic or aia" >&2; exit 2 ;;
esac
log=$(mktemp)
trap 'rm -f "$log"' EXIT

kvm_times=()
kvm_exits=()
qemu_times=()
for ((i = 1; i <= RUNS; i++)); do
    timeout 600 qemu-system-riscv64 -M "$L1_MACHINE" -cpu "$L1_CPU" -smp 2 -m 2048 -nographic \
        -no-reboot -bios default -kernel "$HOST/Image" -initrd "$HOST/l1-initramfs.cpio" \
        -append "console=ttyS0 panic=-1 rvnest.l2vcpus=$VCPUS$L1_APPEND" </dev/null >"$log" 2>&1 || true
    line=$(grep -a '^RVNEST-L1-RVNEST-EXIT' "$log" | tr -d '\r' || true)
    if [[ $line == *"rc=0 "* ]] && grep -aq 'RVNEST-GUEST-READY' "$log"; then
        kvm_times+=("${line##*seconds=}")
        kvm_exits+=("$(grep -a 'vCPU finished' "$log" | grep -aoE 'mmio_(read|write): [0-9]+' |
            awk '{ n += $2 } END { print n + 0 }')")
    else
        echo "bench: rvnest/kvm run $i failed: ${line:-no exit marker}" >&2
    fi
    start=$(date +%s.%N)
    timeout 600 qemu-system-riscv64 -M virt -cpu rv64,h=true -smp "$VCPUS" -m 256 -nographic \
        -no-reboot -bios default -kernel "$ASSETS/Image" -initrd "$ASSETS/initramfs.cpio.gz" \
        -append "$APPEND" </dev/null >"$log" 2>&1 || true
    end=$(date +%s.%N)
    if grep -aq 'RVNEST-GUEST-READY' "$log"; then
        qemu_times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')")
    else
        echo "bench: QEMU run $i failed" >&2
    fi
done

stats() { # median min max of the arguments
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "- - -"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.2f %.2f %.2f\n", m, v[1], v[NR] }'
}
read -r km kmin kmax < <(stats "${kvm_times[@]}")
read -r qm qmin qmax < <(stats "${qemu_times[@]}")
echo "| guest runs under | ok runs | boot to poweroff, median (s) | min–max (s) |"
echo "|---|---|---|---|"
echo "| rvnest kvm backend, on KVM inside QEMU TCG (-M $L1_MACHINE -cpu $L1_CPU${IRQCHIP:+, irqchip $IRQCHIP}) | ${#kvm_times[@]}/$RUNS | $km | $kmin–$kmax |"
echo "| QEMU TCG directly | ${#qemu_times[@]}/$RUNS | $qm | $qmin–$qmax |"
echo
echo "Guest: $(cat "$ASSETS/kernel-version" 2>/dev/null || echo '?') + test initramfs, $VCPUS vCPU(s), \"$APPEND\"; runs: rvnest/kvm ${kvm_times[*]:-none} (MMIO exits ${kvm_exits[*]:-none}); QEMU ${qemu_times[*]:-none}"

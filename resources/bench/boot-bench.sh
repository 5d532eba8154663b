#!/usr/bin/env bash
# Boot-to-poweroff benchmark: rvnest vs QEMU TCG on the same Debian kernel + initramfs.
#
# Usage: resources/bench/boot-bench.sh [options]
#   -n N              runs per VMM, interleaved (default 5)
#   --rvnest BIN      rvnest binary (default: target/release/rvnest of the workspace)
#   --assets DIR      directory with Image + initramfs.cpio.gz (default resources/out;
#                     built with resources/fetch-guest.sh if missing)
#   --backend B       rvnest machine-config.backend (default soft)
#   --mem MIB         guest memory (default 512)
#   --vcpus N         harts for both (default 1; QEMU gets -smp N)
#   --append ARGS     kernel command line for both (default "console=ttyS0 panic=-1")
#   --timeout S       per-run limit in seconds (default 120)
#   --only qemu|rvnest  run only one side
#   --keep-logs DIR   keep every run's console log and /usr/bin/time output there
#
# A run counts when it exits 0 and its console shows RVNEST-GUEST-READY (the guest's
# /init powers off right after, see resources/README.md). Wall time is measured around
# the whole process (VMM start to exit); peak RSS is /usr/bin/time -v's "Maximum
# resident set size". Prints a markdown table (for BENCHMARKS.md) and the commands.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)

RUNS=5
RVNEST=$REPO/target/release/rvnest
ASSETS=$REPO/resources/out
BACKEND=soft
MEM=512
VCPUS=1
APPEND="console=ttyS0 panic=-1"
TIMEOUT=120
ONLY=
KEEP=

while (($#)); do
    case "$1" in
    -n) RUNS=$2; shift ;;
    --rvnest) RVNEST=$2; shift ;;
    --assets) ASSETS=$2; shift ;;
    --backend) BACKEND=$2; shift ;;
    --mem) MEM=$2; shift ;;
    --vcpus) VCPUS=$2; shift ;;
    --append) APPEND=$2; shift ;;
    --timeout) TIMEOUT=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --keep-logs) KEEP=$2; shift ;;
    -h | --help)
        sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "boot-bench: unknown argument $1" >&2
        exit 2
        ;;
    esac
    shift
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "boot-bench: -n needs a positive number" >&2; exit 2; }
case "$ONLY" in "" | qemu | rvnest) ;; *) echo "boot-bench: --only qemu|rvnest" >&2; exit 2 ;; esac

log() { echo "boot-bench: $*" >&2; }

# Tools: /usr/bin/time (package time), qemu-system-riscv64 (qemu-system-misc).
if [[ ! -x /usr/bin/time ]] || { [[ $ONLY != rvnest ]] && ! command -v qemu-system-riscv64 >/dev/null; }; then
    "$REPO/resources/setup-host.sh" >&2
fi
if [[ ! -s $ASSETS/Image || ! -s $ASSETS/initramfs.cpio.gz ]]; then
    "$REPO/resources/fetch-guest.sh" "$ASSETS" >&2
fi
ASSETS=$(cd "$ASSETS" && pwd)
KERNEL=$ASSETS/Image
INITRD=$ASSETS/initramfs.cpio.gz
KVER=$(cat "$ASSETS/kernel-version" 2>/dev/null || echo unknown)

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
[[ -z $KEEP ]] || mkdir -p "$KEEP"

CFG=$WORK/vm.json
cat >"$CFG" <<EOF
{
  "boot-source": {
    "kernel_image_path": "$KERNEL",
    "initrd_path": "$INITRD",
    "boot_args": "$APPEND"
  },
  "machine-config": {
    "vcpu_count": $VCPUS,
    "mem_size_mib": $MEM,
    "backend": "$BACKEND"
  }
}
EOF

# shellcheck disable=SC2054 # the commas are part of -cpu's value
QEMU_CMD=(qemu-system-riscv64 -M virt -cpu rv64,h=true -m "$MEM" -smp "$VCPUS" -nographic -no-reboot
    -bios default -kernel "$KERNEL" -initrd "$INITRD" -append "$APPEND")
RVNEST_CMD=("$RVNEST" --config-file "$CFG")

# run_one NAME RUN CMD... -> appends "wall_s rss_kib" to $WORK/NAME.ok, or counts a failure.
run_one() {
    local name=$1 run=$2
    shift 2
    local out=$WORK/$name.$run.log tv=$WORK/$name.$run.time t0 t1 rc=0 rss
    t0=$(date +%s%N)
    timeout --kill-after=5 "$TIMEOUT" /usr/bin/time -v -o "$tv" "$@" </dev/null >"$out" 2>&1 || rc=$?
    t1=$(date +%s%N)
    rss=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$tv" 2>/dev/null)
    if [[ $rc == 0 ]] && grep -aq RVNEST-GUEST-READY "$out"; then
        echo "$(((t1 - t0) / 1000000)) ${rss:-0}" >>"$WORK/$name.ok"
        log "$name run $run: $(awk -v ms=$(((t1 - t0) / 1000000)) 'BEGIN { printf "%.2f s", ms / 1000 }'), ${rss:-?} KiB"
    else
        echo "$run rc=$rc" >>"$WORK/$name.fail"
        log "$name run $run: FAILED (exit $rc$(grep -aq RVNEST-GUEST-READY "$out" || echo ', no RVNEST-GUEST-READY')); last lines:"
        tail -n 5 "$out" | sed 's/^/    /' >&2
    fi
    if [[ -n $KEEP ]]; then cp "$out" "$tv" "$KEEP"/ 2>/dev/null || true; fi
}

if [[ $ONLY != qemu && ! -x $RVNEST ]]; then
    log "rvnest binary $RVNEST not found (build with: cargo build --release); measuring QEMU only"
    ONLY=qemu
fi

for ((i = 1; i <= RUNS; i++)); do
    [[ $ONLY == qemu ]] || run_one rvnest "$i" "${RVNEST_CMD[@]}"
    [[ $ONLY == rvnest ]] || run_one qemu "$i" "${QEMU_CMD[@]}"
done

# median of column $2 (1 = wall ms, 2 = rss KiB) of file $1
median() { sort -n -k"$2","$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
colmin() { awk -v c="$2" 'NR == 1 || $c < m { m = $c } END { if (NR) print m }' "$1"; }
colmax() { awk -v c="$2" 'NR == 1 || $c > m { m = $c } END { if (NR) print m }' "$1"; }
secs() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

declare -A MED_WALL=() MED_RSS=()
row() { # name label
    local name=$1 label=$2 ok=0 fail=0
    [[ -s $WORK/$name.ok ]] && ok=$(wc -l <"$WORK/$name.ok")
    [[ -s $WORK/$name.fail ]] && fail=$(wc -l <"$WORK/$name.fail")
    if ((ok == 0)); then
        echo "| $label | 0/$((ok + fail)) | n/a | n/a | n/a |"
        return
    fi
    MED_WALL[$name]=$(median "$WORK/$name.ok" 1)
    MED_RSS[$name]=$(median "$WORK/$name.ok" 2)
    echo "| $label | $ok/$((ok + fail)) | $(secs "${MED_WALL[$name]}") | $(secs "$(colmin "$WORK/$name.ok" 1)")–$(secs "$(colmax "$WORK/$name.ok" 1)") | $(mib "${MED_RSS[$name]}") |"
}

QEMU_VER=$(qemu-system-riscv64 --version 2>/dev/null | head -n1 | sed 's/^QEMU emulator version //')
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)

echo "### Boot to poweroff: Linux $KVER + busybox initramfs, $VCPUS vCPU(s), $MEM MiB"
echo
echo "Host: $(nproc) cores, ${CPU:-unknown CPU}; $(date -u +%Y-%m-%d); $RUNS runs each, interleaved; medians."
echo
echo "| VMM | ok runs | wall (s) | wall min–max (s) | peak RSS (MiB) |"
echo "|---|---|---|---|---|"
[[ $ONLY == qemu ]] || row rvnest "rvnest ($BACKEND backend)"
[[ $ONLY == rvnest ]] || row qemu "QEMU ${QEMU_VER:-?} TCG"
if [[ -n ${MED_WALL[rvnest]:-} && -n ${MED_WALL[qemu]:-} ]]; then
    echo "| ratio rvnest/QEMU | | $(awk -v a="${MED_WALL[rvnest]}" -v b="${MED_WALL[qemu]}" 'BEGIN { printf "%.2f", a / b }') | | $(awk -v a="${MED_RSS[rvnest]}" -v b="${MED_RSS[qemu]}" 'BEGIN { printf "%.2f", a / b }') |"
fi
echo
echo "Commands (vm.json: the kernel and initrd above, boot_args \"$APPEND\", vcpu_count $VCPUS, mem_size_mib $MEM, backend \"$BACKEND\"):"
echo
echo '```'
echo "resources/bench/boot-bench.sh -n $RUNS"
[[ $ONLY == qemu ]] || echo "rvnest --config-file vm.json"
[[ $ONLY == rvnest ]] || echo "qemu-system-riscv64 -M virt -cpu rv64,h=true -m $MEM -smp $VCPUS -nographic -no-reboot -bios default -kernel Image -initrd initramfs.cpio.gz -append \"$APPEND\""
echo '```'

#!/usr/bin/env bash
# Latency of rvnest's REST API while the guest runs a CPU-bound loop.
#
# Boots Debian's kernel (resources/out) to a shell through `rvnest --config-file
# --api-sock`, starts `while :; do :; done &` in the guest on its console, then
# measures GET / and GET /vm/counters over the Unix socket with
# api/examples/api_latency.rs (one kept-alive connection, sequential requests),
# for each vCPU count asked for. Prints a Markdown table per run.
#
# Usage: resources/bench/api-latency.sh [-n REQUESTS] [-c "1 2"]
set -euo pipefail
cd "$(dirname "$0")/../.."

count=2000
vcpu_counts="1 2"
while getopts "n:c:" opt; do
    case $opt in
    n) count=$OPTARG ;;
    c) vcpu_counts=$OPTARG ;;
    *) echo "usage: $0 [-n REQUESTS] [-c \"1 2\"]" >&2; exit 2 ;;
    esac
done

cargo build --release -p vmm -p api --example api_latency >&2
target_dir=${CARGO_TARGET_DIR:-target}
rvnest=$target_dir/release/rvnest
bench=$target_dir/release/examples/api_latency
guest=$(realpath resources/out)

work=$(mktemp -d /tmp/rvnest-api-latency.XXXXXX)
pid=
cleanup() {
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "Host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); $(date -u +%Y-%m-%d)"
for vcpus in $vcpu_counts; do
    cat >"$work/vm.json" <<EOF
{
  "boot-source": {
    "kernel_image_path": "$guest/Image",
    "initrd_path": "$guest/initramfs.cpio.gz",
    "boot_args": "console=ttyS0 panic=-1 rvnest.init=shell rvnest.kvm=0 rvnest.cpuinfo=0"
  },
  "machine-config": { "vcpu_count": $vcpus, "mem_size_mib": 256, "backend": "soft" }
}
EOF
    rm -f "$work/console" "$work/out"
    mkfifo "$work/console"
    exec 3<>"$work/console"
    "$rvnest" --config-file "$work/vm.json" --api-sock "$work/api.sock" <"$work/console" >"$work/out" 2>&1 &
    pid=$!
    for _ in $(seq 600); do
        grep -q RVNEST-SHELL "$work/out" 2>/dev/null && break
        sleep 0.1
    done
    grep -q RVNEST-SHELL "$work/out" || { echo "the guest did not reach its shell" >&2; exit 1; }
    sleep 1
    echo 'while :; do :; done &' >&3
    sleep 2
    echo
    echo "$vcpus vCPU(s), guest running \`while :; do :; done\`:"
    echo
    "$bench" "$work/api.sock" "$count"
    printf 'PUT /actions HTTP/1.1\r\nContent-Length: 26\r\n\r\n{"action_type":"Shutdown"}' |
        python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read()); s.recv(4096)' "$work/api.sock"
    wait "$pid" || true
    pid=
    exec 3>&-
done

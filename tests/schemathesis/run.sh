#!/usr/bin/env bash
# Property-based test of rvnest's REST API: schemathesis (pinned, in a venv under
# target/) generates requests from api/openapi.yaml, valid and invalid, and checks
# every answer against the document (status codes, bodies, headers, 5xx, Allow on
# 405, acceptance of valid and rejection of invalid data).
#
# Two live servers, each behind tests/schemathesis/proxy.py (TCP on 127.0.0.1 to
# the Unix socket, restarting rvnest when the fuzzed Shutdown action ends it):
#   1. `rvnest --api-sock` with nothing configured ("Not started");
#   2. `rvnest --config-file --api-sock` with Debian's kernel at a shell prompt
#      ("Running", then whatever the fuzzer makes of it: paused, resumed, ...).
# When run as root, rvnest runs as nobody in a scratch directory, so the log and
# metrics paths the fuzzer invents cannot create files outside it.
#
# Usage: tests/schemathesis/run.sh   (after `cargo build --release -p vmm` and
# resources/fetch-guest.sh). Environment: RVNEST_BIN (default
# target/release/rvnest), RVNEST_GUEST_DIR (default resources/out),
# ST_MAX_EXAMPLES (default 100 per operation), ST_SEED (default 1; "random" for a
# fresh seed).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

ST_VERSION=4.32.5
VENV=target/schemathesis-venv
RVNEST=$(realpath "${RVNEST_BIN:-target/release/rvnest}")
GUEST_DIR=$(realpath "${RVNEST_GUEST_DIR:-resources/out}")
MAX_EXAMPLES=${ST_MAX_EXAMPLES:-100}
SEED=${ST_SEED:-1}

if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$ST_VERSION"; then
    echo "schemathesis: installing schemathesis==$ST_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi

work=$(mktemp -d /tmp/rvnest-schemathesis.XXXXXX)
chmod 0777 "$work"
proxy_pid=
cleanup() {
    if [[ -n "$proxy_pid" ]]; then
        kill "$proxy_pid" 2>/dev/null || true
        wait "$proxy_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

as_nobody=()
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
    as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
    # Only if nobody can reach the binary and the guest (not under /root, say).
    if ! "${as_nobody[@]}" test -x "$RVNEST" -a -r "$GUEST_DIR/Image" -a -r "$GUEST_DIR/initramfs.cpio.gz"; then
        echo "schemathesis: nobody cannot run $RVNEST or read $GUEST_DIR; running rvnest as root"
        as_nobody=()
    fi
fi

seed_args=()
if [[ "$SEED" != random ]]; then
    seed_args=(--seed "$SEED")
fi

# run_against NAME [rvnest arguments...]: one schemathesis run against a fresh server.
run_against() {
    local name=$1
    shift
    local dir="$work/$name"
    mkdir -p "$dir"
    chmod 0777 "$dir"
    python3 tests/schemathesis/proxy.py --socket "$dir/api.sock" --port-file "$dir/port" \
        --cwd "$dir" -- "${as_nobody[@]}" "$RVNEST" --api-sock "$dir/api.sock" "$@" &
    proxy_pid=$!
    for _ in $(seq 100); do
        [[ -s "$dir/port" && -S "$dir/api.sock" ]] && break
        sleep 0.1
    done
    local port
    port=$(cat "$dir/port")
    echo "schemathesis: $name server on 127.0.0.1:$port -> $dir/api.sock"
    local status=0
    # From the scratch directory: schemathesis keeps a cache in its working directory.
    (cd "$dir" && "$root/$VENV/bin/st" --config-file "$root/tests/schemathesis/schemathesis.toml" \
        run "$root/api/openapi.yaml" \
        --url "http://127.0.0.1:$port" \
        --checks all \
        --max-examples "$MAX_EXAMPLES" \
        "${seed_args[@]}" \
        --workers 1 \
        --request-timeout 20 \
        --no-color) || status=$?
    kill "$proxy_pid"
    wait "$proxy_pid" || true
    proxy_pid=
    return "$status"
}

run_against not-started

cat >"$work/vm.json" <<EOF
{
  "boot-source": {
    "kernel_image_path": "$GUEST_DIR/Image",
    "initrd_path": "$GUEST_DIR/initramfs.cpio.gz",
    "boot_args": "console=ttyS0 panic=-1 rvnest.init=shell rvnest.kvm=0 rvnest.cpuinfo=0"
  },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 256, "backend": "soft" }
}
EOF
chmod 0644 "$work/vm.json"
run_against running --config-file "$work/vm.json"
echo "schemathesis: no failures"

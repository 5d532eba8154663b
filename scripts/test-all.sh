#!/usr/bin/env bash
# The whole test suite, as CI runs it. Everything builds once, in release mode.
#   1. set-up: host packages (QEMU, the riscv64 and aarch64 cross toolchains), the rustup targets,
#      Debian's riscv64 kernel and busybox as guest assets, a Debian root file
#      system image (cached);
#   2. lints: formatting, clippy for x86_64 and for riscv64;
#   3. builds: rvnest for this host, the whole workspace for riscv64 (a static
#      rvnest), the L1 initramfs that carries the riscv64 rvnest and an L2 guest;
#   4. tests: unit tests (the hart's on both tiers), end-to-end boots on the soft backend, the nested stack
#      (rvnest -> Linux KVM -> rvnest/kvm -> Linux), rvnest on a real KVM inside QEMU,
#      and the REST API (including a property-based schemathesis run).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-rust.sh
bash resources/setup-host.sh --with-cross
for target in riscv64gc-unknown-linux-gnu aarch64-unknown-linux-gnu; do
    rustup target list --installed | grep -qx "$target" || rustup target add "$target"
done
bash resources/fetch-guest.sh resources/out
# The Debian root file system (systemd) of tests/tests/debian_rootfs.rs (cached).
bash resources/rootfs/build-rootfs.sh resources/out

cargo fmt --all -- --check
cargo clippy --release --workspace --all-targets -- -D warnings
cargo clippy --release --workspace --all-targets --target riscv64gc-unknown-linux-gnu -- -D warnings

cargo build --release -p vmm
cargo build --release --workspace --target riscv64gc-unknown-linux-gnu
bash resources/kvm-host/build-l1.sh

cargo test --release --workspace
# The hart's tests again on the compiled tier: at the default threshold, and with
# every block compiled at its first run (the interpreter runs only what the tier
# leaves to it).
RVNEST_TEST_TIER=compiled cargo test --release -p arch-riscv
RVNEST_TEST_TIER=compile-all cargo test --release -p arch-riscv
# The compiled tier on its other hosts: the hart's tests (the differential ones
# included) with every block compiled, built for aarch64 and riscv64 and run under
# qemu-user (static binaries, see .cargo/config.toml).
for target in aarch64-unknown-linux-gnu:qemu-aarch64 riscv64gc-unknown-linux-gnu:qemu-riscv64; do
    runner=${target#*:} target=${target%:*}
    env RVNEST_TEST_TIER=compile-all \
        "CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')_RUNNER=$runner" \
        cargo test --release -p arch-riscv --lib --target "$target"
done
# QEMU-hosted KVM runs one at a time (each QEMU takes 2 GiB and both cores).
cargo test --release -p e2e --test kvm -- --include-ignored --test-threads=1
# The REST API: a property-based run of schemathesis (pinned, installed with pip into
# target/schemathesis-venv) against api/openapi.yaml and live rvnest servers.
bash tests/schemathesis/run.sh

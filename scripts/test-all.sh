#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up, formatting, lints, unit tests and the
# end-to-end boots of Debian's kernel. Everything builds once, in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-rust.sh
bash resources/setup-host.sh
bash resources/fetch-guest.sh resources/out
cargo fmt --all -- --check
cargo clippy --release --workspace --all-targets -- -D warnings
cargo build --release -p vmm
cargo test --release --workspace

# The KVM backend (riscv64 hosts): the cross toolchain, the whole workspace built
# and linted for riscv64, a static riscv64 rvnest, and rvnest on a real KVM inside
# QEMU (resources/kvm-host/: QEMU TCG with H boots Debian as the KVM host).
bash resources/setup-host.sh --with-cross
rustup target list --installed | grep -qx riscv64gc-unknown-linux-gnu ||
    rustup target add riscv64gc-unknown-linux-gnu
cargo clippy --release --workspace --all-targets --target riscv64gc-unknown-linux-gnu -- -D warnings
cargo build --release --workspace --target riscv64gc-unknown-linux-gnu
bash resources/kvm-host/build-l1.sh
cargo test --release -p e2e --test kvm -- --include-ignored --test-threads=1

# The REST API: a property-based run of schemathesis (pinned, installed with pip into
# target/schemathesis-venv) against api/openapi.yaml and live rvnest servers.
bash tests/schemathesis/run.sh

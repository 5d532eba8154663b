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

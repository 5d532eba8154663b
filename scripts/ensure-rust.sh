#!/usr/bin/env bash
# Makes sure a Rust toolchain new enough for rvnest (1.95, what cranelift, the
# compiled tier's code generator, needs) is on PATH, with clippy and rustfmt.
# Sourced by the other scripts.
set -euo pipefail
if [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
if ! command -v cargo >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && apt-cache show rustup >/dev/null 2>&1; then
    apt-get install -y rustup >/dev/null
    rustup default stable
  else
    echo "rvnest needs Rust >= 1.95: install rustup (https://rustup.rs) and re-run." >&2
    exit 1
  fi
fi
rust_minor=$(rustc --version | sed -n 's/^rustc 1\.\([0-9]*\)\..*/\1/p')
if [ "${rust_minor:-0}" -lt 95 ]; then
  if command -v rustup >/dev/null 2>&1; then
    rustup install stable >/dev/null && rustup default stable >/dev/null
  else
    echo "rvnest needs Rust >= 1.95, found $(rustc --version): update it and re-run." >&2
    exit 1
  fi
fi
if command -v rustup >/dev/null 2>&1; then
  for component in clippy rustfmt; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
  done
fi

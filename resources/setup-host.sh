#!/usr/bin/env bash
# Install the Debian host packages the rvnest project needs (build, guest assets,
# QEMU comparison runs). Idempotent: when everything is already installed it only
# runs `dpkg -s` and exits, without touching the network.
#
# Usage: resources/setup-host.sh [--with-cross]
#   --with-cross  also install the riscv64 and aarch64 cross toolchains (gcc/binutils/
#                 libc): rvnest for riscv64 hosts, and the compiled tier's tests for
#                 both, run under qemu-user
set -euo pipefail

PKGS=(
    ca-certificates   # https mirrors
    cpio              # initramfs
    xz-utils          # .ko.xz modules
    zstd              # zstd-compressed .deb members / EFI zboot payloads
    gzip
    binutils          # objcopy/readelf for inspection
    time              # /usr/bin/time -v for peak RSS in benchmarks
    qemu-system-misc  # qemu-system-riscv64 (comparison, nested KVM host)
    qemu-user         # qemu-riscv64 (differential tests of the soft hart's instructions)
    opensbi           # firmware for qemu -bios default
    e2fsprogs         # mkfs.ext4 -d and debugfs: the ext4 drive images of the tests
    iproute2          # ip netns / ip tuntap: the network tests' namespace and TAP
    python3           # the host side of the network tests' TCP transfer
)

if [[ "${1:-}" == "--with-cross" ]]; then
    PKGS+=(gcc-riscv64-linux-gnu binutils-riscv64-linux-gnu libc6-dev-riscv64-cross
        gcc-aarch64-linux-gnu libc6-dev-arm64-cross
        file) # `file` checks that the riscv64 rvnest is static (resources/kvm-host/)
fi

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
        missing+=("$p")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "setup-host: all ${#PKGS[@]} packages already installed"
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    SUDO=sudo
else
    SUDO=
fi

echo "setup-host: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup-host: done"

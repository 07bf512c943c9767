#!/usr/bin/env bash
# Installs what building and running arm64 binaries on an x64 Debian host needs,
# from Debian's packages, when it is missing:
#   g++-aarch64-linux-gnu  the cross compiler (and aarch64-linux-gnu-strip)
#   qemu-user              qemu-aarch64, to run arm64 programs (only with --qemu)
# Usage: scripts/arm64-toolchain.sh [--qemu]
set -euo pipefail

want=()
command -v aarch64-linux-gnu-g++ >/dev/null || want+=(g++-aarch64-linux-gnu)
command -v aarch64-linux-gnu-strip >/dev/null || want+=(binutils-aarch64-linux-gnu)
if [ "${1:-}" = "--qemu" ]; then
  command -v qemu-aarch64 >/dev/null || want+=(qemu-user)
fi
[ ${#want[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "arm64-toolchain: missing ${want[*]} and no apt-get: install them with your package manager" >&2
  exit 1
fi
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "arm64-toolchain: installing ${want[*]} from Debian's archive" >&2
# Fresh machines (CI) have no package lists yet.
"${sudo[@]}" apt-get install -y --no-install-recommends "${want[@]}" >/dev/null 2>&1 || {
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y --no-install-recommends "${want[@]}"
}

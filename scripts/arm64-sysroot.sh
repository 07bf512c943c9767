#!/usr/bin/env bash
# Makes .arm64-sysroot/root: Debian's arm64 Node.js and the libraries it needs,
# unpacked (dpkg -x) from `apt-get download`, for qemu-aarch64 -L. Nothing is
# installed system-wide; delete the folder to undo. Idempotent.
# Usage: scripts/arm64-sysroot.sh [folder]   (default: .arm64-sysroot in the package)
set -euo pipefail
cd "$(dirname "$0")/.."
S=$(realpath -m "${1:-.arm64-sysroot}")
[ -f "$S/ok" ] && exit 0

# nodejs and everything it needs at run time (Debian bookworm's names); the
# node-* packages hold builtins Debian's Node loads from /usr/share/nodejs.
pkgs=(nodejs libnode108 libc6 libuv1 libssl3 libicu72 libbrotli1 zlib1g libc-ares2
  libnghttp2-14 libstdc++6 libgcc-s1 node-acorn node-cjs-module-lexer node-undici node-busboy)

rm -rf "$S"
mkdir -p "$S/lists/partial" "$S/cache/archives/partial" "$S/debs" "$S/root"
o=(-qq -oAPT::Architecture=arm64 -oAPT::Architectures=arm64 -oAPT::Sandbox::User="$(id -un)"
  -oDir::State::Lists="$S/lists" -oDir::Cache="$S/cache" -oDir::State::Status=/dev/null)
echo "arm64-sysroot: fetching arm64 package lists and ${#pkgs[@]} packages from Debian" >&2
apt-get "${o[@]}" update
(cd "$S/debs" && apt-get "${o[@]}" download "${pkgs[@]}")
for f in "$S"/debs/*.deb; do dpkg -x "$f" "$S/root"; done
rm -rf "$S/lists" "$S/cache" "$S/debs"
# node last: its presence marks a complete sysroot.
qemu-aarch64 -L "$S/root" "$S/root/usr/bin/node" -p '`arm64-sysroot: node ${process.version} ${process.arch}`' >&2
touch "$S/ok"

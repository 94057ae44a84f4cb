#!/usr/bin/env bash
# Installs what building and testing shardis needs on Debian/Ubuntu:
# clang + libclang for librocksdb-sys's bindgen, redis-tools for the
# redis-cli / redis-benchmark the tests and benches drive. Idempotent.
set -euo pipefail
pkgs=(libclang-dev clang redis-tools)
missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

#!/usr/bin/env bash
# Builds jailbuild and runs its main job on a real program (default: git).
#   scripts/demo.sh [PROGRAM]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
command -v git >/dev/null || { apt-get update -qq && apt-get install -y -qq git; }
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJAILBUILD_TESTS=OFF
cmake --build build -j"$(nproc)" --target jailbuild_cli

program="${1:-$(command -v git)}"
echo "== how the loader finds what $program needs"
build/jailbuild deps --tree "$program"
echo "== every file a jail for $program must hold"
build/jailbuild deps --list "$program"

#!/usr/bin/env bash
# Builds jailbuild and runs the whole test suite, then a short fuzzing pass. Run as root on
# Debian 12 (tests that need root skip themselves otherwise).
#   FUZZ_SECONDS=N   length of the fuzzing pass (default 60; 0 skips it)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJAILBUILD_WERROR=ON
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"

fuzz_seconds="${FUZZ_SECONDS:-60}"
if [ "$fuzz_seconds" != 0 ]; then
  fuzz/run-fuzzers.sh "$fuzz_seconds"
fi

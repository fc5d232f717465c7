#!/usr/bin/env bash
# Builds jailbuild and runs the whole test suite, then the unit tests again under AddressSanitizer
# and UndefinedBehaviorSanitizer, the watch list's tests under ThreadSanitizer, then a short
# fuzzing pass. Run as root on Debian 12 (tests that need root skip themselves otherwise).
#   FUZZ_SECONDS=N   length of the fuzzing pass (default 60; 0 skips it)
#
# Each build has a directory of its own, configured with every option it relies on: build/ is
# scripts/demo.sh's (configured without tests), and a cache left there must not decide what runs
# here. --no-tests=error: a suite that finds no test fails instead of passing.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test
jobs="$(nproc)"

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache); fi
# configure DIR SANITIZERS: a RelWithDebInfo build with the tests, -Werror and these sanitizers.
configure() {
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJAILBUILD_WERROR=ON -DJAILBUILD_TESTS=ON \
    -DJAILBUILD_SANITIZE="$2" "${launcher[@]}"
}

echo "== the whole suite (build-test/)"
configure build-test ""
cmake --build build-test -j"$jobs"
ctest --test-dir build-test --output-on-failure --no-tests=error -j"$jobs"

# The sanitizers only build the unit tests: the suites that run the jailbuild binary in jails
# would need a sanitized static CLI, and their processes cross exec and namespaces.
echo "== the unit tests under AddressSanitizer and UndefinedBehaviorSanitizer (build-asan/)"
configure build-asan address,undefined
cmake --build build-asan -j"$jobs" --target unit_tests
ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan -L '^unit$' --output-on-failure --no-tests=error -j"$jobs"

# The watch list checks the host's side and the root's on two threads.
echo "== the watch list's tests under ThreadSanitizer (build-tsan/)"
configure build-tsan thread
cmake --build build-tsan -j"$jobs" --target watch_list_tests
TSAN_OPTIONS=halt_on_error=1 build-tsan/tests/watch_list_tests

fuzz_seconds="${FUZZ_SECONDS:-60}"
if [ "$fuzz_seconds" != 0 ]; then
  fuzz/run-fuzzers.sh "$fuzz_seconds"
fi

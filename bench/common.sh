# Shared by the benchmark scripts (sourced, not run). Expects $out_dir to be set.

log() { printf '\n== %s\n' "$*"; }

# A Release build of the CLI in build-bench/. Without -Werror: a compiler's false positive at -O3
# must not stop a measurement.
build_jailbuild() {
  if ! { cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DJAILBUILD_TESTS=OFF -DJAILBUILD_WERROR=OFF &&
         cmake --build build-bench --target jailbuild_cli -j"$(nproc)"; } >"$out_dir/build.log" 2>&1; then
    tail -n 30 "$out_dir/build.log" >&2
    echo "building jailbuild failed (log: $out_dir/build.log)" >&2
    exit 2
  fi
}

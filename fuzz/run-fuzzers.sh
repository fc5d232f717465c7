#!/usr/bin/env bash
# Builds the fuzzers of what parses untrusted bytes (the ELF reader; ld.so.cache, which a jail may
# hold) with clang (libFuzzer, AddressSanitizer, UndefinedBehaviorSanitizer) and runs each for
# SECONDS (default 60). Exits non-zero if a fuzzer finds a crash, a leak, an out-of-memory or a
# timeout; the reproducer is left in fuzz/corpus-run/artifacts/.
#
# Everything it writes goes to fuzz/corpus-run/ (git-ignored): the seed corpus is built at run time
# from small system ELF files and truncations of them, never committed. CXX overrides clang++.
set -euo pipefail

seconds="${1:-60}"
fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="$(dirname "$fuzz_dir")"
work_dir="$fuzz_dir/corpus-run"
seeds="$work_dir/seeds"
cxx="${CXX:-clang++}"

cache_seeds="$work_dir/cache-seeds"
rm -rf "$seeds" "$cache_seeds" "$work_dir/artifacts"
mkdir -p "$seeds" "$cache_seeds" "$work_dir/corpus" "$work_dir/cache-corpus" "$work_dir/artifacts"

# build_fuzzer NAME SOURCES...
build_fuzzer() {
  local name="$1"
  shift
  echo "== building $work_dir/$name with $cxx"
  # -fno-sanitize-recover: a UBSan report must stop the run like an ASan one, not just print.
  "$cxx" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I "$source_dir/include" -I "$source_dir/src" "$@" "$fuzz_dir/$name.cpp" -o "$work_dir/$name"
}
# The base layer the parsers use (src/util/: descriptors and errno text).
util_sources=("$source_dir"/src/util/system_error.cpp "$source_dir"/src/util/unique_fd.cpp)
build_fuzzer elf_reader_fuzzer "$source_dir"/src/elf/*.cpp "${util_sources[@]}"
build_fuzzer ld_cache_fuzzer "$source_dir"/src/resolve/ld_cache.cpp \
  "$source_dir"/src/resolve/ld_cache_writer.cpp "$source_dir"/src/resolve/loader_config.cpp "${util_sources[@]}"

echo "== building the seed corpus in $seeds"
# An executable, the dynamic loader (ELF header at one end, PT_DYNAMIC at the other) and a small
# shared library; their names vary with the architecture.
for pattern in /usr/bin/true /lib64/ld-linux-*.so.* /lib/*-linux-gnu*/ld-linux*.so.* \
               /lib/*-linux-gnu*/libdl.so.2; do
  for file in $pattern; do
    if [[ -f "$file" ]]; then cp "$(readlink -f "$file")" "$seeds/$(basename "$file")"; fi
  done
done
# Cuts of /usr/bin/true inside e_ident, the ELF32 and ELF64 headers, the program headers and beyond.
for cut in 4 16 40 52 64 100 200 512 1000 4096; do
  head -c "$cut" /usr/bin/true > "$seeds/true-first-$cut-bytes"
done
# A small library with DT_SONAME, DT_RUNPATH, an FDO .note.dlopen note and an imported symbol, as
# ELF64 and, if the compiler can make one without a 32-bit libc, as ELF32, each with a DT_GNU_HASH
# and with a DT_HASH symbol table (the imported-symbol reader counts symbols from either).
cat > "$work_dir/seed.c" <<'C'
__asm__(".pushsection .note.dlopen,\"a\",@note\n"
        ".balign 4\n"
        ".long 4\n"
        ".long 2f - 1f\n"
        ".long 0x407c0c0a\n"
        ".asciz \"FDO\"\n"
        "1: .asciz \"[{\\\"soname\\\":[\\\"libz.so.1\\\"]}]\"\n"
        "2: .balign 4\n"
        ".popsection\n");
int g(void);
int f(void) { return g(); }
C
for bits in 64 32; do
  for hash in gnu sysv; do
    gcc -m$bits -shared -fPIC -nostdlib -Wl,-soname,libseed.so.1 -Wl,--enable-new-dtags -Wl,--hash-style=$hash \
      -Wl,-rpath,'$ORIGIN/lib' -o "$seeds/libseed$bits-$hash.so" "$work_dir/seed.c" 2> /dev/null ||
      echo "(no ELF$bits $hash seed library: gcc -m$bits failed)"
  done
done

# The host's cache and cuts of it inside the header, the entries and the extension directory.
if [[ -f /etc/ld.so.cache ]]; then
  cp /etc/ld.so.cache "$cache_seeds/host-ld.so.cache"
  for cut in 20 48 72 1000 4096; do head -c "$cut" /etc/ld.so.cache > "$cache_seeds/cache-first-$cut-bytes"; done
fi

# run_fuzzer NAME CORPUS SEEDS: runs for $seconds; the reader only looks at headers and the cache
# is small, so a few hundred KiB per input is plenty; -rss_limit_mb catches memory use out of
# proportion to the input.
run_fuzzer() {
  echo "== fuzzing $1 for $seconds s"
  set +e
  "$work_dir/$1" "$2" "$3" \
    -max_total_time="$seconds" -max_len=262144 -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$work_dir/artifacts/$1-"
  local status=$?
  set -e
  if [[ $status -ne 0 ]]; then
    echo "FUZZER $1 FAILED (exit $status); reproducers:" >&2
    ls -l "$work_dir/artifacts" >&2
    exit "$status"
  fi
}
run_fuzzer elf_reader_fuzzer "$work_dir/corpus" "$seeds"
run_fuzzer ld_cache_fuzzer "$work_dir/cache-corpus" "$cache_seeds"
echo "== no crash in $seconds s per fuzzer"

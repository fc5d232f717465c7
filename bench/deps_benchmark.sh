#!/usr/bin/env bash
# Resolving every dynamically linked program in /usr/bin and /usr/sbin in one run of each tool:
# `jailbuild deps --list FILES...`, `ldd FILES...`, `libtree -p -vvv FILES...` and
# `lddtree -l FILES...`, timed with hyperfine. Each tool's answer is also checked against the union
# of ldd's (the real loader), as sets of real paths; jailbuild's must be identical, with the same
# libraries missing, or this script fails after printing the figures.
#
#   bench/deps_benchmark.sh [OUT_DIR]          (default: build-bench/deps-benchmark)
#
#   WARMUP=N  warmup runs per tool (default 2)
#   RUNS=N    minimum measured runs per tool (default 10; fast tools get more, as hyperfine does)
#
# Run as root on Debian 12. Builds jailbuild in Release in build-bench/ first. Needs hyperfine,
# libtree and lddtree (pax-utils, with python3-pyelftools): scripts/install-deps.sh --bench.
# Writes OUT_DIR/hyperfine.{json,md}, files.txt (the programs), TOOL.{out,err,status,files,missing}.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh

out_dir=$(realpath -m "${1:-build-bench/deps-benchmark}")
warmup=${WARMUP:-2}
runs=${RUNS:-10}
# Debian's tools only: lddtree is `#!/usr/bin/env python3` and needs Debian's python3 (its
# pyelftools); a python3 from pyenv or a venv earlier in PATH would break it.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
tools=(jailbuild ldd libtree lddtree)

# The command line of TOOL over all programs, one word per line.
command_of() {
  case "$1" in
    jailbuild) printf '%s\n' "$PWD/build-bench/jailbuild" deps --list ;;
    ldd) printf '%s\n' ldd ;;
    libtree) printf '%s\n' libtree -p -vvv ;;
    lddtree) printf '%s\n' lddtree -l ;;
  esac
  cat "$out_dir/files.txt"
}

# Runs TOOL once, keeping its output and exit status for the checks.
run_once() {
  local tool=$1 status=0 argv
  mapfile -t argv < <(command_of "$tool")
  "${argv[@]}" >"$out_dir/$tool.out" 2>"$out_dir/$tool.err" || status=$?
  echo "$status" >"$out_dir/$tool.status"
}

# The paths each tool printed (stdin: its stdout), one per line.
paths_of() {
  case "$1" in
    jailbuild | lddtree) grep '^/' || true ;;
    # "\tNAME => PATH (0x…)" and "\tPATH (0x…)"; not "FILE:" headers, the vDSO or "not found".
    ldd) awk -F'\t' 'NF > 1 { split($2, w, " "); if (w[2] == "=>" && w[3] ~ /^\//) print w[3]; else if (w[1] ~ /^\//) print w[1] }' ;;
    # Tree lines "│   ├── PATH [how found]" and the roots "PATH"; not the "┊ paths considered" notes.
    libtree) sed -n 's/^[│├└─ ]*\(\/[^ ]*\)\( \[.*\]\)\{0,1\} *$/\1/p' ;;
  esac
}

# The names each tool reports as not found (stdin: its stdout and stderr).
missing_of() {
  case "$1" in
    jailbuild) sed -n 's/^\([^ :]*\): not found (needed by .*/\1/p' ;;
    ldd) awk '/=> not found$/ { print $1 }' ;;
    libtree) sed -n 's/^[│├└─ ]*\([^ ]*\) not found$/\1/p' ;;
    lddtree) sed -n 's/^ *\([^ ]*\) => None$/\1/p' ;;
  esac
}

real_paths() { sort -u | xargs -r -d '\n' realpath -m -- | sort -u; }

# TOOL.files: the real paths of everything it says the programs load, the programs themselves
# excluded; TOOL.missing: the names it could not find.
summarize_answer() {
  local tool=$1
  paths_of "$tool" <"$out_dir/$tool.out" | real_paths | comm -23 - "$out_dir/programs.real" >"$out_dir/$tool.files"
  cat "$out_dir/$tool.out" "$out_dir/$tool.err" | missing_of "$tool" | sort -u >"$out_dir/$tool.missing"
}

# Prints what is in one of TOOL's and ldd's KIND (files or missing) lists but not the other.
print_differences() {
  local tool=$1 kind=$2
  comm -13 "$out_dir/$tool.$kind" "$out_dir/ldd.$kind" | sed "s/^/    $kind, only for ldd: /"
  comm -23 "$out_dir/$tool.$kind" "$out_dir/ldd.$kind" | sed "s/^/    $kind, only for $tool: /"
}

# Compares TOOL's answer with ldd's; prints the verdict and returns 1 if they differ.
check_against_ldd() {
  local tool=$1 differences
  differences=$(print_differences "$tool" files; print_differences "$tool" missing)
  printf '%-9s exit status %s, %s files, %s names not found: %s\n' "$tool" "$(cat "$out_dir/$tool.status")" \
    "$(wc -l <"$out_dir/$tool.files")" "$(wc -l <"$out_dir/$tool.missing")" \
    "$([ -z "$differences" ] && echo "same as ldd" || echo "DIFFERENT from ldd")"
  [ -z "$differences" ] || { echo "$differences"; return 1; }
}

time_tools() {
  local args=() tool argv
  for tool in "${tools[@]}"; do
    mapfile -t argv < <(command_of "$tool")
    args+=(--command-name "$tool" "$(printf '%q ' "${argv[@]}")")
  done
  hyperfine -N --warmup "$warmup" --min-runs "$runs" --ignore-failure \
    --export-json "$out_dir/hyperfine.json" --export-markdown "$out_dir/hyperfine.md" "${args[@]}"
}

# Medians from hyperfine's JSON, with each tool's ratio to jailbuild's. python3 is there anyway:
# lddtree needs it.
print_medians() {
  python3 - "$out_dir/hyperfine.json" <<'PYTHON'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
base = next(r["median"] for r in results if r["command"] == "jailbuild")
print(f"{'tool':<10} {'median s':>9} {'mean s':>9} {'stddev s':>9} {'runs':>5} {'failed runs':>12} {'median / jailbuild':>19}")
for r in results:
    failed = sum(1 for code in r["exit_codes"] if code != 0)
    print(f"{r['command']:<10} {r['median']:>9.4f} {r['mean']:>9.4f} {r['stddev']:>9.4f} {len(r['times']):>5} "
          f"{failed:>12} {r['median'] / base:>19.1f}")
PYTHON
}

print_machine() {
  echo "nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); kernel $(uname -r)"
  echo "$(ldd --version | sed -n 1p); libtree $(libtree --version); $(hyperfine --version)"
  echo "pax-utils $(dpkg-query -W -f='${Version}' pax-utils); jailbuild $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include || echo ' + local changes')"
}

main() {
  require_commands "run scripts/install-deps.sh --bench" hyperfine ldd libtree lddtree scanelf python3 cmake ninja
  mkdir -p "$out_dir"
  log "machine"
  print_machine
  log "building jailbuild (Release, build-bench/)"
  build_jailbuild
  list_dynamic_programs -R /usr/bin /usr/sbin >"$out_dir/files.txt"
  real_paths <"$out_dir/files.txt" >"$out_dir/programs.real"
  log "$(wc -l <"$out_dir/files.txt") dynamically linked programs in /usr/bin and /usr/sbin"

  log "answers, checked against the union of ldd's (real paths, the programs themselves excluded)"
  for tool in "${tools[@]}"; do
    run_once "$tool"
    summarize_answer "$tool"
  done
  local verdict=0
  for tool in "${tools[@]}"; do
    if ! check_against_ldd "$tool" && [ "$tool" = jailbuild ]; then verdict=1; fi
  done
  if [ "$verdict" = 0 ]; then echo "jailbuild's answer is CORRECT for this set"; else echo "jailbuild's answer is WRONG for this set"; fi

  log "timing: hyperfine -N, $warmup warmups, at least $runs runs each"
  time_tools
  log "medians (results in $out_dir)"
  print_medians
  return "$verdict"
}

main "$@"

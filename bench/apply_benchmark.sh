#!/usr/bin/env bash
# A no-op `jailbuild apply SPEC` against a no-op `jailbuild sync ROOT` of the same root, timed with
# hyperfine in one run: a spec applied twice must cost what the watch list's proof costs, nothing
# more (issue 14). The spec names every dynamically linked program of /usr/bin (about 550 on
# Debian 12) and has a [run] table; the root is built once with `apply`, applied and synced once
# more so that the watch list is current, then:
#   jailbuild apply SPEC         (the command measured: reads the spec, proves the root unchanged,
#                                  compares the recorded run settings)
#   jailbuild sync ROOT          (the watch list's proof alone)
#   find ROOT -printf ''         (the bare walk of the root, for scale)
# Checks: before timing, a second apply must say, at -v, that the watch list proved the root
# unchanged; after timing, the watch list must be the one written before (no run re-planned).
#
#   bench/apply_benchmark.sh [OUT_DIR]          (default: build-bench/apply-benchmark)
#
#   WARMUP=N  warmup runs per command (default 3)
#   RUNS=N    minimum measured runs per command (default 20)
#   JAILBUILD_BINARY=PATH  measure that binary (default: a Release build in build-bench/)
#
# Needs hyperfine, scanelf (pax-utils): scripts/install-deps.sh --bench. Writes OUT_DIR/results/
# {noop.json,noop.md,summary.md}.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh

out_dir=$(realpath -m "${1:-build-bench/apply-benchmark}")
warmup=${WARMUP:-3}
runs=${RUNS:-20}
results=$out_dir/results
root=$out_dir/root
state=$out_dir/state
spec=$out_dir/jail.toml
mkdir -p "$results"

require_commands "scripts/install-deps.sh --bench" hyperfine scanelf
require_root "the root is built and checked as root"
build_jailbuild

log "the spec: every dynamically linked program of /usr/bin"
mapfile -t programs < <(list_dynamic_programs /usr/bin)
{
  echo "root = \"$root\""
  echo "state-dir = \"$state\""
  echo "without = [\"tz\"]"
  printf 'paths = [\n'
  printf '  "%s",\n' "${programs[@]}"
  printf ']\n\n[run]\ncommand = ["/usr/bin/date", "-u"]\nuser = "nobody"\nnet = "none"\n'
} >"$spec"
echo "${#programs[@]} programs"

log "building the root: $jailbuild apply $spec"
rm -rf "$root" "$state"
"$jailbuild" apply "$spec" 2>&1 | tail -n 1
"$jailbuild" sync "$root" --state-dir "$state" >/dev/null 2>&1
"$jailbuild" apply "$spec" >/dev/null 2>&1
echo "$(find "$root" -mindepth 1 | wc -l) entries, $(du -sm "$root" | cut -f1) MB"

failed=0
if ! "$jailbuild" -v apply "$spec" 2>&1 | grep -q "as the watch list proves"; then
  echo "CHECK FAILED: a second apply was not proven unchanged by the watch list" >&2
  failed=1
fi
watch_list=$(find "$state/roots" -name '*.watch' | head -n 1)
watch_before=$(sha256sum "$watch_list")

log "timing (warmup $warmup, runs >= $runs)"
hyperfine -N --warmup "$warmup" --min-runs "$runs" --export-json "$results/noop.json" \
  --export-markdown "$results/noop.md" \
  -n "jailbuild apply SPEC" "$jailbuild apply $spec" \
  -n "jailbuild sync ROOT" "$jailbuild sync $root --state-dir $state" \
  -n "find ROOT -printf ''" "find $root -printf ''"

if [[ $(sha256sum "$watch_list") != "$watch_before" ]]; then
  echo "CHECK FAILED: the watch list changed during the no-op runs (a run re-planned)" >&2
  failed=1
fi

{
  echo "### No-op apply against no-op sync (\`bench/apply_benchmark.sh\`)"
  echo
  describe_host "$out_dir"
  echo "- root: ${#programs[@]} programs of /usr/bin, $(find "$root" -mindepth 1 | wc -l) entries"
  echo
  cat "$results/noop.md"
} >"$results/summary.md"
cat "$results/summary.md"
exit "$failed"

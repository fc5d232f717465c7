#!/usr/bin/env bash
# Checking a big root against the host, timed with hyperfine. The root holds every dynamically
# linked program in /usr/bin (regular ELF files with a PT_INTERP, not symlinks: about 550 on
# Debian 12) and their libraries, built once with `jailbuild add`; an equivalent jail is built once
# with jailkit's `jk_cp -j`, and a plain copy of the same host files once with `rsync -a`.
#   no-op    nothing changed on the host since the roots were built and synced once:
#              jailbuild sync ROOT --state-dir STATE            (the command measured)
#              jk_update -j JKROOT /usr FIXTURE                  (jailkit: reads every file, both sides)
#              rsync -a --dry-run --files-from=LIST / RSYNCROOT/ (size and mtime of the same files)
#              find ROOT -printf ''                              (the bare walk of the root: on
#                                       ext4 it reads directories and stats no file, d_type sufficing)
#              find ROOT -printf %C@     (the walk that lstats every entry, as reading a change
#                                       time requires)
#              stat --printf= PATHS    (lstat of every entry of the root and of the host path it
#                                       mirrors: more than a stat-only proof needs, since
#                                       directories' listings prove their symlinks)
#              taskset -c 0 ...        (jailbuild sync and the bare find pinned to one CPU: sync
#                                       checks the host side and the root side on two CPUs when
#                                       it can; taskset's own start is in both figures)
#   changed  one library rewritten on the host before each run (same bytes, new inode and mtime, as
#            a package upgrade leaves it): jailbuild sync and jk_update again. The library is a
#            fixture built here with gcc (OUT_DIR/fixture: libjbfixture.so.1 and 20 programs that
#            need it through their RUNPATH), added to both roots; no host library is touched.
#   full     nothing changed, but jailbuild's watch list (the stat-only proof that nothing changed,
#            kept next to the manifest) removed before each run, as after a reboot or any change
#            in a host directory the root mirrors: jailbuild sync re-plans and checks everything,
#            without and with --checksum (contents compared too, as jk_update does).
# Targets: a no-op sync at most 2x the `find` walk, and jk_update at least 10x a no-op sync.
# Checks: before timing, each tool must see nothing to do on the unchanged roots; jailbuild's watch
# list must stay the same through the no-op runs (if some run rewrote it, that run re-planned,
# because a watched host path changed meanwhile); after timing, a rewritten library must show up in
# sync's report, the root must be in sync again, and a sample of programs and the fixture must load
# inside jailbuild's root (`chroot ROOT PT_INTERP --list PROGRAM`, nothing "not found"). A failed
# check is reported after the figures and makes this script fail.
#
#   bench/sync_benchmark.sh [OUT_DIR]          (default: build-bench/sync-benchmark)
#
#   WARMUP=N  warmup runs per command (default 2)
#   RUNS=N    minimum measured runs per command (default 10)
#
# Run as root (chroot) on Debian 12. Builds jailbuild in Release in build-bench/ first. Needs
# hyperfine, jailkit (jk_cp, jk_update), pax-utils (scanelf), rsync, gcc and binutils (readelf):
# scripts/install-deps.sh --bench, plus `apt-get install rsync`.
# OUT_DIR must not be below a directory writable by group or others (such as /tmp): jk_cp refuses
# to copy there. During the runs, nothing may create or remove a file in a directory where
# jailbuild's plan looked something up (/etc, for /etc/ld.so.preload; /usr/lib/x86_64-linux-gnu;
# the fixture's lib/): that is a host change, the next syncs plan again, and the watch-list check
# fails. Writes OUT_DIR/results/{noop,changed,full}.{json,md}, summary.md (the tables for
# docs/benchmarks.md), checks.txt, programs.txt and logs; the roots are in OUT_DIR/roots/, the
# fixture in OUT_DIR/fixture/.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh

out_dir=$(realpath -m "${1:-build-bench/sync-benchmark}")
results=$out_dir/results
warmup=${WARMUP:-2}
runs=${RUNS:-10}
# Debian's tools only: jk_cp and jk_update are Python scripts that need Debian's python3.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
jailbuild=$PWD/build-bench/jailbuild
root=$out_dir/roots/jailbuild
state=$out_dir/roots/jailbuild.state
jk_root=$out_dir/roots/jk
rsync_root=$out_dir/roots/rsync
fixture=$out_dir/fixture
fixture_lib=$fixture/lib/libjbfixture.so.1.0    # the real file; libjbfixture.so.1 links to it
fixture_programs=20
watch_list=      # jailbuild's watch list of the root, once the settling sync has written it

require() {
  require_commands "scripts/install-deps.sh --bench; apt-get install rsync" \
    hyperfine jk_cp jk_update rsync scanelf gcc readelf chroot cmake ninja python3 taskset
  require_root "the root is checked with chroot"
}

# A library and FIXTURE_PROGRAMS programs that need it, found through their RUNPATH: the library
# the "changed" runs rewrite, so that no host library is ever modified.
build_fixture() {
  rm -rf "$fixture"
  mkdir -p "$fixture/src" "$fixture/lib" "$fixture/bin"
  cat >"$fixture/src/lib.c" <<'EOF'
int jbfixture_value(void) { return 42; }
EOF
  cat >"$fixture/src/main.c" <<'EOF'
#include <stdio.h>
int jbfixture_value(void);
int main(void) { printf("jbfixture %d\n", jbfixture_value()); return 0; }
EOF
  gcc -O2 -shared -fPIC -Wl,-soname,libjbfixture.so.1 -o "$fixture_lib" "$fixture/src/lib.c"
  ln -s libjbfixture.so.1.0 "$fixture/lib/libjbfixture.so.1"
  local i
  for ((i = 1; i <= fixture_programs; i++)); do
    gcc -O2 -o "$(printf '%s/bin/jbfixture-%02d' "$fixture" "$i")" "$fixture/src/main.c" \
      -L"$fixture/lib" -l:libjbfixture.so.1 -Wl,-rpath,"$fixture/lib"
  done
  "$fixture/bin/jbfixture-01" | grep -qx 'jbfixture 42'
}

# The prepare step of the "changed" runs: the fixture library rewritten with the same bytes
# through a copy and a rename (a new inode, mtime and ctime), as dpkg replaces a file.
write_scripts() {
  cat >"$results/rewrite-lib.sh" <<'EOF'
#!/bin/sh
set -e
cp "$1" "$1.new"
mv -f "$1.new" "$1"
EOF
  chmod +x "$results/rewrite-lib.sh"
  # The prepare step of the "full" runs: jailbuild's watch list of every root in STATE removed.
  cat >"$results/forget-watch.sh" <<'EOF'
#!/bin/sh
rm -f "$1"/roots/*.watch
EOF
  chmod +x "$results/forget-watch.sh"
}

# The watch list's inode, size and times: a new value means some sync re-planned and rewrote it.
watch_list_identity() { stat -c '%i %s %y %z' "$watch_list" 2>/dev/null || echo none; }

# A first sync once the host paths behind the root are more than a second old: a sync only writes
# its watch list when every path it depends on changed more than a second before it started
# (timestamps may lag the clock by a tick), so syncs right after the roots were built re-plan.
settle() {
  sleep 2
  "$jailbuild" sync "$root" --state-dir "$state" >"$results/settle.log" 2>&1
  watch_list=$(find "$state/roots" -name '*.watch' | head -n 1)
  if [[ -z $watch_list ]]; then
    echo "jailbuild sync wrote no watch list in $state/roots: its no-op figure would be a full check" >&2
  fi
}

# Builds the three roots once: jailbuild's with add (the host programs, then the fixture), jailkit's
# with jk_cp, and a copy of the host files behind jailbuild's root with rsync.
build_roots() {
  local programs tool
  rm -rf "$out_dir/roots"
  mkdir -p "$out_dir/roots" "$jk_root" "$rsync_root"
  mapfile -t programs <"$results/programs.txt"
  "$jailbuild" add "${programs[@]}" --root "$root" --state-dir "$state" --without tz >"$results/add.log" 2>&1
  "$jailbuild" add "$fixture"/bin/* --root "$root" --state-dir "$state" --without tz >>"$results/add.log" 2>&1
  grep -F " created, " "$results/add.log"
  jk_cp -j "$jk_root" "${programs[@]}" "$fixture"/bin/* >"$results/jk_cp.log" 2>&1
  # The host path of every entry of jailbuild's root (all exist: its own /etc/ld.so.cache and
  # ld.so.conf have host namesakes), copied once; the timed rsync compares them again.
  find "$root" -mindepth 1 -printf '/%P\n' | sort |
    while read -r path; do [[ -e $path || -L $path ]] && echo "$path"; done >"$results/rsync-files.txt"
  rsync -a --files-from="$results/rsync-files.txt" / "$rsync_root/"
  # Every entry of jailbuild's root and the host path it mirrors, for `stat`: one process, like
  # each tool. (No path of a Debian /usr/bin closure holds a blank or a quote, which would have
  # to be quoted for hyperfine.)
  { sed "s|^|$root|" "$results/rsync-files.txt"; cat "$results/rsync-files.txt"; } >"$results/stat-files.txt"
  for tool in jailbuild jk rsync; do
    echo "$tool: $(find "$out_dir/roots/$tool" -mindepth 1 | wc -l) entries, $(du -sm "$out_dir/roots/$tool" | cut -f1) MB"
  done
}

sync_command() { echo "$jailbuild sync $root --state-dir $state"; }
# jk_update scans /bin, /lib, /usr and /opt of the jail by default: /bin and /opt do not exist in
# jk_cp's jail (an error on stderr each, exit status 0) and /lib is its symlink to usr/lib, so
# usr/lib would be read twice. /usr and the fixture's directory cover every file of the jail but
# its own /etc/ld.so.cache.
jk_update_command() { echo "jk_update $* -j $jk_root /usr $fixture"; }    # [OPTION...]
rsync_command() { echo "rsync -a --dry-run $* --files-from=$results/rsync-files.txt / $rsync_root/"; }

# What `jailbuild sync --dry-run --json` would change in jailbuild's root, as JSON; nothing if nothing.
pending_changes() {
  "$jailbuild" sync "$root" --state-dir "$state" --dry-run --json | python3 -c '
import json, sys
report = json.load(sys.stdin)
keys = ("created", "updated", "removed", "vanished", "conflicts", "problems", "pruned")
changes = {key: report[key] for key in keys if report.get(key)}
print(json.dumps(changes) if changes else "", end="")
print(report.get("unchanged"), "unchanged", file=sys.stderr)
'
}

# The dry-run check of jailbuild's root that check_noop and check_root share: prints
# "WHEN: jailbuild sync --dry-run: nothing to do (...)", or "... OTHERWISE: CHANGES" and returns 1.
report_pending() {    # WHEN OTHERWISE
  local changes
  if changes=$(pending_changes 2>"$results/pending.err") && [[ -z $changes ]]; then
    echo "$1: jailbuild sync --dry-run: nothing to do ($(cat "$results/pending.err"))"
  else
    echo "$1: jailbuild sync --dry-run $2: $changes $(head -c 300 "$results/pending.err")"
    return 1
  fi
}

# What each tool would do on the unchanged roots: nothing, or the no-op figures mean nothing.
# Prints one line per tool; returns 1 if one would change something.
check_noop() {
  local status=0 output argv
  report_pending no-op "would change something" || status=1
  read -ra argv <<<"$(jk_update_command -d)"
  output=$("${argv[@]}" 2>&1)
  if [[ -z $output ]]; then
    echo "no-op: jk_update -d: nothing to do"
  else
    echo "no-op: jk_update -d would change something: $(head -c 300 <<<"$output" | tr '\n' ' ')"
    status=1
  fi
  # Directory times are left out: neither jailbuild nor jk_update mirrors them, and OUT_DIR's (on
  # the way to the fixture) move with the script's own files.
  read -ra argv <<<"$(rsync_command --itemize-changes)"
  output=$("${argv[@]}" 2>&1 | grep -v '^\.d\.\.t\.\.\.\.\.\. ' || true)
  if [[ -z $output ]]; then
    echo "no-op: rsync --dry-run: nothing to do"
  else
    echo "no-op: rsync --dry-run would change something: $(head -c 300 <<<"$output" | tr '\n' ' ')"
    status=1
  fi
  return "$status"
}

time_noop() {
  hyperfine -N --warmup "$warmup" --min-runs "$runs" --export-json "$results/noop.json" \
    --export-markdown "$results/noop.md" \
    -n "jailbuild sync" "$(sync_command)" \
    -n "jk_update" "$(jk_update_command)" \
    -n "rsync -a --dry-run" "$(rsync_command)" \
    -n "find ROOT -printf ''" "find $root -printf ''" \
    -n "find ROOT -printf %C@" "find $root -printf %C@" \
    -n "stat of $(wc -l <"$results/stat-files.txt") paths" "stat --printf= $(tr '\n' ' ' <"$results/stat-files.txt")" \
    -n "jailbuild sync, one CPU" "taskset -c 0 $(sync_command)" \
    -n "find ROOT -printf '', one CPU" "taskset -c 0 find $root -printf ''"
}

time_full() {
  hyperfine -N --warmup "$warmup" --min-runs "$runs" --export-json "$results/full.json" \
    --export-markdown "$results/full.md" --prepare "$results/forget-watch.sh $state" \
    -n "jailbuild sync" "$(sync_command)" \
    -n "jailbuild sync --checksum" "$(sync_command) --checksum"
}

time_changed() {
  hyperfine -N --warmup "$warmup" --min-runs "$runs" --export-json "$results/changed.json" \
    --export-markdown "$results/changed.md" --prepare "$results/rewrite-lib.sh $fixture_lib" \
    -n "jailbuild sync" "$(sync_command)" \
    -n "jk_update" "$(jk_update_command)"
}

# After the runs: a rewritten library shows up in sync's report, the root is in sync afterwards,
# and a sample of programs (every 56th host program and one fixture program) loads inside the root
# with nothing "not found"; the fixture program also runs there. Prints one line per check;
# returns 1 if one fails.
check_root() {
  local status=0 output program excerpt
  "$results/rewrite-lib.sh" "$fixture_lib"
  output=$("$jailbuild" sync "$root" --state-dir "$state" --json)
  if python3 -c '
import json, sys
report = json.load(sys.stdin)
sys.exit(0 if any("libjbfixture.so.1.0" in json.dumps(entry) for entry in report.get("updated", [])) else 1)
' <<<"$output"; then
    echo "changed: sync updated the rewritten $fixture_lib"
  else
    echo "changed: sync did not report the rewritten $fixture_lib as updated: $(head -c 400 <<<"$output" | tr '\n' ' ')"
    status=1
  fi
  if cmp -s "$fixture_lib" "$root$fixture_lib"; then
    echo "changed: the root's copy of the library is identical to the host's"
  else
    echo "changed: the root's copy of $fixture_lib differs from the host's"
    status=1
  fi
  report_pending after "still finds work" || status=1
  local sample=() loaded=0
  mapfile -t sample < <(awk 'NR % 56 == 28' "$results/programs.txt")
  sample+=("$fixture/bin/jbfixture-01")
  for program in "${sample[@]}"; do
    if excerpt=$(loads_in_root "$root" "$program"); then
      loaded=$((loaded + 1))
    else
      echo "after: $program does not load in the root: $excerpt"
      status=1
    fi
  done
  echo "after: $loaded of ${#sample[@]} sampled programs load in the root: ${sample[*]##*/}"
  output=$(chroot "$root" "$fixture/bin/jbfixture-01" 2>&1) || true
  if [[ $output == "jbfixture 42" ]]; then
    echo "after: $fixture/bin/jbfixture-01 runs in the root"
  else
    echo "after: $fixture/bin/jbfixture-01 fails in the root: $output"
    status=1
  fi
  return "$status"
}

# Medians from hyperfine's JSON, their ratios to a no-op sync's and the two targets, as markdown.
summarize() {
  python3 - "$results/noop.json" "$results/changed.json" "$results/full.json" <<'PYTHON'
import json, sys

def results(path):
    return {r["command"]: r for r in json.load(open(path))["results"]}

def ms(seconds):
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.2f} s"

def table(rows, base):
    print("| command | median | mean ± σ | min … max | runs | user / system | median / no-op sync's |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {ms(r['median'])} | {ms(r['mean'])} ± {ms(r['stddev'])} | "
              f"{ms(r['min'])} … {ms(r['max'])} | {len(r['times'])} | "
              f"{ms(r['user'])} / {ms(r['system'])} | {r['median'] / base:.2f} |")

noop = results(sys.argv[1])
changed = results(sys.argv[2])
full = results(sys.argv[3])
sync = noop["jailbuild sync"]["median"]
print("No-op (nothing changed on the host):\n")
table(noop, sync)
print("\nOne library rewritten before each run (same bytes, new inode and mtime):\n")
table(changed, sync)
print("\nNothing changed, but the watch list removed before each run (as after a reboot):\n")
table(full, sync)
walk = sync / noop["find ROOT -printf ''"]["median"]
jk = noop["jk_update"]["median"] / sync
print("\nTargets:\n")
print(f"- no-op sync / `find` walk: **{walk:.1f}x** (target at most 2x): {'met' if walk <= 2 else '**not met**'}")
print(f"- jk_update / no-op sync: **{jk:.1f}x** (target at least 10x): {'met' if jk >= 10 else '**not met**'}")
stat_walk = sync / noop["find ROOT -printf %C@"]["median"]
print(f"- (no target) no-op sync / `find` walk that lstats every entry: {stat_walk:.1f}x")
stat_name = next(name for name in noop if name.startswith("stat of "))
print(f"- (no target) no-op sync / {stat_name}: {sync / noop[stat_name]['median']:.1f}x")
one_cpu = noop["jailbuild sync, one CPU"]["median"] / noop["find ROOT -printf '', one CPU"]["median"]
print(f"- (no target) both on one CPU (`taskset -c 0`, whose own start both include): {one_cpu:.1f}x")
PYTHON
}

machine() {
  describe_host "$out_dir"
  echo "- jailkit $(dpkg-query -W -f='${Version}' jailkit), rsync $(dpkg-query -W -f='${Version}' rsync), $(hyperfine --version)"
  echo "- jailbuild $(git describe --always --dirty 2>/dev/null || echo '(not a git checkout)'), Release build in build-bench/"
}

main() {
  require
  mkdir -p "$results"
  log "building jailbuild (Release) in build-bench/"
  build_jailbuild
  require_subcommand sync
  list_dynamic_programs /usr/bin >"$results/programs.txt"
  log "$(wc -l <"$results/programs.txt") dynamically linked programs in /usr/bin; the fixture in $fixture"
  build_fixture
  write_scripts
  log "building the roots once (jailbuild add, jk_cp, rsync), then a first sync 2 s later"
  build_roots
  settle
  log "checking that nothing is to do on the unchanged roots"
  local checks_status=0 watch_before watch_after
  check_noop | tee "$results/checks.txt" || checks_status=$?
  watch_before=$(watch_list_identity)
  log "no-op: hyperfine -N, $warmup warmups, at least $runs runs each"
  time_noop
  watch_after=$(watch_list_identity)
  if [[ $watch_before == none || $watch_before != "$watch_after" ]]; then
    echo "no-op: the watch list was missing or rewritten during the no-op runs ($watch_before -> $watch_after): some syncs re-planned, because a watched host path changed" |
      tee -a "$results/checks.txt"
    checks_status=1
  else
    echo "no-op: the watch list stayed the same through the no-op runs: each sync took the stat-only path" |
      tee -a "$results/checks.txt"
  fi
  log "one library rewritten before each run: hyperfine -N, $warmup warmups, at least $runs runs each"
  time_changed
  log "the watch list removed before each run: hyperfine -N, $warmup warmups, at least $runs runs"
  time_full
  log "checking jailbuild's root"
  check_root | tee -a "$results/checks.txt" || checks_status=$?
  log "summary"
  { machine; echo; echo "Programs: $(wc -l <"$results/programs.txt") (results/programs.txt), plus $fixture_programs fixture programs"
    echo; summarize; } | tee "$results/summary.md"
  if ((checks_status != 0)); then
    echo "a check failed (above; also in $results/checks.txt)" >&2
    exit 1
  fi
}

main "$@"

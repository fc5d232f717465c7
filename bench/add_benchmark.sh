#!/usr/bin/env bash
# Building one root for the same 25 real programs with `jailbuild add`, jailkit's `jk_cp` and
# dracut's `dracut-install -a -l`, timed with hyperfine:
#   fresh     each run starts from an empty root;
#   repeated  the root already holds everything (jailbuild's repeated add should cost about what
#             looking at its files costs: it is compared with `find ROOT -printf ''`, a walk of the
#             root, and with `stat` of every entry of the root and of every host file it mirrors).
# Each tool's fresh root is then checked from inside: for every program, the loader inside the
# root (`chroot ROOT PT_INTERP --list PROGRAM`) must find everything, and a few programs must run.
# Incomplete roots are reported; only jailbuild's must be complete, or this script fails after
# printing the figures.
# And the runtime rules' cost (rules.{json,md}, plan.{json,md}, rule-sizes.txt):
#   fresh     jailbuild's fresh root with the rules on (the default) and with every rule that is on
#             by default turned off (`--without` all of them), and the bytes of each root;
#   planning  the same two ways and with only `tz` off, planning alone: `add --dry-run` into an
#             empty root (resolving, reading imports, the rules choosing their paths, deciding each
#             entry against the empty root, printing the plan; nothing is written);
#   per rule  the bytes each rule brought (`list --json`'s rule_sizes: all it needs, and what only
#             it needs).
#
#   bench/add_benchmark.sh [OUT_DIR]          (default: build-bench/add-benchmark)
#
#   WARMUP=N  warmup runs per command (default 3)
#   RUNS=N    minimum measured runs per command (default 20)
#   RULES_ONLY=1  measure only the runtime rules' cost (no peers, no repeated runs, no checks)
#
# Run as root (chroot) on Debian 12. Builds jailbuild in Release in build-bench/ first. Needs
# hyperfine, jailkit (jk_cp), dracut-core (dracut-install) and binutils (readelf):
# scripts/install-deps.sh --bench, plus `apt-get install jailkit dracut-core`. OUT_DIR must not be
# below a directory writable by group or others (such as /tmp): jk_cp refuses to copy there.
# Writes OUT_DIR/{fresh,repeated}.{json,md}, summary.md (the tables for docs/benchmarks.md),
# checks.txt (what works in each root) and the roots themselves (OUT_DIR/roots/).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh

out_dir=$(realpath -m "${1:-build-bench/add-benchmark}")
warmup=${WARMUP:-3}
runs=${RUNS:-20}
# Debian's tools only: jk_cp is a Python script that needs Debian's python3.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
jailbuild=$PWD/build-bench/jailbuild
dracut_install=/usr/lib/dracut/dracut-install
tools=(jailbuild jk_cp dracut-install)
programs=(/usr/bin/{bash,ls,cat,cp,grep,sed,tar,gzip,xz,find,ps,diff,sort,less,openssl,git,perl,python3.11,sqlite3,curl,ssh,make,strace,file,gpg})

require() {
  require_commands "scripts/install-deps.sh --bench; apt-get install jailkit dracut-core" \
    hyperfine jk_cp "$dracut_install" readelf chroot cmake ninja python3 "${programs[@]}"
  require_root "the roots are checked with chroot"
}

root_of() { echo "$out_dir/roots/$1-$2"; }    # KIND TOOL
state_of() { echo "$out_dir/roots/$1-$2.state"; }

# The command line of TOOL building ROOT (with STATE for jailbuild's manifest).
command_of() {
  local tool=$1 root=$2 state=$3
  case "$tool" in
    jailbuild) echo "$jailbuild add ${programs[*]} --root $root --state-dir $state" ;;
    jk_cp) echo "jk_cp -j $root ${programs[*]}" ;;
    dracut-install) echo "$dracut_install -D $root -a -l ${programs[*]}" ;;
  esac
}

# An empty ROOT (jk_cp and dracut-install need it to exist) and no manifest: the start of a fresh run.
write_reset_script() {
  cat >"$out_dir/reset.sh" <<'EOF'
#!/bin/sh
rm -rf "$1" "$2" && mkdir -p "$1"
EOF
  chmod +x "$out_dir/reset.sh"
}

# Builds each tool's roots once: the fresh ones for the checks, the repeated ones to time again.
build_roots() {
  local tool kind argv
  for tool in "${tools[@]}"; do
    for kind in fresh repeated; do
      "$out_dir/reset.sh" "$(root_of "$kind" "$tool")" "$(state_of "$kind" "$tool")"
      read -ra argv <<<"$(command_of "$tool" "$(root_of "$kind" "$tool")" "$(state_of "$kind" "$tool")")"
      "${argv[@]}" >"$out_dir/$tool.$kind.log" 2>&1 ||
        echo "$tool exited with $? building the $kind root (log: $out_dir/$tool.$kind.log)"
    done
  done
}

time_fresh() {
  local args=() tool root state
  for tool in "${tools[@]}"; do
    root=$(root_of fresh "$tool") state=$(state_of fresh "$tool")
    args+=(--prepare "$out_dir/reset.sh $root $state" -n "$tool" "$(command_of "$tool" "$root" "$state")")
  done
  hyperfine -N --warmup "$warmup" --min-runs "$runs" --export-json "$out_dir/fresh.json" \
    --export-markdown "$out_dir/fresh.md" "${args[@]}"
}

# Every entry of jailbuild's root and the host path it mirrors: what a repeated add looks at.
write_stat_list() {
  local root
  root=$(root_of repeated jailbuild)
  { find "$root" -mindepth 1 -printf '/%P\n'; find "$root" -mindepth 1 -printf "$root/%P\n"; } |
    while read -r path; do [[ -e $path || -L $path ]] && echo "$path"; done >"$out_dir/stat-files.txt"
}

time_repeated() {
  local args=() tool root
  for tool in "${tools[@]}"; do
    root=$(root_of repeated "$tool")
    args+=(-n "$tool" "$(command_of "$tool" "$root" "$(state_of repeated "$tool")")")
  done
  root=$(root_of repeated jailbuild)
  args+=(-n "find ROOT -printf ''" "find $root -printf ''")
  args+=(-n "stat of its $(wc -l <"$out_dir/stat-files.txt") files" "stat --printf= $(tr '\n' ' ' <"$out_dir/stat-files.txt")")
  hyperfine -N --warmup "$warmup" --min-runs "$runs" --export-json "$out_dir/repeated.json" \
    --export-markdown "$out_dir/repeated.md" "${args[@]}"
}

# Programs that run in any complete root without files of their own (configuration, data, or
# /dev/null, which git needs at every start), and what they must print. Run with LC_ALL=C.
smoke_tests() {
  cat <<'EOF'
/usr/bin/bash -c echo${IFS}ok|ok
/usr/bin/ls -d /usr|/usr
/usr/bin/perl -v|This is perl 5
/usr/bin/find /usr -maxdepth 0|/usr
/usr/bin/diff --version|GNU diffutils
/usr/bin/sqlite3 -version|3.
/usr/bin/openssl version|OpenSSL
/usr/bin/xz --version|xz (XZ Utils)
/usr/bin/curl --version|curl
/usr/bin/tar --version|tar (GNU tar)
/usr/bin/make --version|GNU Make
/usr/bin/gpg --version|gpg (GnuPG)
EOF
}

# For each tool: which programs the loader inside its fresh root cannot load, and which smoke
# tests fail there. Prints one line per problem and a verdict per tool; returns 1 if jailbuild's
# root is incomplete.
check_roots() {
  local tool root program excerpt line argv expected output status jailbuild_ok=0
  for tool in "${tools[@]}"; do
    root=$(root_of fresh "$tool")
    local problems=0
    for program in "${programs[@]}"; do
      if ! excerpt=$(loads_in_root "$root" "$program"); then
        echo "$tool: $program does not load: $excerpt"
        problems=$((problems + 1))
      fi
    done
    while IFS='|' read -r line expected; do
      read -ra argv <<<"$line"
      output=$(chroot "$root" "${argv[@]}" 2>&1 </dev/null) && status=0 || status=$?
      if ((status != 0)) || [[ $output != *"$expected"* ]]; then
        echo "$tool: \`${argv[*]}\` fails in the root (exit $status): $(head -c 200 <<<"$output" | tr '\n' ' ')"
        problems=$((problems + 1))
      fi
    done < <(smoke_tests)
    echo "$tool: $(find "$root" -mindepth 1 | wc -l) entries, $(du -sm "$root" | cut -f1) MB, $problems problems"
    [[ $tool == jailbuild ]] && ((problems > 0)) && jailbuild_ok=1
  done
  return "$jailbuild_ok"
}

# Medians from hyperfine's JSON and their ratios, as markdown tables.
summarize() {
  python3 - "$out_dir/fresh.json" "$out_dir/repeated.json" <<'PYTHON'
import json, sys

def medians(path):
    return [(r["command"], r["median"] * 1000, r["stddev"] * 1000) for r in json.load(open(path))["results"]]

fresh = medians(sys.argv[1])
repeated = medians(sys.argv[2])
base = dict((name, median) for name, median, _ in fresh)["jailbuild"]
print("Fresh root (empty before each run):\n")
print("| tool | median | stddev | time / jailbuild's |")
print("|---|---:|---:|---:|")
for name, median, stddev in fresh:
    print(f"| {name} | {median:.1f} ms | {stddev:.1f} ms | {median / base:.2f} |")
base = dict((name, median) for name, median, _ in repeated)["jailbuild"]
print("\nRepeated (the root already complete), with what looking at the files costs:\n")
print("| command | median | stddev | jailbuild's time / this |")
print("|---|---:|---:|---:|")
for name, median, stddev in repeated:
    print(f"| {name} | {median:.1f} ms | {stddev:.1f} ms | {base / median:.2f} |")
PYTHON
}

# The rules on by default, comma-separated: what `--without` turns off to build a root without rules.
default_rules() {
  "$jailbuild" rules --json |
    python3 -c 'import json, sys; print(",".join(r["name"] for r in json.load(sys.stdin)["rules"] if r["on_by_default"]))'
}

# Fresh roots with and without the rules, and the planning alone (into an empty root, --dry-run)
# with the rules, without tz, without any but with the files they brought named, and without any; then each fresh root's bytes and what each rule brought.
time_rules() {
  local off on_root on_state off_root off_state plan_root plan_state argv
  off=$(default_rules)
  on_root=$(root_of rules-on jailbuild) on_state=$(state_of rules-on jailbuild)
  off_root=$(root_of rules-off jailbuild) off_state=$(state_of rules-off jailbuild)
  plan_root=$(root_of plan-empty jailbuild) plan_state=$(state_of plan-empty jailbuild)
  "$out_dir/reset.sh" "$plan_root" "$plan_state"
  hyperfine -N --warmup "$warmup" --min-runs "$runs" --export-json "$out_dir/rules.json" \
    --export-markdown "$out_dir/rules.md" \
    --prepare "$out_dir/reset.sh $on_root $on_state" -n "fresh, rules on" \
    "$(command_of jailbuild "$on_root" "$on_state")" \
    --prepare "$out_dir/reset.sh $off_root $off_state" -n "fresh, --without $off" \
    "$(command_of jailbuild "$off_root" "$off_state") --without $off"
  # What the rules brought from the host, named as paths to a plan without rules: the planner then
  # plans the same files, and the difference to "rules on" is the rules' own deciding (reading
  # imports and configuration, choosing paths), apart from the cost of planning more files.
  "$jailbuild" list "$on_root" --state-dir "$on_state" --json | python3 -c '
import json, os, sys
# Files and symlinks to files: a symlink to a directory (/bin -> usr/bin) named as a path would
# bring the whole directory.
for entry in json.load(sys.stdin)["entries"]:
    if (entry["type"] != "directory" and entry.get("source") and not os.path.isdir(entry["source"])
            and all(r["added"].startswith("rule ") for r in entry["reasons"])):
        print(entry["source"])' >"$out_dir/rule-paths.txt"
  # Thousands of paths are more than one argument may hold (hyperfine's command string): a script
  # runs the command with them (bash's start, a few ms, is in that row's time).
  {
    echo '#!/bin/bash'
    echo "mapfile -t paths <$out_dir/rule-paths.txt"
    # Exit 1 is expected: a few scripts of the trees (perl's `#!./perl`) named as paths are
    # problems, where inside an added directory they are warnings; the plan is made all the same.
    echo "$(command_of jailbuild "$plan_root" "$plan_state") --dry-run --without $off \"\${paths[@]}\" >/dev/null 2>&1"
    echo '(($? <= 1))'
  } >"$out_dir/plan-named.sh"
  chmod +x "$out_dir/plan-named.sh"
  hyperfine -N --warmup "$warmup" --min-runs "$runs" --export-json "$out_dir/plan.json" \
    --export-markdown "$out_dir/plan.md" \
    -n "plan only, rules on" "$(command_of jailbuild "$plan_root" "$plan_state") --dry-run" \
    -n "plan only, --without tz" "$(command_of jailbuild "$plan_root" "$plan_state") --dry-run --without tz" \
    -n "plan only, rules off, the $(wc -l <"$out_dir/rule-paths.txt") files they brought named as paths" \
    "$out_dir/plan-named.sh" \
    -n "plan only, --without $off" "$(command_of jailbuild "$plan_root" "$plan_state") --dry-run --without $off"
  # The roots as the last timed runs left them.
  {
    echo "bytes (du -sb): rules on $(du -sb "$on_root" | cut -f1), rules off $(du -sb "$off_root" | cut -f1)"
    echo "entries: rules on $(find "$on_root" -mindepth 1 | wc -l), rules off $(find "$off_root" -mindepth 1 | wc -l)"
    "$jailbuild" list "$on_root" --state-dir "$on_state" --json >"$out_dir/rules-on-list.json"
    python3 - "$out_dir/rules-on-list.json" <<'PYTHON'
import json, sys
for size in json.load(open(sys.argv[1]))["rule_sizes"]:
    print(f"rule {size['rule']}: {size['entries']} entries, {size['bytes']} bytes; "
          f"only for it: {size['own_entries']} entries, {size['own_bytes']} bytes")
PYTHON
  } >"$out_dir/rule-sizes.txt"
}

summarize_rules() {
  python3 - "$out_dir/rules.json" "$out_dir/plan.json" <<'PYTHON'
import json, sys

for title, path in (("Fresh root, rules on and off:", sys.argv[1]), ("Planning alone (add --dry-run into an empty root):", sys.argv[2])):
    # The CPU time (user + system) too: on a loaded machine it varies less than the wall time.
    results = [(r["command"], r["median"] * 1000, r["stddev"] * 1000, (r["user"] + r["system"]) * 1000)
               for r in json.load(open(path))["results"]]
    base, base_cpu = results[-1][1], results[-1][3]
    print(f"{title}\n")
    print("| command | median | stddev | time / the last row's | CPU (user + system, mean) | CPU / the last row's |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, median, stddev, cpu in results:
        print(f"| {name} | {median:.1f} ms | {stddev:.1f} ms | {median / base:.2f} | {cpu:.1f} ms | {cpu / base_cpu:.2f} |")
    print()
PYTHON
  cat "$out_dir/rule-sizes.txt"
}

machine() {
  describe_host "$out_dir"
  echo "- jailkit $(dpkg-query -W -f='${Version}' jailkit), dracut-core $(dpkg-query -W -f='${Version}' dracut-core), $(hyperfine --version)"
}

main() {
  require
  mkdir -p "$out_dir/roots"
  log "building jailbuild (Release) in build-bench/, unless JAILBUILD_BINARY names one"
  build_jailbuild
  write_reset_script
  if [[ ${RULES_ONLY:-} == 1 ]]; then
    log "the runtime rules: hyperfine -N, $warmup warmups, at least $runs runs each"
    time_rules
    { describe_host "$out_dir"; echo; echo "Programs: ${programs[*]}"; echo; summarize_rules; } |
      tee "$out_dir/summary-rules.md"
    return
  fi
  log "building each tool's roots once"
  build_roots
  write_stat_list
  log "fresh roots: hyperfine -N, $warmup warmups, at least $runs runs each"
  time_fresh
  log "repeated: hyperfine -N, $warmup warmups, at least $runs runs each"
  time_repeated
  log "the runtime rules: hyperfine -N, $warmup warmups, at least $runs runs each"
  time_rules
  log "checking each tool's root from inside"
  local checks_status=0
  check_roots | tee "$out_dir/checks.txt" || checks_status=$?
  log "summary"
  { machine; echo; echo "Programs: ${programs[*]}"; echo; summarize; echo; summarize_rules; } | tee "$out_dir/summary.md"
  if ((checks_status != 0)); then
    echo "jailbuild's root is incomplete (above)" >&2
    exit 1
  fi
}

main "$@"

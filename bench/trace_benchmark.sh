#!/usr/bin/env bash
# What tracing a workload costs (`jailbuild add --trace`), against strace doing the like, timed with
# hyperfine. Two file-heavy workloads:
#   python   /usr/bin/python3 -c "import email, json, http.client, sqlite3, ssl"   (some 400 opens
#            and 1,500 stats of the standard library)
#   git      /usr/bin/git -C REPO status, REPO a repository of FILES files (default 3000) made here
# each run
#   untraced                        the workload alone
#   strace                          strace -f --seccomp-bpf -e trace=%file -o /dev/null WORKLOAD:
#                                   the same technique (a seccomp filter stops the workload on the
#                                   file calls only, ptrace reads their paths), output thrown away
#   jailbuild run                   the workload in the root `add --trace` built for it (--host-root,
#                                   the repository bound read-only for git)
#   jailbuild run --report-missing  the same, traced by jailbuild's tracer (the same filter and
#                                   ptrace loop as add --trace), and the report made
#   jailbuild add --trace --dry-run the workload traced in jailbuild's host view (new mount, PID and
#                                   IPC namespaces, the host read-only, capabilities dropped), then
#                                   the plan of everything it used, runtime rules included (the
#                                   interpreter rule plans Python's whole standard library)
#   jailbuild add --trace           the same, and the root written (a fresh root each run)
# Target (issue 13): the trace costs no more than strace's like-for-like run. Like for like is what
# tracing adds to the same run: (run --report-missing - run) at most (strace - untraced), medians,
# per workload. `add --trace` also plans and copies, which strace does not: its rows say what a user
# waits for.
# Checks before timing: each workload exits 0 alone, under strace, and in the root `add --trace`
# built for it, traced or not.
#
#   bench/trace_benchmark.sh [OUT_DIR]          (default: build-bench/trace-benchmark)
#
#   WARMUP=N  warmup runs per command (default 2)
#   RUNS=N    minimum measured runs per command (default 10)
#   FILES=N   files in the git workload's repository (default 3000)
#   JAILBUILD_BINARY=P  time this jailbuild binary instead of building one in build-bench/
#
# Run as root on Debian 12. Needs hyperfine, strace, git, python3: scripts/install-deps.sh --bench.
# OUT_DIR must not be under /tmp, /var/tmp or /run: the traced workload sees those as fresh tmpfs.
# Writes OUT_DIR/results/{python,git}.{json,md} and summary.md (the table for docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh

out_dir=$(realpath -m "${1:-build-bench/trace-benchmark}")
results=$out_dir/results
warmup=${WARMUP:-2}
runs=${RUNS:-10}
files=${FILES:-3000}
jailbuild=$PWD/build-bench/jailbuild
repository=$out_dir/repository

case $out_dir in
  /tmp | /tmp/* | /var/tmp | /var/tmp/* | /run | /run/*)
    echo "$out_dir: the traced workload sees /tmp, /var/tmp and /run empty; choose another OUT_DIR" >&2
    exit 2
    ;;
esac
require_commands "scripts/install-deps.sh --bench" hyperfine strace git python3 cmake ninja
require_root "the traced workload gets namespaces of its own, as root runs it"
mkdir -p "$results"
build_jailbuild
require_subcommand add
if ! "$jailbuild" add --help | grep -q -- --trace; then
  echo "$jailbuild has no add --trace" >&2
  exit 2
fi

log "a repository of $files files in $repository"
if [[ ! -d $repository/.git ]]; then
  rm -rf "$repository"
  mkdir -p "$repository"
  for ((i = 0; i < files; ++i)); do
    mkdir -p "$repository/d$((i % 50))"
    echo "file $i" >"$repository/d$((i % 50))/f$i.txt"
  done
  git -C "$repository" init -q
  git -C "$repository" add -A
  git -C "$repository" -c user.name=bench -c user.email=bench@localhost commit -qm files
fi

declare -A workload=(
  [python]='/usr/bin/python3 -c "import email, json, http.client, sqlite3, ssl"'
  [git]="/usr/bin/git -C $repository status --porcelain"
)
checks=()
for name in python git; do
  command=${workload[$name]}
  bash -c "$command" >/dev/null || checks+=("$name: the workload alone failed")
  bash -c "strace -f --seccomp-bpf -e trace=%file -o /dev/null $command" >/dev/null ||
    checks+=("$name: the workload under strace failed")
done
declare -A run_options=([python]="--host-root" [git]="--host-root --ro-bind $repository")
for name in python git; do
  traced_root=$out_dir/roots/$name-traced
  rm -rf "$traced_root" "$traced_root.state"
  bash -c "'$jailbuild' -q add --root '$traced_root' --state-dir '$traced_root.state' --trace -- ${workload[$name]}" \
    >/dev/null || checks+=("$name: add --trace failed")
  bash -c "'$jailbuild' -q run ${run_options[$name]} '$traced_root' ${workload[$name]}" >/dev/null ||
    checks+=("$name: the traced root does not run the workload")
  bash -c "'$jailbuild' -q run --report-missing ${run_options[$name]} '$traced_root' ${workload[$name]}" \
    >/dev/null || checks+=("$name: the traced root does not run the workload under --report-missing")
done

for name in python git; do
  command=${workload[$name]}
  root=$out_dir/roots/$name
  traced_root=$out_dir/roots/$name-traced
  log "$name: $command"
  hyperfine -N --warmup "$warmup" --min-runs "$runs" --export-json "$results/$name.json" \
    --export-markdown "$results/$name.md" \
    -n untraced "$command" \
    -n strace "strace -f --seccomp-bpf -e trace=%file -o /dev/null $command" \
    -n "jailbuild run" "$jailbuild -q run ${run_options[$name]} $traced_root $command" \
    -n "jailbuild run --report-missing" \
    "$jailbuild -q run --report-missing ${run_options[$name]} $traced_root $command" \
    -n "jailbuild add --trace --dry-run" \
    "$jailbuild -q add --dry-run --root $root --state-dir $root.state --trace -- $command" \
    --prepare "rm -rf $root $root.state" \
    -n "jailbuild add --trace" "$jailbuild -q add --root $root --state-dir $root.state --trace -- $command" \
    >"$results/$name.log" 2>&1 || { tail -20 "$results/$name.log" >&2; exit 1; }
done

median_ms() {    # JSON NAME
  python3 -c 'import json, sys
for result in json.load(open(sys.argv[1]))["results"]:
    if result["command"] == sys.argv[2]:
        print("%.1f" % (1000 * result["median"]))' "$1" "$2"
}

{
  echo "- $(date -u +%Y-%m-%d), jailbuild $(git rev-parse --short HEAD)$([[ -n ${JAILBUILD_BINARY:-} ]] && echo " (binary $JAILBUILD_BINARY)" || echo ", Release build in build-bench/")"
  describe_host "$out_dir"
  echo "- strace $(strace -V | head -n1 | awk '{ print $NF }'), hyperfine $(hyperfine --version | awk '{ print $2 }'), $files files in the repository"
  echo
  echo "| workload | untraced | strace | jailbuild run | run --report-missing | add --trace --dry-run | add --trace | strace adds | jailbuild's tracer adds |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  met=yes
  for name in python git; do
    json=$results/$name.json
    untraced=$(median_ms "$json" untraced)
    strace=$(median_ms "$json" strace)
    run=$(median_ms "$json" "jailbuild run")
    reported=$(median_ms "$json" "jailbuild run --report-missing")
    dry=$(median_ms "$json" "jailbuild add --trace --dry-run")
    full=$(median_ms "$json" "jailbuild add --trace")
    strace_adds=$(python3 -c "print('%.1f' % ($strace - $untraced))")
    tracer_adds=$(python3 -c "print('%.1f' % ($reported - $run))")
    python3 -c "import sys; sys.exit(0 if $tracer_adds <= $strace_adds else 1)" || met=no
    echo "| $name | $untraced ms | $strace ms | $run ms | $reported ms | $dry ms | $full ms | $strace_adds ms | $tracer_adds ms |"
  done
  echo
  echo "Target: what jailbuild's tracer adds to a run at most what strace adds, each workload: **$([[ $met == yes ]] && echo met || echo 'not met')**"
  if ((${#checks[@]})); then
    echo
    echo "Checks failed:"
    printf -- '- %s\n' "${checks[@]}"
  fi
} >"$out_dir/summary.md"
cat "$out_dir/summary.md"
((${#checks[@]} == 0))

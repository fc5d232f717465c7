#!/usr/bin/env bash
# Starting a program in a jail: /usr/bin/true run inside a root built with
# `jailbuild add /usr/bin/true`, timed with hyperfine, by
#   jailbuild run ROOT /usr/bin/true                the default isolation: new mount, PID, IPC and
#                                                   UTS namespaces, the root's entries bound
#                                                   read-only on a tmpfs, pivot_root, /proc, a
#                                                   minimal /dev, a tmpfs on /tmp, capabilities
#                                                   dropped, no_new_privs, the seccomp denylist
#   jailbuild run --seccomp off ROOT /usr/bin/true  the same without the seccomp filter
#   jailbuild run --landlock off ROOT /usr/bin/true the default without Landlock (what Landlock costs)
#   jailbuild run --memory 256M --pids 512 ROOT /usr/bin/true
#   jailbuild run --seccomp traced ROOT /usr/bin/true  the default and the allowlist `add --trace --
#                                                   /usr/bin/true` recorded (what the allowlist costs)
#                                                   the default with a cgroup made for the run (one
#                                                   directory per hierarchy: two on a v1 machine),
#                                                   joined by the child and removed after it
#   bwrap ... ROOT /usr/bin/true                    bubblewrap with the same namespaces and mounts:
#       --unshare-pid --unshare-ipc --unshare-uts (a new mount namespace always) --ro-bind ROOT /
#       --proc /proc --dev /dev --tmpfs /tmp --cap-drop ALL --clearenv --setenv PATH ... --setenv HOME /
#     without a seccomp filter: bwrap takes one only compiled, through a file descriptor, and a
#     copy of jailbuild's denylist here would be a second list to keep alike. So the comparison is
#     conservative: the default run (with its filter) against bwrap without one, and
#     --seccomp off against bwrap for like with like.
#   bwrap --unshare-user, /proc masked               the same with a user namespace, as jailbuild's
#                                                   default has one, and /proc's kernel-state
#                                                   entries read-only and host-wide ones masked as
#                                                   jailbuild does (proc_masks below): the same mounts
#   bwrap --unshare-user                            the same without the /proc masks
#   jailbuild run --chroot-only ROOT /usr/bin/true  chroot(2), no namespaces or mounts (the same
#                                                   identity, capability and seccomp steps)
#   chroot ROOT /usr/bin/true                       coreutils' chroot(8)
#   firejail ... --chroot=ROOT /usr/bin/true        firejail as close to the default as it goes:
#       --quiet --noprofile --chroot=ROOT --ipc-namespace --hostname=jail --read-only=/
#       --private-dev --private-tmp --caps.drop=all --nonewprivs --seccomp
#     (new mount, PID, IPC and UTS namespaces; firejail has no way to leave the network alone
#     other than sharing the host's, as the others do here). Debian's /etc/firejail/firejail.config
#     disables --chroot ("chroot no" is the built-in default). This script does not edit it: it
#     runs firejail's timing in a private mount namespace (unshare -m) where a copy of the file
#     with "chroot yes" is bind-mounted over it; nothing outside that namespace sees the copy.
#     firejail --chroot also refuses a root without /dev, /proc, /tmp, /var and /var/tmp, and
#     writes into the root (/run/firejail/..., /etc/resolv.conf): it gets a copy of the root of
#     its own, with /var/tmp.
# Targets (issues 9 and 10): the default run no slower than bwrap --unshare-user with the same
# mounts (the masked row), and
# --chroot-only within 1 ms of chroot(8) (medians); issue 15: --seccomp traced, Landlock and the
# cgroup each add at most 0.5 ms to the default run. Those three are judged by paired runs
# (bench/paired_delta.py: the default and the variant alternately, PAIRS times, the median of the
# differences with its 95% interval), since two hyperfine medians taken a minute apart on a shared
# machine differ by as much as the costs in question.
#
# The mount points /proc, /dev and /tmp are made in the root once, before timing: bwrap cannot
# make them in a read-only root, and firejail needs them; jailbuild run needs none (its top level
# is a tmpfs). Before timing, each tool runs `cat /proc/self/status`, `readlink /proc/self/ns/*`
# and `test -w /usr` in a second root (the timed root holds true alone) to show which isolation
# it set up (checks.md); `jailbuild run ROOT /usr/bin/false` must exit 1 and
# `... /usr/bin/nothing` 127.
#
#   bench/run_benchmark.sh [OUT_DIR]          (default: build-bench/run-benchmark)
#
#   WARMUP=N     warmup runs per command (default 3)
#   RUNS=N       minimum measured runs per command (default 30)
#   PAIRS=N      pairs for each issue-15 difference (default 10 * RUNS)
#   JAILBUILD=P  time this jailbuild binary instead of building one in build-bench/
#
# Run as root on Debian 12 (chroot, firejail --chroot and the mounts need it). Builds jailbuild in
# Release in build-bench/ first. Needs hyperfine, bubblewrap (bwrap), firejail, util-linux
# (unshare): scripts/install-deps.sh --bench. Writes OUT_DIR/{timings,firejail}.{json,md},
# checks.md (the isolation each tool set up), summary.md (the tables for docs/benchmarks.md) and
# the roots (OUT_DIR/roots/).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh

out_dir=$(realpath -m "${1:-build-bench/run-benchmark}")
warmup=${WARMUP:-3}
runs=${RUNS:-30}
pairs=${PAIRS:-$((10 * runs))}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
jailbuild=${JAILBUILD:-$PWD/build-bench/jailbuild}
root=$out_dir/roots/true
check_root=$out_dir/roots/check
state=$out_dir/roots/state
firejail_config=$out_dir/firejail.config
jail_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

require() {
  local commands=(hyperfine bwrap firejail unshare chroot python3)
  [[ -n ${JAILBUILD:-} ]] || commands+=(cmake ninja)
  require_commands "scripts/install-deps.sh --bench" "${commands[@]}"
  require_root "chroot, firejail --chroot and the mounts need it"
}

# The command line each tool runs PROGRAM [ARGS...] with in JAIL, as words.
jailbuild_default() { local jail=$1; shift; echo "$jailbuild run $jail $*"; }
jailbuild_no_seccomp() { local jail=$1; shift; echo "$jailbuild run --seccomp off $jail $*"; }
jailbuild_cgroup() { local jail=$1; shift; echo "$jailbuild run --memory 256M --pids 512 $jail $*"; }
jailbuild_no_landlock() { local jail=$1; shift; echo "$jailbuild run --landlock off $jail $*"; }
jailbuild_traced() { local jail=$1; shift; echo "$jailbuild run --state-dir $state --seccomp traced $jail $*"; }
jailbuild_chroot_only() { local jail=$1; shift; echo "$jailbuild run --chroot-only $jail $*"; }
jailbuild_host_root() { local jail=$1; shift; echo "$jailbuild run --host-root $jail $*"; }
chroot_command() { local jail=$1; shift; echo "chroot $jail $*"; }
bwrap_command() {
  local jail=$1; shift
  echo "bwrap --unshare-pid --unshare-ipc --unshare-uts --ro-bind $jail / --proc /proc --dev /dev --tmpfs /tmp" \
    "--cap-drop ALL --clearenv --setenv PATH $jail_path --setenv HOME / $*"
}
# bwrap with a user namespace as well, as jailbuild's default has one since issue 10 (as root,
# bwrap maps uid 0 to itself, jailbuild to an unprivileged id: the kernel's cost is the same).
bwrap_user_command() {
  local jail=$1; shift
  echo "bwrap --unshare-user --unshare-pid --unshare-ipc --unshare-uts --ro-bind $jail / --proc /proc --dev /dev --tmpfs /tmp" \
    "--cap-drop ALL --clearenv --setenv PATH $jail_path --setenv HOME / $*"
}
# bwrap --unshare-user with /proc made as jailbuild makes it (Docker's lists, see kProcReadOnly and
# kProcMasked in src/run/jail_mounts.cpp): the kernel-state entries bound read-only, the host-wide
# ones masked (files by a read-only /dev/null, directories by a read-only tmpfs). bwrap binds
# them from the host's /proc rather than from its new one: the same mounts, the same cost.
proc_masks() {
  local name words=()
  for name in sys sysrq-trigger irq bus fs; do
    [[ -e /proc/$name ]] && words+=(--ro-bind "/proc/$name" "/proc/$name")
  done
  for name in kcore keys timer_list timer_stats sched_debug latency_stats acpi scsi asound; do
    if [[ -d /proc/$name ]]; then
      words+=(--tmpfs "/proc/$name" --remount-ro "/proc/$name")
    elif [[ -e /proc/$name ]]; then
      words+=(--ro-bind /dev/null "/proc/$name")
    fi
  done
  echo "${words[*]}"
}
bwrap_user_masked_command() {
  local jail=$1; shift
  echo "bwrap --unshare-user --unshare-pid --unshare-ipc --unshare-uts --ro-bind $jail / --proc /proc $(proc_masks)" \
    "--dev /dev --tmpfs /tmp --cap-drop ALL --clearenv --setenv PATH $jail_path --setenv HOME / $*"
}
firejail_command() {
  local jail=$1; shift
  echo "firejail --quiet --noprofile --chroot=$jail --ipc-namespace --hostname=jail --read-only=/ --private-dev" \
    "--private-tmp --caps.drop=all --nonewprivs --seccomp $*"
}
tools=(jailbuild_default jailbuild_traced jailbuild_cgroup jailbuild_no_landlock jailbuild_no_seccomp bwrap_user_masked_command bwrap_user_command bwrap_command jailbuild_host_root jailbuild_chroot_only
       chroot_command firejail_command)
name_of() {
  case "$1" in
    jailbuild_default) echo "jailbuild run" ;;
    jailbuild_no_seccomp) echo "jailbuild run --seccomp off" ;;
    jailbuild_cgroup) echo "jailbuild run --memory 256M --pids 512" ;;
    jailbuild_no_landlock) echo "jailbuild run --landlock off" ;;
    jailbuild_traced) echo "jailbuild run --seccomp traced" ;;
    bwrap_command) echo "bwrap" ;;
    bwrap_user_command) echo "bwrap --unshare-user" ;;
    bwrap_user_masked_command) echo "bwrap --unshare-user, /proc masked" ;;
    jailbuild_host_root) echo "jailbuild run --host-root" ;;
    jailbuild_chroot_only) echo "jailbuild run --chroot-only" ;;
    chroot_command) echo "chroot" ;;
    firejail_command) echo "firejail --chroot" ;;
  esac
}

# Runs its arguments in a private mount namespace where firejail's configuration allows --chroot.
write_firejail_wrapper() {
  if grep -Eq '^[[:space:]]*chroot[[:space:]]+yes' /etc/firejail/firejail.config; then
    cp /etc/firejail/firejail.config "$firejail_config"
  else
    { cat /etc/firejail/firejail.config; echo; echo "chroot yes"; } >"$firejail_config"
  fi
  cat >"$out_dir/with-firejail-chroot.sh" <<'EOF'
#!/bin/sh
# with-firejail-chroot.sh CONFIG COMMAND...: COMMAND in a private mount namespace where CONFIG
# is bind-mounted over /etc/firejail/firejail.config.
config=$1
shift
exec unshare --mount --propagation private -- sh -c 'mount --bind "$0" /etc/firejail/firejail.config && exec "$@"' "$config" "$@"
EOF
  chmod +x "$out_dir/with-firejail-chroot.sh"
}

build_roots() {
  rm -rf "$out_dir/roots"
  mkdir -p "$out_dir/roots"
  "$jailbuild" add /usr/bin/true --root "$root" --state-dir "$state" 2>&1
  "$jailbuild" add /usr/bin/true /usr/bin/false /usr/bin/cat /usr/bin/readlink /usr/bin/test \
    --root "$check_root" --state-dir "$state" 2>&1
  # The allowlists --seccomp traced loads: each root's workloads, traced once.
  "$jailbuild" add --root "$root" --state-dir "$state" --trace -- /usr/bin/true 2>&1
  local kinds=(mnt pid ipc uts net user)
  for workload in "/usr/bin/cat /proc/self/status" "/usr/bin/readlink ${kinds[*]/#//proc/self/ns/}" \
    "/usr/bin/test -w /usr" /usr/bin/false; do
    # shellcheck disable=SC2086 # the workload's words
    "$jailbuild" add --root "$check_root" --state-dir "$state" --trace -- $workload >/dev/null 2>&1 || true
  done
  local jail
  for jail in "$root" "$check_root"; do
    mkdir -p "$jail"/{proc,dev,tmp}
    cp -a "$jail" "$jail-firejail"
    mkdir -p "$jail-firejail/var/tmp"
  done
}

# One tool's command in the check root, firejail's through the wrapper.
in_check_root() {
  local tool=$1 argv
  shift
  if [[ $tool == firejail_command ]]; then
    read -ra argv <<<"$("$tool" "$check_root-firejail" "$@")"
    "$out_dir/with-firejail-chroot.sh" "$firejail_config" "${argv[@]}"
  else
    read -ra argv <<<"$("$tool" "$check_root" "$@")"
    "${argv[@]}"
  fi
}

# The first word of FIELD's value in STATUS (the text of /proc/PID/status).
field() { sed -n "s/^$2:[[:space:]]*//p" <<<"$1" | awk '{ print $1 }'; }

# What each tool set up, as a markdown table: which namespaces are new (compared with this
# script's own), uid, effective and bounding capabilities, no_new_privs, seccomp mode, whether
# /usr is writable. Returns 1 if a jailbuild run does not exit with the expected statuses.
check_isolation() {
  local tool status namespaces host_ns=() inside=() i new uid cap_eff cap_bnd nnp seccomp writable kinds=(mnt pid ipc uts net user)
  for kind in "${kinds[@]}"; do host_ns+=("$(readlink "/proc/self/ns/$kind")"); done
  echo "| tool | new namespaces | uid | CapEff | CapBnd | NoNewPrivs | Seccomp | /usr writable |"
  echo "|---|---|---:|---|---|---:|---:|---|"
  for tool in "${tools[@]}"; do
    status=$(in_check_root "$tool" /usr/bin/cat /proc/self/status 2>/dev/null) || status=
    mapfile -t inside < <(in_check_root "$tool" /usr/bin/readlink "${kinds[@]/#//proc/self/ns/}" 2>/dev/null || true)
    if ((${#inside[@]} == ${#kinds[@]})); then
      new=()
      for i in "${!kinds[@]}"; do [[ ${inside[$i]} != "${host_ns[$i]}" ]] && new+=("${kinds[$i]}"); done
      namespaces=${new[*]:-none}
      namespaces=${namespaces// /, }
    else
      namespaces="(no /proc)"
    fi
    uid=$(field "$status" Uid) cap_eff=$(field "$status" CapEff) cap_bnd=$(field "$status" CapBnd)
    nnp=$(field "$status" NoNewPrivs) seccomp=$(field "$status" Seccomp)
    if in_check_root "$tool" /usr/bin/test -w /usr 2>/dev/null; then writable=yes; else writable=no; fi
    echo "| $(name_of "$tool") | $namespaces | ${uid:--} | ${cap_eff:--} | ${cap_bnd:--} | ${nnp:--} | ${seccomp:--} | $writable |"
  done
  echo
  local code ok=0
  "$jailbuild" run "$check_root" /usr/bin/false && code=0 || code=$?
  echo "- \`jailbuild run ROOT /usr/bin/false\`: exit status $code (expected 1)"
  ((code == 1)) || ok=1
  "$jailbuild" run "$check_root" /usr/bin/nothing 2>/dev/null && code=0 || code=$?
  echo "- \`jailbuild run ROOT /usr/bin/nothing\`: exit status $code (expected 127)"
  ((code == 127)) || ok=1
  return "$ok"
}

time_runs() {
  local args=() tool
  for tool in "${tools[@]}"; do
    [[ $tool == firejail_command ]] && continue
    args+=(-n "$(name_of "$tool")" "$("$tool" "$root" /usr/bin/true)")
  done
  hyperfine -N --warmup "$warmup" --min-runs "$runs" --export-json "$out_dir/timings.json" \
    --export-markdown "$out_dir/timings.md" "${args[@]}"
  # firejail on its own: the whole hyperfine in the namespace where its --chroot is allowed.
  "$out_dir/with-firejail-chroot.sh" "$firejail_config" \
    hyperfine -N --warmup "$warmup" --min-runs "$runs" --export-json "$out_dir/firejail.json" \
    --export-markdown "$out_dir/firejail.md" \
    -n "$(name_of firejail_command)" "$(firejail_command "$root-firejail" /usr/bin/true)"
}

# What Landlock, the traced allowlist and the cgroup add to the default run, each in pairs with it
# (see the targets above): OUT_DIR/paired.json, one line per variant.
time_pairs() {
  local variant
  for variant in jailbuild_no_landlock jailbuild_traced jailbuild_cgroup; do
    printf '{"variant": "%s", "result": %s}\n' "$(name_of "$variant")" \
      "$(python3 bench/paired_delta.py "$pairs" "$warmup" "$(jailbuild_default "$root" /usr/bin/true)" \
           "$("$variant" "$root" /usr/bin/true)")"
  done >"$out_dir/paired.json"
}

# Medians from hyperfine's JSON, their ratios and the targets, as markdown.
summarize() {
  python3 - "$out_dir/paired.json" "$out_dir/timings.json" "$out_dir/firejail.json" <<'PYTHON'
import json, sys

paired = {}
for line in open(sys.argv[1]):
    entry = json.loads(line)
    paired[entry["variant"]] = entry["result"]
rows = {}
for path in sys.argv[2:]:
    for r in json.load(open(path))["results"]:
        rows[r["command"]] = r

def ms(seconds):
    return f"{seconds * 1000:.2f} ms"

base = rows["jailbuild run"]["median"]
bwrap = rows["bwrap --unshare-user, /proc masked"]["median"]
print("| command | median | mean ± σ | min … max | runs | user / system | median / jailbuild run's | median / bwrap --unshare-user, /proc masked |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for name, r in rows.items():
    print(f"| {name} | {ms(r['median'])} | {ms(r['mean'])} ± {ms(r['stddev'])} | "
          f"{ms(r['min'])} … {ms(r['max'])} | {len(r['times'])} | "
          f"{ms(r['user'])} / {ms(r['system'])} | {r['median'] / base:.2f} | {r['median'] / bwrap:.2f} |")
ratio = base / bwrap
no_filter = rows["jailbuild run --seccomp off"]["median"] / bwrap
own_filter = base - rows["jailbuild run --seccomp off"]["median"]
gap = (rows["jailbuild run --chroot-only"]["median"] - rows["chroot"]["median"]) * 1000
print("\nTargets (medians):\n")
print(f"- jailbuild run (user namespace, seccomp filter, masked /proc) / bwrap --unshare-user with the same "
      f"namespaces and mounts, /proc masked alike (and no filter): **{ratio:.2f}** (target at most 1.00): "
      f"{'met' if ratio <= 1 else '**not met**'}")
print(f"- like with like, jailbuild run --seccomp off / the same bwrap: {no_filter:.2f}")
print(f"- (no target) jailbuild run / bwrap --unshare-user without the /proc masks: "
      f"{base / rows['bwrap --unshare-user']['median']:.2f}")
print(f"- (no target) jailbuild run --host-root / bwrap without a user namespace: "
      f"{rows['jailbuild run --host-root']['median'] / rows['bwrap']['median']:.2f}")
print(f"- (no target) what jailbuild's filter costs: {own_filter * 1000:.2f} ms")
print(f"- jailbuild run --chroot-only − chroot(8): **{gap:+.2f} ms** (target at most 1 ms): "
      f"{'met' if gap <= 1 else '**not met**'}")
def paired_target(what, variant, sign):
    """A cost of issue 15 from its pairs: SIGN * (variant - default), the target at most 0.5 ms."""
    result = paired[variant]
    cost = sign * result["difference_median_ms"]
    low, high = sorted(sign * bound for bound in result["difference_95_ms"])
    print(f"- {what}: **{cost:+.2f} ms** (95% interval {low:+.2f} … {high:+.2f} ms; {result['pairs']} pairs, "
          f"medians {result['base_median_ms']:.2f} and {result['variant_median_ms']:.2f} ms) "
          f"(target at most 0.5 ms): {'met' if cost <= 0.5 else '**not met**'}")

print("\nIssue 15's costs, each from the default and the variant run alternately (bench/paired_delta.py):\n")
paired_target("what Landlock costs, jailbuild run − jailbuild run --landlock off", "jailbuild run --landlock off", -1)
paired_target("what the run's cgroup costs, jailbuild run --memory 256M --pids 512 − jailbuild run",
              "jailbuild run --memory 256M --pids 512", 1)
paired_target("what the traced allowlist costs, jailbuild run --seccomp traced − jailbuild run",
              "jailbuild run --seccomp traced", 1)
PYTHON
}

machine() {
  describe_host "$out_dir"
  echo "- bubblewrap $(dpkg-query -W -f='${Version}' bubblewrap), firejail $(dpkg-query -W -f='${Version}' firejail), coreutils $(dpkg-query -W -f='${Version}' coreutils), $(hyperfine --version)"
  if [[ -n ${JAILBUILD:-} ]]; then
    echo "- jailbuild: the binary $JAILBUILD ($("$jailbuild" --version)), given with JAILBUILD"
  else
    echo "- jailbuild $(git describe --always --dirty 2>/dev/null || echo '(not a git checkout)'), Release build in build-bench/"
  fi
}

main() {
  require
  mkdir -p "$out_dir"
  if [[ -z ${JAILBUILD:-} ]]; then
    log "building jailbuild (Release) in build-bench/"
    build_jailbuild
  fi
  require_subcommand run
  log "building the roots with jailbuild add"
  build_roots
  local entries
  entries=$(find "$root" -mindepth 1 | wc -l)
  write_firejail_wrapper
  log "what each tool sets up (in $check_root)"
  local checks_status=0
  check_isolation | tee "$out_dir/checks.md" || checks_status=$?
  log "hyperfine -N, $warmup warmups, at least $runs runs each"
  time_runs
  log "paired runs for issue 15's costs, $pairs pairs each"
  time_pairs
  log "summary"
  { machine; echo; echo "Root: \`jailbuild add /usr/bin/true\` ($entries entries with /proc, /dev and /tmp; firejail's copy also has /var/tmp)"
    echo; summarize; echo; echo "Isolation set up (in a root that also holds cat, readlink, false and test):"; echo
    cat "$out_dir/checks.md"; } | tee "$out_dir/summary.md"
  if ((checks_status != 0)); then
    echo "a jailbuild run check failed (above; also in $out_dir/checks.md)" >&2
    exit 1
  fi
}

main "$@"

#!/usr/bin/env bash
# jailbuild@.service under a real systemd, on a machine whose PID 1 is not systemd: systemd runs as
# PID 1 of its own PID, mount, UTS, IPC and cgroup namespaces, in container mode, and sees the
# package installed: /lib/systemd/system holds the package's unit and nothing of the host's but
# journald (and empty sysinit and basic targets), /usr/bin and /usr/libexec the package's files
# laid over the host's, /var/lib a tmpfs over the host's (overlayfs). Nothing of the host's boot
# runs: its units are not there to start (a systemd booting the host's units empties /tmp, writes
# /var/log/journal and /etc). Checked:
# - `systemctl cat jailbuild@.service` shows the installed unit;
# - a root applied from a spec with a [run] command runs as jailbuild@ROOT.service: the unit
#   succeeds and the command's output, printed inside the jail, is in the unit's journal;
# - the control: a root with no recorded command fails the unit with jailbuild's own 125, and the
#   unit is not restarted (RestartPreventExitStatus).
#   tests/package/systemd_unit_test.sh SCRATCH OUT_DIR   (SCRATCH: where dpkg --root installed the
#   package; OUT_DIR: where a directory of this run's files is made). Exits 77 where there is no
#   systemd or no overlayfs.
set -euo pipefail
scratch=$(realpath "$1")
fail() { echo "FAIL: $*" >&2; exit 1; }
mkdir -p "$2"
work=$(mktemp -d "$(realpath "$2")/systemd.XXXXXX")
skip() { echo "skipped: $*"; exit 77; }
[[ -x /lib/systemd/systemd ]] || skip "no /lib/systemd/systemd"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
grep -qw overlay /proc/filesystems || skip "no overlayfs"

mkdir "$work/units" "$work/var"
cp "$scratch/lib/systemd/system/jailbuild@.service" "$work/units/"
# journald, so that the unit's output can be read; its storage is the namespace's /run.
cp /lib/systemd/system/systemd-journald.service /lib/systemd/system/systemd-journald.socket "$work/units/"
for target in sysinit basic; do
  printf '[Unit]\nDescription=%s, empty: nothing of the host starts\nDefaultDependencies=no\n' "$target" \
    >"$work/units/$target.target"
done
printf '[Unit]\nDescription=the package test\nDefaultDependencies=no\nWants=systemd-journald.socket\n' \
  >"$work/units/jailbuild-package-test.target"

# systemd's cgroups under the test's own, in every hierarchy: the process that becomes systemd
# moves there before it makes its cgroup namespace, whose root that cgroup then is, and the
# namespace mounts every hierarchy afresh (rooted there). Through the host's mounts, systemd would
# make its cgroups at the top of the host's hierarchies.
cgroups=()
while read -r target fstype options; do
  cgroup=$target/jailbuild-package-test.$$
  mkdir "$cgroup"
  cgroups+=("$cgroup")
  if [[ -f $cgroup/cpuset.cpus ]]; then   # an empty cpuset takes no process
    cat "$target/cpuset.cpus" >"$cgroup/cpuset.cpus"
    cat "$target/cpuset.mems" >"$cgroup/cpuset.mems"
  fi
  echo "$target $fstype $options" >>"$work/cgroup-mounts"
done < <(findmnt -rn -t cgroup,cgroup2 -o TARGET,FSTYPE,FS-OPTIONS)
[[ ${#cgroups[@]} -gt 0 ]] || skip "no cgroup hierarchy mounted"

cat >"$work/boot.sh" <<'BOOT'
#!/bin/sh
# PID 1 of the namespaces: the mounts systemd is to see, then systemd.
set -e
scratch=$1 work=$2
mount -t proc proc /proc
mount -t tmpfs tmpfs /sys/fs/cgroup
while read -r target fstype options; do
  mkdir -p "$target"
  mount -t "$fstype" -o "$options" "$fstype" "$target"
done <"$work/cgroup-mounts"
# Everything from SCRATCH and WORK first: either may be under /tmp, which a tmpfs hides next.
for dir in usr/bin usr/libexec; do mount -t overlay overlay -o "lowerdir=$scratch/$dir:/$dir" "/$dir"; done
mount --bind "$work/units" /lib/systemd/system
mount -t tmpfs tmpfs "$work/var"
mkdir "$work/var/upper" "$work/var/work"
mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$work/var/upper,workdir=$work/var/work" /var/lib
for dir in /run /tmp /var/tmp /etc/systemd/system /etc/systemd/user; do mount -t tmpfs tmpfs "$dir"; done
mkdir /run/no-generators
mount --bind /run/no-generators /lib/systemd/system-generators
exec env container=jailbuild-package-test /lib/systemd/systemd --system --unit=jailbuild-package-test.target \
  --log-target=console --log-level=notice
BOOT
chmod +x "$work/boot.sh"
# Into the test's cgroups first, so that the cgroup namespace's root is there.
sh -c 'boot=$1 scratch=$2 work=$3; shift 3; for cgroup; do echo $$ >"$cgroup/cgroup.procs"; done
  exec unshare --fork --pid --mount --uts --ipc --cgroup --propagation private "$boot" "$scratch" "$work"' \
  sh "$work/boot.sh" "$scratch" "$work" "${cgroups[@]}" >"$work/systemd.log" 2>&1 </dev/null &
unshare_pid=$!
init=
cleanup() {
  [[ -z $init ]] || kill -KILL "$init" 2>/dev/null || true
  kill -KILL "$unshare_pid" 2>/dev/null || true
  wait "$unshare_pid" 2>/dev/null || true
  local cgroup
  for cgroup in "${cgroups[@]}"; do
    for _ in $(seq 50); do find "$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null && break; sleep 0.1; done
  done
}
trap cleanup EXIT
inside() { nsenter -t "$init" -m -p -- "$@"; }

for _ in $(seq 100); do
  init=$(pgrep -P "$unshare_pid" || true)
  [[ -z $init ]] || [[ $(inside systemctl is-system-running 2>/dev/null || true) != running ]] || break
  sleep 0.2
done
# Not a skip: with systemd and overlayfs there, a start that fails is the test's own setup failing.
[[ -n $init && $(inside systemctl is-system-running 2>/dev/null || true) == running ]] ||
  fail "systemd did not start in namespaces of its own: $(cat "$work/systemd.log")"

shown=$(inside systemctl cat jailbuild@.service) || fail "systemctl cat jailbuild@.service"
[[ $(head -n 1 <<<"$shown") == "# /lib/systemd/system/jailbuild@.service" ]] || fail "systemctl cat shows: $shown"
grep -qx 'ExecStart=/usr/bin/jailbuild run %f' <<<"$shown" || fail "systemctl cat: no ExecStart: $shown"

# Two roots, made by the installed jailbuild inside from specs written there (WORK may be under
# /tmp, hidden inside): its state and the roots in the namespace's /var/lib.
inside mkdir -p /var/lib/jailbuild-units
printf '%s\n' 'root = "/var/lib/jailbuild-units/served"' 'paths = ["/bin/echo"]' '[run]' \
  'command = ["/bin/echo", "served", "from", "the", "jail"]' | inside tee /var/lib/jailbuild-units/served.toml >/dev/null
printf '%s\n' 'root = "/var/lib/jailbuild-units/bare"' 'paths = ["/bin/echo"]' |
  inside tee /var/lib/jailbuild-units/bare.toml >/dev/null
inside /usr/bin/jailbuild -q apply /var/lib/jailbuild-units/served.toml || fail "jailbuild apply served.toml"
inside /usr/bin/jailbuild -q apply /var/lib/jailbuild-units/bare.toml || fail "jailbuild apply bare.toml"

# Starts jailbuild@ROOT.service, waits for it to end, prints "ExecMainStatus=N NRestarts=N Result=R";
# its journal into $work/journal.
run_unit() {
  local unit
  unit=jailbuild@$(systemd-escape --path "$1").service
  inside systemctl start "$unit" || true
  for _ in $(seq 100); do
    [[ $(inside systemctl is-active "$unit" || true) =~ ^(active|activating|deactivating)$ ]] || break
    sleep 0.2
  done
  inside systemctl show -p Result -p ExecMainStatus -p NRestarts "$unit" | sort | paste -sd ' '
  inside journalctl -q -u "$unit" -o cat --no-pager >"$work/journal" 2>&1 || true
}

outcome=$(run_unit /var/lib/jailbuild-units/served)
[[ $outcome == "ExecMainStatus=0 NRestarts=0 Result=success" ]] || fail "jailbuild@ (served): $outcome; journal: $(cat "$work/journal")"
grep -qx 'served from the jail' "$work/journal" || fail "the jail's output is not in the journal: $(cat "$work/journal")"
outcome=$(run_unit /var/lib/jailbuild-units/bare)
[[ $outcome == "ExecMainStatus=125 NRestarts=0 Result=exit-code" ]] || fail "the control (no command recorded): $outcome; journal: $(cat "$work/journal")"
echo "systemd: systemctl cat, a jail run as jailbuild@ROOT.service, and the control passed"

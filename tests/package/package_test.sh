#!/usr/bin/env bash
# The Debian package, built by scripts/package.sh and installed with dpkg into a scratch root
# (dpkg --root): lintian reports no error; the installed jailbuild runs (--version, export's
# helper found in ../libexec); `man jailbuild-add` finds and renders its page without a warning;
# the bash completion completes (its function called with COMP_WORDS); systemd accepts the
# template unit (systemd-analyze verify), and a systemd started in namespaces of its own (this
# machine's PID 1 is not systemd) shows it with `systemctl cat` and runs a jail as
# jailbuild@ROOT.service (systemd_unit_test.sh); the apt hook is a conffile and inactive until its line is uncommented (the
# control: uncommented, apt reads the hook); dpkg -r leaves the conffile and the state directory
# only, dpkg -P the state directory only.
#   tests/package/package_test.sh OUT_DIR       (run as root; exits 77, skipped, otherwise)
set -euo pipefail
# (grep >/dev/null rather than grep -q after a pipe: -q stops reading at the first match, the
# writer may die of SIGPIPE, and pipefail then fails the check.)
cd "$(dirname "$0")/../.."
if ((EUID != 0)); then echo "skipped: scripts/package.sh installs build dependencies, dpkg --root needs root"; exit 77; fi
out_dir=$(realpath -m "$1")
fail() { echo "FAIL: $*" >&2; exit 1; }

deb=$(scripts/package.sh "$out_dir" | tail -n 1)
[[ -f $deb && $deb == */jailbuild_*_"$(dpkg --print-architecture)".deb ]] || fail "package.sh made no .deb: '$deb'"
! grep -q '^E: ' "$out_dir/lintian.txt" || fail "lintian errors (see $out_dir/lintian.txt)"

scratch=$(mktemp -d /tmp/jailbuild-package.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/var/lib/dpkg/info" "$scratch/var/lib/dpkg/updates"
touch "$scratch/var/lib/dpkg/status" "$scratch/var/lib/dpkg/available"
# --force-depends: the scratch root has no libc6 package (the binaries run with the host's);
# --force-script-chrootless: the maintainer scripts run from here with DPKG_ROOT set (there is no
# shell in the scratch root to chroot into).
dpkg --root="$scratch" --force-depends --force-script-chrootless -i "$deb" >"$out_dir/dpkg-install.log" 2>&1 ||
  { cat "$out_dir/dpkg-install.log" >&2; fail "dpkg -i"; }

version=$(dpkg-deb -f "$deb" Version)
[[ $("$scratch/usr/bin/jailbuild" --version) == "jailbuild $version" ]] || fail "jailbuild --version"
"$scratch/usr/bin/jailbuild" export --help | grep -- '--oci-archive' >/dev/null || fail "jailbuild export --help"
# export is carried out by the installed helper, found beside jailbuild in ../libexec/jailbuild.
exported=$("$scratch/usr/bin/jailbuild" export /nonexistent --bundle "$scratch/b" 2>&1 || true)
[[ $exported == *"/nonexistent: jailbuild has no manifest"* ]] || fail "jailbuild export did not reach jailbuild-export: $exported"

page=$(MANPATH=$scratch/usr/share/man man -w jailbuild-add)
[[ $page == "$scratch/usr/share/man/man1/jailbuild-add.1.gz" ]] || fail "man -w jailbuild-add: $page"
MANPATH=$scratch/usr/share/man MANWIDTH=80 man jailbuild-add | grep -- '--trace-exclude' >/dev/null || fail "man jailbuild-add"
warnings=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
[[ -z $warnings ]] || fail "man warns on $page: $warnings"
for command in $("$scratch/usr/bin/jailbuild" --help | sed -n '/^Subcommands:/,$ s/^  \([a-z][a-z-]*\) .*/\1/p'); do
  [[ -f $scratch/usr/share/man/man1/jailbuild-$command.1.gz ]] || fail "no man page for $command"
done

completes() {    # WORD... : what the installed completion offers for them, the last being completed
  local words=("$@")
  bash -c 'source "$0"; COMP_WORDS=("${@}"); COMP_CWORD=$(($# - 1)); _jailbuild; printf "%s\n" "${COMPREPLY[@]}"' \
    "$scratch/usr/share/bash-completion/completions/jailbuild" "${words[@]}"
}
completes jailbuild '' | grep -x run >/dev/null || fail "jailbuild <TAB><TAB> does not offer run"
[[ $(completes jailbuild run --mem) == --memory ]] || fail "jailbuild run --mem<TAB>"
[[ -f $scratch/usr/share/zsh/vendor-completions/_jailbuild ]] || fail "no zsh completion"

unit=$scratch/lib/systemd/system/jailbuild@.service
[[ -f $unit ]] || fail "no jailbuild@.service"
grep -qx 'ExecStart=/usr/bin/jailbuild run %f' "$unit" || fail "the unit does not run jailbuild run ROOT"
# --recursive-errors=no: the scratch root has the unit but not the targets its default
# dependencies name (sysinit.target); the unit itself is still checked, its ExecStart binary in
# the root among it, as the control shows: the same unit naming a program the root lacks fails.
verify() { systemd-analyze verify --man=no --recursive-errors=no --root="$scratch" "$1" 2>&1; }
verified=$(verify "$unit") || fail "systemd-analyze verify: $verified"
sed 's|^ExecStart=/usr/bin/jailbuild |ExecStart=/usr/bin/no-such-program |' "$unit" >"${unit%/*}/control@.service"
! verify "${unit%/*}/control@.service" >/dev/null || fail "the control: systemd-analyze verify accepts a missing program"
rm "${unit%/*}/control@.service"
systemd_status=0
tests/package/systemd_unit_test.sh "$scratch" "$out_dir" || systemd_status=$?
((systemd_status == 0 || systemd_status == 77)) || fail "jailbuild@.service under systemd (systemd_unit_test.sh)"

hook=/etc/apt/apt.conf.d/99jailbuild-sync
grep -qx "$hook" "$scratch/var/lib/dpkg/info/jailbuild.conffiles" || fail "$hook is not a conffile"
! apt-config -c "$scratch$hook" dump | grep 'jailbuild sync' >/dev/null || fail "the apt hook is active as installed"
sed 's|^//DPkg::Post-Invoke|DPkg::Post-Invoke|' "$scratch$hook" >"$out_dir/enabled-hook"
apt-config -c "$out_dir/enabled-hook" dump | grep 'DPkg::Post-Invoke.*jailbuild sync --all' >/dev/null ||
  fail "the control: the uncommented hook is not read by apt"

mkdir -p "$scratch/var/lib/jailbuild/roots"
echo '{}' >"$scratch/var/lib/jailbuild/roots/srv-jail.json"
dpkg --root="$scratch" --force-depends --force-script-chrootless -r jailbuild >>"$out_dir/dpkg-install.log" 2>&1 || fail "dpkg -r"
# The files left outside var/ (where the state directory and dpkg's own database are).
left_files() { (cd "$scratch" && find . -path ./var -prune -o -type f -print | sort); }
left=$(left_files)
[[ $left == ".$hook" ]] || fail "dpkg -r left more than the conffile: $left"
dpkg --root="$scratch" --force-depends --force-script-chrootless -P jailbuild >>"$out_dir/dpkg-install.log" 2>&1 || fail "dpkg -P"
left=$(left_files)
[[ -z $left ]] || fail "dpkg -P left: $left"
[[ -f $scratch/var/lib/jailbuild/roots/srv-jail.json ]] || fail "the state directory went with the package"
echo "package test passed: $deb"

#!/usr/bin/env bash
# Builds jailbuild and runs its main job on a real program: shows how the loader finds what the
# program needs, builds a jail holding exactly that, and runs the program inside it (as root),
# isolated with `jailbuild run`.
#   scripts/demo.sh [PROGRAM [ARGS...]]     default: ls -l / (what the jail holds, seen from inside)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJAILBUILD_TESTS=OFF
cmake --build build -j"$(nproc)" --target jailbuild_cli

if (($# == 0)); then set -- ls -l /; fi
program="$(command -v "$1")"
shift
root="$(mktemp -d /tmp/jailbuild-demo.XXXXXX)"

echo "== how the loader finds what $program needs"
build/jailbuild deps --tree "$program"
echo "== building a jail for it in $root"
build/jailbuild add "$program" --root "$root" --state-dir "$root.state"
build/jailbuild list "$root" --state-dir "$root.state" | head -n 20
echo "== running it inside the jail: jailbuild run $root $program $*"
# Its own mount, PID, IPC and UTS namespaces, the root read-only, a fresh /proc, /dev and /tmp,
# no capabilities, a seccomp filter; as a normal user, in a user namespace of its own.
build/jailbuild run "$root" "$program" "$@"

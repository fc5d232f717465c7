#!/usr/bin/env bash
# Builds a jail for a small Python application (app.py: json and sqlite3 from the standard
# library) and runs it there: as nobody, in a read-only root, with one writable directory for
# its database. Run as root. See README.md.
#
#   examples/python-app/run.sh [ROOT]     (ROOT default: /var/tmp/jailbuild-examples/python-app)
#
#   JAILBUILD=PATH  the jailbuild binary (default: jailbuild in PATH, else build/jailbuild)
#   STATE_DIR=DIR   passed to add as --state-dir (default: jailbuild's own, /var/lib/jailbuild)
#
# The database lives on the host in ROOT.data/ (owned by nobody), mounted at /data in the jail.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
app=$here/app.py
root=${1:-/var/tmp/jailbuild-examples/python-app}
data=$root.data
jailbuild=${JAILBUILD:-$(command -v jailbuild || realpath -m "$here/../../build/jailbuild")}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
state=()
[[ -n ${STATE_DIR:-} ]] && state=(--state-dir "$STATE_DIR")

if ((EUID != 0)); then
  echo "run as root: the example runs the app as nobody" >&2
  exit 2
fi
if [[ ! -x $jailbuild ]]; then
  echo "no jailbuild binary: build one (cmake -S . -B build -G Ninja && cmake --build build --target jailbuild_cli) or set JAILBUILD" >&2
  exit 2
fi

# 1. The root: the interpreter, its standard library (a directory: every extension module comes
#    with its libraries, _sqlite3 with libsqlite3) and the application.
python=/usr/bin/python3
stdlib=$("$python" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')    # /usr/lib/python3.11
echo "== $jailbuild add $python $stdlib $app --root $root"
"$jailbuild" add "$python" "$stdlib" "$app" --root "$root" "${state[@]}"

# 2. A directory for the database, writable by nobody only.
install -d -m 700 -o nobody -g nogroup "$data"

# 3. The app, as nobody, with the database directory bound read-write at /data and no attempt to
#    write bytecode into the read-only root.
jail=("$jailbuild" run -u nobody --bind "$data:/data" --env PYTHONDONTWRITEBYTECODE=1 "$root")
for args in "info" "add first note, written from inside the jail" "add second note" "list"; do
  read -ra words <<<"$args"
  echo "== ${jail[*]} $app ${words[*]}"
  "${jail[@]}" "$app" "${words[@]}"
done
echo "== on the host: ls -l $data"
ls -l "$data"

#!/usr/bin/env bash
# Builds a jail for a small Python application (app.py: json and sqlite3 from the standard
# library) from jail.toml and runs it there: as nobody, in a read-only root, with one writable
# directory for its database. Run as root. See README.md.
#
#   examples/python-app/run.sh     (the root: jail.toml's, /var/tmp/jailbuild-examples/python-app)
#
#   JAILBUILD=PATH  the jailbuild binary (default: jailbuild in PATH, else build/jailbuild)
#
# The database lives on the host in ROOT.data/ (owned by nobody), bound at /data in the jail.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
spec=$here/jail.toml
root=/var/tmp/jailbuild-examples/python-app  # as jail.toml says
data=$root.data
jailbuild=${JAILBUILD:-$(command -v jailbuild || realpath -m "$here/../../build/jailbuild")}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

if ((EUID != 0)); then
  echo "run as root: the example runs the app as nobody" >&2
  exit 2
fi
if [[ ! -x $jailbuild ]]; then
  echo "no jailbuild binary: build one (cmake -S . -B build -G Ninja && cmake --build build --target jailbuild_cli) or set JAILBUILD" >&2
  exit 2
fi

# 1. The root, as the spec says: the interpreter (the interpreter rule brings its standard library,
#    every extension module with its libraries: _sqlite3 with libsqlite3) and /bin/sh.
echo "== $jailbuild apply $spec"
"$jailbuild" apply "$spec"

# 2. A directory for the database, writable by nobody only.
install -d -m 700 -o nobody -g nogroup "$data"

# 3. The spec's command, as nobody, with the app bound read-only at /app and the database
#    directory read-write at /data: it adds a note and lists them all.
echo "== $jailbuild run $root"
"$jailbuild" run "$root"

# 4. Another command in the same jail: a command line gives every setting itself.
jail=("$jailbuild" run -u nobody --net none --ro-bind "$here:/app" --bind "$data:/data"
      --env PYTHONDONTWRITEBYTECODE=1 "$root")
echo "== ${jail[*]} /usr/bin/python3 /app/app.py info"
"${jail[@]}" /usr/bin/python3 /app/app.py info
echo "== on the host: ls -l $data"
ls -l "$data"

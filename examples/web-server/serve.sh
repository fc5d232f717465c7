#!/usr/bin/env bash
# Builds a jail for busybox httpd and serves examples/web-server/site/ from it on 127.0.0.1:80,
# as www-data with one capability, CAP_NET_BIND_SERVICE. Run as root. See README.md.
#
#   examples/web-server/serve.sh [--check] [ROOT]   (ROOT default: /var/tmp/jailbuild-examples/web-server)
#
#   --check         start the server in the background, fetch the page and the CGI script with
#                   curl, stop the server and print its exit status; without it the server runs
#                   in the foreground until Ctrl-C
#   JAILBUILD=PATH  the jailbuild binary (default: jailbuild in PATH, else build/jailbuild)
#   STATE_DIR=DIR   passed to add as --state-dir (default: jailbuild's own, /var/lib/jailbuild)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
site=$here/site
check=false
if [[ ${1:-} == --check ]]; then
  check=true
  shift
fi
root=${1:-/var/tmp/jailbuild-examples/web-server}
jailbuild=${JAILBUILD:-$(command -v jailbuild || realpath -m "$here/../../build/jailbuild")}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
state=()
[[ -n ${STATE_DIR:-} ]] && state=(--state-dir "$STATE_DIR")

if ((EUID != 0)); then
  echo "run as root: the server binds port 80 and runs as www-data" >&2
  exit 2
fi
if [[ ! -x $jailbuild ]]; then
  echo "no jailbuild binary: build one (cmake -S . -B build -G Ninja && cmake --build build --target jailbuild_cli) or set JAILBUILD" >&2
  exit 2
fi
if ss -Hltn 'sport = :80' | grep -q .; then
  echo "something already listens on port 80:" >&2
  ss -ltnp 'sport = :80' >&2
  exit 2
fi

# 1. busybox: either Debian package will do (busybox is linked against libc, busybox-static is not).
if ! command -v busybox >/dev/null; then
  echo "== busybox is not installed: apt-get install busybox"
  apt-get install -y -qq --no-install-recommends busybox
fi
busybox=$(command -v busybox)

# 2. The root: busybox with its closure, and the site with the closure of its CGI script (#!/bin/sh).
echo "== $jailbuild add $busybox $site --root $root"
"$jailbuild" add "$busybox" "$site" --root "$root" "${state[@]}"

# 3. The server: in the host's network (to be reachable on 127.0.0.1), as www-data, keeping only
#    the capability to bind a port below 1024. That capability must be the host's: the host's
#    network belongs to the host's user namespace, so --host-root (no user namespace). No process
#    of the jail is uid 0 even so: the program and the jail's init both run as www-data.
server=("$jailbuild" run --net host --host-root -u www-data --cap NET_BIND_SERVICE "$root"
        "$busybox" httpd -f -v -p 127.0.0.1:80 -h "$site")
echo "== ${server[*]}"
if ! $check; then
  exec "${server[@]}"
fi

"${server[@]}" &
pid=$!
for _ in $(seq 50); do
  curl -s -o /dev/null http://127.0.0.1/ && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
status=0
echo "== curl -i http://127.0.0.1/"
curl -sS -i http://127.0.0.1/ || status=1
echo "== curl http://127.0.0.1/cgi-bin/whoami"
curl -sS http://127.0.0.1/cgi-bin/whoami || status=1
echo "== stopping the server: kill -TERM $pid (jailbuild passes the signal on to httpd)"
kill -TERM "$pid"
server_status=0
wait "$pid" || server_status=$?
echo "jailbuild run exited with status $server_status"
exit "$status"

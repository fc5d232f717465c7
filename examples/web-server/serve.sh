#!/usr/bin/env bash
# Builds a jail for busybox httpd from jail.toml and serves examples/web-server/site/ from it on
# 127.0.0.1:80, as www-data with one capability, CAP_NET_BIND_SERVICE. Run as root. See README.md.
#
#   examples/web-server/serve.sh [--check]   (the root: jail.toml's, /var/tmp/jailbuild-examples/web-server)
#
#   --check         start the server in the background, fetch the page and the CGI script with
#                   curl, stop the server and print its exit status; without it the server runs
#                   in the foreground until Ctrl-C
#   JAILBUILD=PATH  the jailbuild binary (default: jailbuild in PATH, else build/jailbuild)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
site=$here/site
check=false
if [[ ${1:-} == --check ]]; then
  check=true
  shift
fi
spec=$here/jail.toml
root=/var/tmp/jailbuild-examples/web-server  # as jail.toml says
jailbuild=${JAILBUILD:-$(command -v jailbuild || realpath -m "$here/../../build/jailbuild")}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

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

# 2. The root, as the spec says: busybox with its closure, /bin/sh for the CGI script. A second
#    apply with nothing changed does nothing (the watch list proves it).
echo "== $jailbuild apply $spec"
"$jailbuild" apply "$spec"

# 3. The server: the spec's [run] command and settings (site/ bound read-only at /srv/site, in the
#    host's network, as www-data keeping only CAP_NET_BIND_SERVICE).
server=("$jailbuild" run "$root")
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

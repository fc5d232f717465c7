#!/usr/bin/env bash
# Installs the Debian 12 packages jailbuild needs that are missing. Run as root.
#   scripts/install-deps.sh          build dependencies
#   scripts/install-deps.sh --test   plus what the tests and the fuzzer use
#   scripts/install-deps.sh --bench  plus the peers the benchmarks compare against
set -euo pipefail

packages=(cmake ninja-build g++ pkg-config liblief-dev libspdlog-dev nlohmann-json3-dev libcli11-dev
          libgtest-dev libseccomp-dev libcap-dev libtomlplusplus-dev libarchive-dev libssl-dev)
for arg in "$@"; do
  case "$arg" in
    --test) packages+=(clang libclang-rt-14-dev gcc binutils python3 sqlite3 strace git xz-utils
                      openssl ca-certificates perl ruby  # the runtime rules' real workloads
                      skopeo umoci crun  # export's oracles
                      go-md2man zsh man-db  # the man pages and completions (tests/cli/command_docs_test.cpp)
                      debhelper dpkg-dev fakeroot lintian systemd) ;;  # the package (scripts/package.sh, tests/package/)
    --bench) packages+=(hyperfine libtree pax-utils python3-pyelftools jailkit dracut-core bubblewrap firejail rsync) ;;
    *) echo "usage: $0 [--test] [--bench]" >&2; exit 2 ;;
  esac
done

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

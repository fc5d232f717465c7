#!/usr/bin/env bash
# Builds the Debian package of this checkout: OUT_DIR/jailbuild_VERSION_ARCH.deb.
#   scripts/package.sh [OUT_DIR]        (default: build-package/)
# Installs what is missing to build it (debian/control's Build-Depends, with apt-get build-dep),
# copies the checkout's files (tracked, and new ones git does not ignore) to OUT_DIR/source and
# runs dpkg-buildpackage there, so that the checkout gets no build directories or debian/ leftovers.
# Then lintian, which must report no error. Run as root on Debian 12 (apt-get needs it).
#
# Why a debian/ directory and dpkg-buildpackage, not CPack: debhelper gives what Debian expects of
# a package without writing it by hand: shared-library dependencies (dpkg-shlibdeps), conffiles,
# stripped binaries with separate debug symbols, compressed man pages and changelogs, md5sums,
# the systemd unit's maintainer scripts, and a lintian-clean result; CPack makes each of these a
# setting to get right.
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir=$(realpath -m "${1:-build-package}")

missing=()
for command in dpkg-buildpackage dh lintian go-md2man; do command -v "$command" >/dev/null || missing+=("$command"); done
if ((${#missing[@]})) || ! dpkg-checkbuilddeps >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpkg-dev debhelper lintian fakeroot
  DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq ./
fi

rm -rf "$out_dir/source"
mkdir -p "$out_dir/source"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$out_dir/source"
extra=""
if command -v ccache >/dev/null; then
  extra="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache"
  export CCACHE_BASEDIR=$out_dir
fi
(cd "$out_dir/source" &&
  JAILBUILD_CMAKE_EXTRA=$extra DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -b -us -uc) \
  >"$out_dir/build.log" 2>&1 || { tail -n 40 "$out_dir/build.log" >&2; echo "package.sh: dpkg-buildpackage failed (log: $out_dir/build.log)" >&2; exit 1; }

version=$(dpkg-parsechangelog -l debian/changelog -S Version)
deb=$out_dir/jailbuild_${version}_$(dpkg --print-architecture).deb
# --tag-display-limit 0: every tag, not a sample; errors fail the build.
lintian --tag-display-limit 0 "$deb" | tee "$out_dir/lintian.txt"
if grep -q '^E: ' "$out_dir/lintian.txt"; then
  echo "package.sh: lintian reports errors on $deb" >&2
  exit 1
fi
echo "$deb"

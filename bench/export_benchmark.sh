#!/usr/bin/env bash
# Exporting a root as an OCI image, timed with hyperfine in one run against the tools people use
# for it (issue 14). The root holds the 25 programs of bench/add_benchmark.sh, built once with
# `jailbuild add` (every runtime rule on: Python's and perl's libraries, CA store, zoneinfo...).
#   jailbuild export ROOT --oci DIR      (the command measured: reads the manifest's entries
#                                         through the root's descriptor, checks each, writes the
#                                         gzip layer and the layout's documents)
#   tar | gzip -n                        (the same tree as one reproducible tar.gz: GNU tar
#                                         --sort=name --mtime=@EPOCH --owner=0 --group=0
#                                         --numeric-owner, gzip -n at its default level 6; no
#                                         digest, no layout, no check)
#   umoci insert + umoci repack          (the same tree added to an empty image made once
#                                         with `umoci init` + `umoci new`, by a peer that writes
#                                         OCI layouts: unpack, insert the tree, repack a layer)
# Checks: the exported layout is read by `skopeo inspect`, two exports are byte-identical, and the
# tar pipeline's archive lists as many entries as the layer.
#
#   bench/export_benchmark.sh [OUT_DIR]          (default: build-bench/export-benchmark)
#
#   WARMUP=N  warmup runs per command (default 2)
#   RUNS=N    minimum measured runs per command (default 10)
#   JAILBUILD_BINARY=PATH  measure that binary (jailbuild-export beside it) instead of a Release build
#
# Needs hyperfine, skopeo, umoci (scripts/install-deps.sh --test --bench). Writes OUT_DIR/results/
# {export.json,export.md,summary.md}.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh

out_dir=$(realpath -m "${1:-build-bench/export-benchmark}")
warmup=${WARMUP:-2}
runs=${RUNS:-10}
results=$out_dir/results
root=$out_dir/root
state=$out_dir/state
mkdir -p "$results"

require_commands "scripts/install-deps.sh --test --bench" hyperfine skopeo umoci tar gzip
require_root "the root is root's, and umoci keeps its owners"
build_jailbuild

programs=(/usr/bin/{bash,ls,cat,cp,grep,sed,tar,gzip,xz,find,ps,diff,sort,less,openssl,git,perl,python3.11,sqlite3,curl,ssh,make,strace,file,gpg})
log "the root: jailbuild add of ${#programs[@]} programs"
rm -rf "$root" "$state"
"$jailbuild" add "${programs[@]}" --root "$root" --state-dir "$state" 2>&1 | tail -n 1
entries=$(find "$root" -mindepth 1 | wc -l)
echo "$entries entries, $(du -sm "$root" | cut -f1) MB"
epoch=$(stat -c %Y "$(find "$state/roots" -name '*.json' | head -n 1)")

# The peers' fixtures: an empty umoci image, made once.
umoci_image=$out_dir/umoci-image
rm -rf "$umoci_image"
umoci init --layout "$umoci_image"
umoci new --image "$umoci_image:base"

# Each timed command writes where its run before it wrote, and removes that first (the export's
# output must not exist; rm -rf of the last layout is in its figure, as the tar pipeline's
# truncation of its file is in its own).
export_dir=$out_dir/exported
cat >"$results/export.sh" <<EOF
#!/bin/sh
rm -rf "$export_dir"
exec "$jailbuild" -q export "$root" --state-dir "$state" --oci "$export_dir"
EOF
cat >"$results/tar.sh" <<EOF
#!/bin/sh
tar --sort=name --mtime=@$epoch --owner=0 --group=0 --numeric-owner -C "$root" -cf - . | gzip -n > "$out_dir/root.tar.gz"
EOF
cat >"$results/umoci.sh" <<EOF
#!/bin/sh
set -e
rm -rf "$out_dir/umoci-work"
cp -a "$umoci_image" "$out_dir/umoci-work"
umoci unpack --image "$out_dir/umoci-work:base" "$out_dir/umoci-bundle" >/dev/null
cp -a "$root/." "$out_dir/umoci-bundle/rootfs/"
umoci repack --image "$out_dir/umoci-work:jail" "$out_dir/umoci-bundle" >/dev/null
rm -rf "$out_dir/umoci-bundle"
EOF
chmod +x "$results"/{export,tar,umoci}.sh

failed=0
log "checks"
rm -rf "$export_dir" "$export_dir.2"
"$results/export.sh"
"$jailbuild" -q export "$root" --state-dir "$state" --oci "$export_dir.2"
if ! diff -r "$export_dir" "$export_dir.2" >/dev/null; then
  echo "CHECK FAILED: two exports of the same root differ" >&2
  failed=1
fi
if ! skopeo inspect "oci:$export_dir:latest" >/dev/null; then
  echo "CHECK FAILED: skopeo cannot read the exported layout" >&2
  failed=1
fi
"$results/tar.sh"
tar_entries=$(tar -tzf "$out_dir/root.tar.gz" | grep -vc '^\./$')
echo "layer of the export and tar pipeline: $entries and $tar_entries entries"
rm -rf "$export_dir.2"

log "timing (warmup $warmup, runs >= $runs)"
hyperfine -N --warmup "$warmup" --min-runs "$runs" --export-json "$results/export.json" \
  --export-markdown "$results/export.md" \
  -n "jailbuild export --oci" "$results/export.sh" \
  -n "tar --sort=name | gzip -n" "$results/tar.sh" \
  -n "umoci unpack + insert + repack" "$results/umoci.sh"

{
  echo "### Exporting a root as an OCI image (\`bench/export_benchmark.sh\`)"
  echo
  describe_host "$out_dir"
  echo "- root: ${#programs[@]} programs, $entries entries, $(du -sm "$root" | cut -f1) MB; layer $(du -m "$export_dir"/blobs/sha256/* | sort -n | tail -n 1 | cut -f1) MB"
  echo
  cat "$results/export.md"
} >"$results/summary.md"
cat "$results/summary.md"
exit "$failed"

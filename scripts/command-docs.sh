#!/usr/bin/env bash
# Makes the man pages and shell completions from a built jailbuild's own command model:
#   scripts/command-docs.sh JAILBUILD SOURCE_DIR OUT_DIR
# OUT_DIR/man/jailbuild.1 and jailbuild-COMMAND.1 for every command (`jailbuild help-man`, whose
# Markdown takes the prose of SOURCE_DIR/docs/commands/COMMAND.md, turned into roff by go-md2man),
# OUT_DIR/completions/jailbuild (bash) and _jailbuild (zsh). Called by the build (JAILBUILD_DOCS).
set -euo pipefail
jailbuild=$1 source_dir=$2 out_dir=$3
mkdir -p "$out_dir/man" "$out_dir/completions"

# The commands are the man page's: whatever `jailbuild help-man jailbuild` lists.
mapfile -t commands < <("$jailbuild" help-man jailbuild | sed -n 's/^\*\*\([a-z][a-z-]*\)\*\*$/\1/p')
((${#commands[@]} > 0)) || { echo "command-docs.sh: $jailbuild lists no command" >&2; exit 1; }

# roff reads a line that starts with . or ' as a request; go-md2man leaves such lines of a code
# block ("..." in an example) as they are, so they are escaped here with the zero-width \&.
to_roff() { go-md2man | sed -e "s/^\\([.']\\)\\([^A-Za-z]\\|\$\\)/\\\\\\&\\1\\2/"; }

"$jailbuild" help-man jailbuild | to_roff >"$out_dir/man/jailbuild.1"
for command in "${commands[@]}"; do
  prose=()
  [[ -f $source_dir/docs/commands/$command.md ]] && prose=(--prose "$source_dir/docs/commands/$command.md")
  "$jailbuild" help-man "$command" "${prose[@]}" | to_roff >"$out_dir/man/jailbuild-$command.1"
done
"$jailbuild" completion bash >"$out_dir/completions/jailbuild"
"$jailbuild" completion zsh >"$out_dir/completions/_jailbuild"

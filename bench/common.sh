# Shared by the benchmark scripts (sourced, not run). Expects $out_dir to be set, and $jailbuild
# (the binary under test) for require_subcommand.
# shellcheck shell=bash disable=SC2154

log() { printf '\n== %s\n' "$*"; }

# Stops a benchmark before it builds or times anything when a tool it needs is absent (COMMAND may
# be an absolute path); HINT says how to install them.
require_commands() {    # HINT COMMAND...
  local hint=$1 missing=() command
  shift
  for command in "$@"; do
    command -v "$command" >/dev/null || missing+=("$command")
  done
  if ((${#missing[@]})); then
    echo "missing: ${missing[*]} ($hint)" >&2
    exit 2
  fi
}

# Stops a benchmark that chroots or mounts before it starts, saying which step needs root (REASON).
require_root() {    # REASON
  if ((EUID != 0)); then
    echo "run as root: $1" >&2
    exit 2
  fi
}

# Stops a benchmark whose jailbuild binary predates the command it measures.
require_subcommand() {    # COMMAND
  if ! "$jailbuild" "$1" --help >/dev/null 2>&1; then
    echo "$jailbuild has no $1 command" >&2
    exit 2
  fi
}

# A Release build of the CLI in build-bench/, every option that matters stated so that whatever
# the directory's cache holds, the figures are of the product: no sanitizer, no tests (nor their
# LIEF). Without -Werror: a compiler's false positive at -O3 must not stop a measurement.
# JAILBUILD_BINARY=PATH measures that binary instead, unbuilt (on a machine too loaded to build
# twice; say which build the figures are of).
build_jailbuild() {
  if [[ -n ${JAILBUILD_BINARY:-} ]]; then
    jailbuild=$(realpath "$JAILBUILD_BINARY")
    return
  fi
  if ! { cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DJAILBUILD_TESTS=OFF -DJAILBUILD_WERROR=OFF \
           -DJAILBUILD_SANITIZE= &&
         cmake --build build-bench --target jailbuild_cli -j"$(nproc)"; } >"$out_dir/build.log" 2>&1; then
    tail -n 30 "$out_dir/build.log" >&2
    echo "building jailbuild failed (log: $out_dir/build.log)" >&2
    exit 2
  fi
}

# The real host programs the benchmarks work on: every regular ELF file (scanelf does not follow
# symlinks) with a PT_INTERP in DIRs, sorted. OPTIONs go to scanelf (-R: into subdirectories).
list_dynamic_programs() {    # [OPTION...] DIR...
  scanelf -B -F '%i %F' "$@" | awk '/^\// { sub(/^[^ ]+ /, ""); print }' | sort
}

# PROGRAM's PT_INTERP: the loader to ask, inside a root, whether the program's libraries are there.
interpreter_of() { readelf -lW "$1" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p'; }

# Whether a root is complete for PROGRAM, as the loader inside ROOT sees it
# (`chroot ROOT PT_INTERP --list PROGRAM`, nothing "not found"). If not, prints an excerpt of the
# loader's complaints on one line and returns 1.
loads_in_root() {    # ROOT PROGRAM
  local root=$1 program=$2 listing status
  listing=$(chroot "$root" "$(interpreter_of "$program")" --list "$program" 2>&1) && status=0 || status=$?
  if ((status != 0)) || grep -q 'not found' <<<"$listing"; then
    grep -m3 -e 'not found' -e 'rror' -e 'No such' <<<"$listing" | tr '\n\t' '  '
    return 1
  fi
}

# The host part of a summary's machine description (figures compare only between like hosts);
# DIR is where the roots are.
describe_host() {    # DIR
  echo "- CPU: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1), $(nproc) cores; $(free -g | awk '/^Mem:/ { print $2 }') GB RAM; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"'), kernel $(uname -r); roots on $(df -T "$1" | awk 'NR == 2 { print $2 }')"
}

// The real glibc loader as a test oracle: run it in trace mode (LD_TRACE_LOADED_OBJECTS=1, what
// ldd does) on a program and parse what it prints, so that tests can compare the resolver's
// answer with the loader's (docs/loader-rules.md#candidate-verdicts, #trace-output).
//
// Typical use:
//
//   LoaderTrace trace = trace_exec(program, {{"LD_LIBRARY_PATH", dir}}, cwd);
//   ASSERT_TRUE(trace.ran()) << trace.describe();
//   Closure closure = open_resolver(options).resolve(program);
//   EXPECT_EQ(loaded_file_set(trace), resolver_file_set(closure));
//
// Every function may be called from several threads at once (the child processes are forked with
// everything prepared beforehand, and only async-signal-safe calls between fork and exec).
//
// Caveats for callers tracing arbitrary programs:
// * trace_exec really execs the program. LD_TRACE_LOADED_OBJECTS only stops a program whose
//   interpreter is the glibc loader; a static or musl program would simply run. Setuid/setgid
//   programs run in secure mode, where the loader exits with status 5 instead of tracing.
// * trace_explicit (LOADER FILE) never runs FILE's own code when FILE is dynamic, but glibc 2.36's
//   loader crashes (SIGSEGV) on a static executable; check for PT_INTERP first.
// * The trace does not print the main program, and prints nothing but the error when the load
//   fails (a fatal error): compare file sets only when `fatal_error` is empty.
// * A dynamic program without DT_NEEDED prints only `statically linked`, not even the loader,
//   although the kernel still maps its PT_INTERP (which the resolver lists).
// * For a `#!` script, trace_exec traces the first ELF program the kernel runs (the interpreter)
//   and stops there: `#!/usr/bin/env NAME` traces env, never NAME.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "jailbuild/resolver.hpp"

namespace jailbuild::testing {

// The complete environment of a child process, NAME -> value. Nothing is inherited from the
// caller: an LD_* variable of the test runner never leaks into an oracle run.
using Environment = std::map<std::string, std::string>;

// How to start a child process besides its argv and environment.
struct ProcessOptions {
  std::string cwd = {};    // its working directory (inside `root`); empty: the caller's
  std::string root = "/";  // chroot(2) into this directory first (needs root) unless "/"
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};  // then it is killed (SIGKILL)
};

struct ProcessResult {
  std::string launch_error;  // non-empty: it could not be started (fork, chroot, chdir, exec)
  bool timed_out = false;
  int exit_code = -1;   // its exit status; -1 if it did not exit normally
  int term_signal = 0;  // the signal that killed it, or 0
  std::string output;   // stdout and stderr, interleaved as written

  bool exited() const { return launch_error.empty() && !timed_out && term_signal == 0; }
  std::string describe() const;  // a one-paragraph summary for failure messages
};

// Runs argv[0] (an absolute or cwd-relative path; PATH is not searched) with exactly `env`,
// stdin from /dev/null, and stdout+stderr captured together.
ProcessResult run_process(const std::vector<std::string>& argv, const Environment& env,
                          const ProcessOptions& options = {});

// Whether this kernel can execute `program` at all: not an i386 loader on a kernel built without
// IA-32 emulation (execve fails with ENOEXEC), where the loader cannot be an oracle. Asked once
// per program, with `--help` (which every glibc loader answers).
bool kernel_executes(const std::string& program);

// One object the loader printed (a link-map entry), in the loader's words.
struct TracedObject {
  std::string name;  // the first name it was requested by (l_libname), or its path when equal
  std::string path;  // the name the loader opened it as (l_name); relative to the traced cwd if relative
};

// What the loader printed in trace mode.
struct LoaderTrace {
  ProcessResult process;                      // the run itself, for diagnostics
  std::string cwd = "/";                      // the working directory it ran in (inside `root`)
  std::string root = "/";                     // the root it ran in
  std::vector<TracedObject> objects;          // loaded objects in link-map order; no vDSO, no "not found"
  std::vector<std::string> not_found;         // `NAME => not found`, once per reference, in order
  std::optional<std::string> fatal_error;     // "NAME: REASON" of `…: error while loading shared libraries: …`
  std::vector<std::string> ignored_preloads;  // `ERROR: ld.so: object 'X' … cannot be preloaded …: ignored.`
  // Symbol-version lines, `…: LIB: version `V' not found (required by X)` or `…: LIB: no version
  // information available (required by X)`. Trace mode goes on; a real run fails on the first kind.
  std::vector<std::string> version_problems;
  std::vector<std::string> unparsed;  // lines matching no known format
  bool vdso = false;                  // the vDSO (linux-vdso.so.1) was listed
  bool statically_linked = false;     // `statically linked`: the main program needs nothing

  // True if the loader ran to completion and printed only lines this parser understands (a fatal
  // load error counts as a completed run: that is an answer too).
  bool ran() const;
  std::string describe() const;  // the raw output and exit status, for failure messages
  // The path of the object first requested as `name`, if it was loaded.
  std::optional<std::string> path_of(const std::string& name) const;
};

// Parses trace-mode output (the format of docs/loader-rules.md#trace-output). Pure.
LoaderTrace parse_trace(const std::string& output);

// Runs PROGRAM itself with LD_TRACE_LOADED_OBJECTS=1 plus `env`: a real kernel exec, so the main
// program's $ORIGIN comes from /proc/self/exe and its PT_INTERP loader is used. `program` is
// absolute or relative to `cwd`; `cwd` is also the working directory of the traced process.
LoaderTrace trace_exec(const std::string& program, const Environment& env, const std::string& cwd,
                       ProcessOptions options = {});

// Runs `LD_TRACE_LOADED_OBJECTS=1 LOADER FILE` plus `env` (what ldd does): works for libraries
// and for setuid/setgid programs, but FILE's $ORIGIN is the directory of FILE as given.
LoaderTrace trace_explicit(const std::string& loader, const std::string& file, const Environment& env,
                           const std::string& cwd, ProcessOptions options = {});

// `path` with every symlink resolved and no `.`/`..` left, as the kernel would walk it inside
// `root`, relative paths taken from `cwd` (both inside `root`); nullopt if it does not exist.
// With root "/" this is realpath(3).
std::optional<std::string> real_path(const std::string& path, const std::string& cwd = "/",
                                     const std::string& root = "/");

// The files the loader loaded, as real paths inside the trace's root: every traced object except
// the vDSO (which is no file). The main program is not part of a trace. A path that does not
// resolve is kept as printed, prefixed with "unresolved:", so that it can never compare equal.
std::set<std::string> loaded_file_set(const LoaderTrace& trace);

// The same paths in link-map order, without those in `excluded` (e.g. the interpreter, whose
// position in the trace follows its own rule, docs/loader-rules.md#trace-output).
std::vector<std::string> loaded_file_order(const LoaderTrace& trace, const std::set<std::string>& excluded = {});

// The resolver's counterpart of loaded_file_set: the `real_path` of every object of every
// program in the closure that a trace would list. That is every object except
// * the programs themselves (FoundBy::Program), which a trace never lists, and
// * a program's interpreter when no DT_NEEDED or preload resolved to it: the loader then unlinks
//   itself from the list it prints (rtld.c `rtld_multiple_ref`), e.g. when libc.so.6 was not
//   found or the program needs nothing, although the kernel did map it. The resolver always
//   lists it (a jail needs the PT_INTERP file); this helper leaves it out in that case.
std::set<std::string> resolver_file_set(const Closure& closure);

// The resolver's counterpart of loaded_file_order for one program: the same objects as
// resolver_file_set in link-map order, without anything in `excluded`.
std::vector<std::string> resolver_file_order(const LinkMap& program, const std::set<std::string>& excluded = {});

// The names the loader opened the objects as (l_name), one per traced object, and the resolver's
// counterpart (LoadedObject::path of the same objects as resolver_file_set). These strings matter
// beyond the files they name: a library's $ORIGIN is derived from them, and a jail must contain
// each object at exactly this path.
std::multiset<std::string> opened_names(const LoaderTrace& trace);
std::multiset<std::string> resolver_opened_names(const Closure& closure);

// How many objects resolver_file_set counts (to compare with trace.objects.size(): the same file
// loaded twice as two objects would not show in a set).
std::size_t resolver_object_count(const Closure& closure);

// The names of the closure's ProblemKind::NotFound problems, and whether it has a Fatal one
// (in any program or in the closure itself). The loader's counterparts are trace.not_found
// and trace.fatal_error.
std::set<std::string> resolver_not_found(const Closure& closure);
std::vector<const Problem*> resolver_fatal_problems(const Closure& closure);

// Resolver::open for tests: throws (failing the test with the message) when the root cannot be opened.
Resolver open_resolver(const ResolverOptions& options);

// A readable dump of the resolver's answer (each object's path, real path and how it was found,
// then the problems), for failure messages.
std::string describe(const Closure& closure);

// Runs `LOADER --list-diagnostics` and returns its `key=value` lines, string values unquoted
// (e.g. "dl_dst_lib" -> "lib/x86_64-linux-gnu", "dl_platform" -> "x86_64"). Empty on failure.
std::map<std::string, std::string> loader_diagnostics(const std::string& loader);

}  // namespace jailbuild::testing

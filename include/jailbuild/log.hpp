// How jailbuild talks to its user: spdlog, through one logger on stderr in one format. Library
// code says what it has to say with spdlog::error, warn, info, debug or trace and never writes to
// stderr or stdout itself; the command line sets the logger up once, from -q, -v and -vv.
// (Results are not diagnostics: the tree, lists, JSON and summaries are the CLI's output.)
//
// The format: "jailbuild: LEVEL: MESSAGE", LEVEL one of error, warning, info, debug, trace.
// The levels, and what each is for (docs/commands/messages.md tells users):
//   error    a command could not do (all of) what was asked; its exit status says so too   (-q on)
//   warning  done, but something deserves a look: a bit removed, a setuid file not placed (default on)
//   info     what jailbuild did to the host besides the root, such as reserving ids         (-v on)
//   debug    why: the decision behind a result, such as why the watch list could not prove
//            that nothing changed                                                         (-v on)
//   trace    each step: each candidate the resolver rejects, each step the runner takes     (-vv on)
#pragma once

#include <string_view>

namespace jailbuild {

enum class Verbosity {
  quiet,         // -q: errors only
  normal,        // errors and warnings
  verbose,       // -v: and info and debug
  very_verbose,  // -vv: and trace
};

// The verbosity -q and the number of -v given ask for (-q wins).
Verbosity verbosity_from(int verbose_flags, bool quiet);

// Makes the default spdlog logger jailbuild's: stderr, the format above, the level `verbosity`
// asks for. May be called again (the command line does once its options are parsed); each call
// replaces the logger, so that tests get the same format as the command.
void set_up_logging(Verbosity verbosity);

// The status line: one line kept under the messages on stderr while long work runs (the progress
// line, src/cli/progress_line.hpp). show_status_line draws `text` (one line, no newline, no wider
// than the terminal) over the one before; a message logged meanwhile erases it, is written, and the
// line is drawn again under it. Erased with spaces, not escape sequences: any terminal, even a
// dumb one, shows it right.
void show_status_line(std::string_view text);
// Erases the status line, if one is shown: the work is over.
void clear_status_line();

}  // namespace jailbuild

// What the text rules (gconv, locale, terminfo) decide from host files, apart from the rules
// themselves so that each decision is tested on its own on the real host: where glibc reads its
// gconv modules from, which modules a gconv configuration names, which terminfo entry ncurses reads
// for a terminal's name.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jailbuild/resolver.hpp"

namespace jailbuild {

// The directory glibc's iconv_open reads when GCONV_PATH is unset: ${libdir}/gconv, compiled into
// libc. libc itself is in slibdir, which is libdir with /usr taken off (/lib/x86_64-linux-gnu for
// /usr/lib/x86_64-linux-gnu); on a merged-/usr system its real path is already under /usr. So: the
// directory of libc's real path, with /usr put in front when it is under /lib, then /gconv. Not a
// fixed x86-64 path: an i386 or arm64 libc has its own.
std::string gconv_directory(const LoadedObject& libc);

// The module files a gconv configuration (gconv-modules, or a gconv-modules.d/*.conf) in
// `directory` names on its `module FROM TO FILE [COST]` lines, each once, in order, as glibc opens
// them: DIRECTORY/FILE.so (".so" added unless FILE ends with it). Only plain names are taken: a
// FILE holding a slash (absolute, or reaching out of the directory) is skipped and said at -v;
// glibc's own configurations have none, and a rule must not copy whatever a line names.
std::vector<std::string> gconv_module_files(std::string_view configuration, const std::string& directory);

// Where ncurses looks for a terminal's compiled description when neither TERMINFO nor
// TERMINFO_DIRS is set, in its order (after $HOME/.terminfo, which is the user's, not the system's):
// Debian builds ncurses with --with-terminfo-dirs=/etc/terminfo:/lib/terminfo:/usr/share/terminfo.
const std::vector<std::string>& terminfo_directories();

// The terminals the terminfo rule gives every root that uses ncurses: those a program is likely to
// be run from (terminal emulators, multiplexers, the console, serial lines, no terminal at all).
const std::vector<std::string>& common_terminals();

// The entry ncurses reads for terminal `name`: DIR/FIRST-LETTER/NAME in the first of `directories`
// where `exists` says there is one (a symlink counts: ncurses opens through it); nullopt if none.
std::optional<std::string> terminfo_entry(const std::string& name, const std::vector<std::string>& directories,
                                          const std::function<bool(const std::string&)>& exists);

}  // namespace jailbuild

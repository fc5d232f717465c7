// Byte strings in JSON: the one encoding every JSON document jailbuild writes uses for paths and
// for anything else that comes from the file system (symlink targets, sonames, reasons and
// messages that embed paths): the manifest, `list --json`, `deps --json`, `add --json` and
// `sync --json`. README.md ("Paths in JSON") documents it for users.
//
// Linux paths are bytes, JSON strings are Unicode: a byte string that is well-formed UTF-8 is a
// JSON string; any other is the object {"hex": "<its bytes as lowercase hex>"}. So every path
// round-trips, and a document built with bytes_json never makes nlohmann's dump() throw
// type_error 316 (invalid UTF-8), which used to abort `--json` after `add` or `sync` had already
// changed a root.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace jailbuild {

// Well-formed UTF-8 as in Unicode table 3-7: no overlong forms, no surrogates, nothing above
// U+10FFFF. Exactly what nlohmann::json accepts when it writes a string.
bool is_utf8(std::string_view bytes);

// `bytes` as a JSON string if it is UTF-8, else as {"hex": "..."}.
nlohmann::json bytes_json(std::string_view bytes);

// A JSON array of bytes_json values, in order.
nlohmann::json bytes_json(const std::vector<std::string>& list);

// The bytes the "hex" member of the object form spells; nullopt unless `hex` is an even number of
// lowercase hex digits. (The manifest's reader checks the object around it, to say where it is.)
std::optional<std::string> bytes_from_hex(std::string_view hex);

// `bytes` as lowercase hex, two digits a byte: what bytes_json writes, and a digest's text.
std::string hex_text(std::string_view bytes);

// `text` for a terminal or a message: control characters (below 0x20, and 0x7f) as \xNN, so that
// bytes someone else chose (a path a jail named, a line of a file) cannot rewrite what the
// terminal shows. Everything else as it is.
std::string for_terminal(std::string_view text);

// `document` as text, indented by two, for printing. Every byte string in a document jailbuild
// prints goes through bytes_json, so nothing is left that dump() could refuse; should a string
// ever slip past it, it is written with U+FFFD in place of its bad bytes rather than throwing:
// this runs after a command changed a root, when failing would hide a change that happened.
std::string json_text(const nlohmann::json& document);

}  // namespace jailbuild

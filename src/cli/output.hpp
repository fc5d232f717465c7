// Everything jailbuild shows its user, in one place: the forms `deps` prints (tree, list, JSON),
// what `add`, `sync`, `remove` and `list` print (plans, summaries, JSON), and the problems,
// conflicts and warnings a command leaves. The library hands over data (closures, changes,
// manifests) and never words it for display; what the manifest persists (a Reason's rule) is the
// domain's own text, so rewording anything here rewrites no manifest.
//
// Two channels: results on stdout (the tree, the list, JSON, dry-run plans), diagnostics on stderr
// through spdlog in its one format (jailbuild/log.hpp). Every byte string in JSON goes through
// bytes_json (src/util/json_bytes.hpp), so no `--json` fails on a name that is not UTF-8.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "jailbuild/jail.hpp"
#include "jailbuild/resolver.hpp"
#include "jailbuild/result.hpp"
#include "jailbuild/rules.hpp"

namespace jailbuild::cli {

// ---- deps
// A dependency tree in the manner of libtree: each object under the object that loaded it, with
// how it was found; reused objects are shown once more as leaves with the rule that matched them.
std::string deps_tree(const Closure& closure);
// Every file of `closures`, each once, one absolute path a line (relative ones against `cwd`).
std::string deps_list(const std::vector<Closure>& closures, const std::string& cwd);
// The JSON array `deps --json` prints, one object per closure.
nlohmann::json deps_json(const std::vector<Closure>& closures);
// At -v (debug) what resolving `closure` found in all; at -vv (trace) each object and how it was found.
void log_details(const Closure& closure);
// A problem the resolver or planner met, on stderr: a skipped entry as a warning, else an error.
void log_problem(const Problem& problem);

// ---- add, sync, remove
// The change for scripts: the same fields for add, remove and sync.
nlohmann::json change_json(const RootChange& change, bool dry_run);
// `add --json`'s "entries": every entry as placed, with its reasons.
nlohmann::json placed_entries_json(const RootChange& change);
// `add --dry-run`: one line per planned entry, with its first reason.
std::string plan_text(const CopyPlan& plan);
// `sync --dry-run`: "create PATH", "update PATH" and "remove PATH" lines.
std::string sync_plan_text(const RootChange& change);
// `remove`: "removed PATH" (or "would remove PATH") lines.
std::string removed_text(const RootChange& change, bool dry_run);
// Everything the change left undone or that deserves a word, on stderr: problems, conflicts, kept
// entries, vanished paths, privileges removed, setuid files jailbuild did not place.
void log_undone(const RootChange& change);
// At -v (debug) what the change did to each path and whether the watch list spared the work; at
// -vv (trace) each planned entry with its first reason and each host path the plan depends on.
void log_details(const RootChange& change, bool dry_run);
// `sync --prune`: the added paths it forgot (or would forget), as warnings.
void log_pruned(const RootChange& change, bool dry_run);
// The one-line summary on stderr ("ROOT: 1 created, ..."), unless -q asked for errors only.
void print_summary(const RootChange& change, bool dry_run);
// A command's failure, on stderr.
void log_error(const Error& error);
// `sync --json`'s object for a root whose sync failed.
nlohmann::json failed_root_json(const std::string& root, const Error& error);

// ---- list
// `list`: the added paths, the size of what each runtime rule brought, then each entry with its reasons.
std::string manifest_text(const Manifest& manifest);
// `list --json`: the manifest as stored, and "rule_sizes" (rule_sizes_json).
nlohmann::json list_json(const Manifest& manifest);

// ---- rules
// `rules`: each runtime rule with whether it is on by default, its trigger, what it adds and its size.
std::string rules_text(const std::vector<RuleInfo>& rules);
// `rules --json`: {"rules": [{"name", "on_by_default", "trigger", "adds", "size"}, ...]}.
nlohmann::json rules_json(const std::vector<RuleInfo>& rules);

// ---- numbers
// 1310 -> "1,310".
std::string with_commas(std::uint64_t number);
// Bytes in decimal units, one decimal: "0 B", "125.4 KB", "1.3 MB".
std::string size_text(std::uint64_t bytes);

// ---- stdout
// Writes `text` to stdout as it is.
void print(const std::string& text);
// Writes `document` to stdout, indented, and a newline.
void print(const nlohmann::json& document);

}  // namespace jailbuild::cli

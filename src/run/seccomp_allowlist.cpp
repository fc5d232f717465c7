// The system call allowlist's record (roots/NAME.syscalls in the state directory) and the lists a
// run takes. The record is JSON: the architecture its names are of, the names, and the filter
// compiled from them when they were recorded. The state directory is jailbuild's own, as trusted as
// the manifest beside it; and whatever a filter in it says, the denylist is loaded under it and
// still refuses what it refuses.
#include "jailbuild/seccomp_allowlist.hpp"

#include <linux/filter.h>

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "manifest/root_lock.hpp"
#include "manifest/state_dir.hpp"
#include "seccomp_oci.hpp"
#include "seccomp_policy.hpp"
#include "seccomp_rules.hpp"
#include "util/files.hpp"
#include "util/json_bytes.hpp"
#include "util/root_dir.hpp"

namespace jailbuild {
namespace {

// The architecture the names are of, as `uname -m` says it.
#if defined(__x86_64__)
constexpr std::string_view kArchitecture = "x86_64";
#elif defined(__aarch64__)
constexpr std::string_view kArchitecture = "aarch64";
#else
#error "seccomp: name this machine's architecture"
#endif

// A record holds a few hundred names and a filter of a few thousand bytes; a hand-written list is
// no longer.
constexpr std::uint64_t kMaxListSize = 1 << 20;
// The kernel's limit on a filter's length (BPF_MAXINSNS).
constexpr std::size_t kMostInstructions = 4096;

nlohmann::json record_json(const SeccompAllowlist& allowlist) {
  return {{"architecture", kArchitecture}, {"calls", allowlist.calls}, {"filter", hex_text(allowlist.filter)}};
}

Result<SeccompAllowlist> record_from_json(const std::string& path, const nlohmann::json& json) {
  const auto bad = [&path](const std::string& what) {
    return Error{path + ": " + what + " (remove the file and trace again: jailbuild add --trace)"};
  };
  if (!json.is_object()) return bad("not a system call record");
  for (const auto& [key, value] : json.items())
    if (key != "architecture" && key != "calls" && key != "filter") return bad("unknown key \"" + key + "\"");
  const auto architecture = json.find("architecture");
  const auto calls = json.find("calls");
  const auto filter = json.find("filter");
  if (architecture == json.end() || !architecture->is_string() || calls == json.end() || !calls->is_array() ||
      filter == json.end() || !filter->is_string())
    return bad("needs \"architecture\", \"calls\" and \"filter\"");
  if (architecture->get<std::string>() != kArchitecture)
    return bad("the system calls of " + architecture->get<std::string>() + ", not of this " +
               std::string(kArchitecture) + " machine");
  SeccompAllowlist allowlist{path, {}, ""};
  for (const nlohmann::json& call : *calls) {
    if (!call.is_string() || !run::is_system_call_name(call.get<std::string>()))
      return bad("\"calls\" holds " + call.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace) +
                 ", not a system call of " + std::string(kArchitecture));
    allowlist.calls.push_back(call.get<std::string>());
  }
  const std::optional<std::string> program = bytes_from_hex(filter->get<std::string>());
  if (!program || program->empty() || program->size() % sizeof(sock_filter) != 0 ||
      program->size() / sizeof(sock_filter) > kMostInstructions)
    return bad("\"filter\" is not a BPF program");
  allowlist.filter = *program;
  return allowlist;
}

Result<std::optional<SeccompAllowlist>> read_record(const std::string& path) {
  const std::optional<std::string> text = TRY(read_file(path, kMaxListSize, "system call record"));
  if (!text) return std::optional<SeccompAllowlist>{};
  const nlohmann::json json = nlohmann::json::parse(*text, nullptr, false);
  if (json.is_discarded()) return Error{path + ": not JSON (remove the file and trace again: jailbuild add --trace)"};
  return std::optional<SeccompAllowlist>(TRY(record_from_json(path, json)));
}

}  // namespace

Result<SeccompAllowlist> compiled(SeccompAllowlist allowlist) {
  if (!allowlist.filter.empty()) return allowlist;
  auto program = run::compile_allowlist(allowlist.calls);
  if (!program) return Error{allowlist.origin + ": " + program.error().message};
  allowlist.filter.assign(reinterpret_cast<const char*>(program->data()), program->size() * sizeof(sock_filter));
  return allowlist;
}

nlohmann::json oci_seccomp(const SeccompAllowlist& allowlist) { return run::oci_allowlist_seccomp(allowlist.calls); }

Result<std::size_t> record_system_calls(const std::string& state_dir, const std::string& root,
                                        const std::set<long>& numbers) {
  const OpenedRoot opened = TRY(open_root(root, false));
  const StateDir state(state_dir);
  const StateDir::RootFiles files = state.files_of(opened.path);
  const RootLock lock = TRY(RootLock::acquire(state.path(), opened.path, true));
  std::set<std::string> calls;
  if (const std::optional<SeccompAllowlist> recorded = TRY(read_record(files.system_calls)))
    calls.insert(recorded->calls.begin(), recorded->calls.end());
  const std::vector<std::string>& baseline = run::allowlist_baseline();
  for (const long number : numbers) {
    const std::optional<std::string> name = run::system_call_name(number);
    if (!name) {
      spdlog::warn("--trace: system call {} has no name this jailbuild knows; an allowlist cannot hold it", number);
      continue;
    }
    if (std::find(baseline.begin(), baseline.end(), *name) == baseline.end()) calls.insert(*name);
  }
  const SeccompAllowlist allowlist = TRY(compiled({files.system_calls, {calls.begin(), calls.end()}, ""}));
  TRY(replace_file(files.system_calls, json_text(record_json(allowlist)) + "\n"));
  return allowlist.calls.size();
}

Result<std::optional<SeccompAllowlist>> recorded_allowlist(const std::string& state_dir, const std::string& root) {
  const OpenedRoot opened = TRY(open_root(root, false));
  return read_record(StateDir(state_dir).files_of(opened.path).system_calls);
}

Result<SeccompAllowlist> allowlist_from_file(const std::string& path) {
  const std::optional<std::string> text = TRY(read_file(path, kMaxListSize, "allowlist"));
  if (!text) return Error::usage("--seccomp allowlist:" + path + ": no such file");
  SeccompAllowlist allowlist{path, {}, ""};
  std::size_t line_number = 0;
  for (std::size_t start = 0; start < text->size();) {
    const std::size_t end = std::min(text->find('\n', start), text->size());
    std::string_view line(text->data() + start, end - start);
    start = end + 1;
    ++line_number;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const std::string name(line);
    if (!run::is_system_call_name(name))
      return Error::usage(path + ":" + std::to_string(line_number) + ": " + for_terminal(name) +
                          ": not a system call of " + std::string(kArchitecture));
    allowlist.calls.push_back(name);
  }
  return allowlist;
}

}  // namespace jailbuild

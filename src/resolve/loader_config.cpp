// The loader parameters that decide where it looks: built-in defaults per machine, the hwcaps
// subdirectory lists derived from them (elf/dl-hwcaps.c), and reading them from the loader's own
// `--list-diagnostics` report (elf/dl-diagnostics.c). See docs/loader-rules.md#loader-parameters and
// #hwcaps-subdirectories.
#include "jailbuild/loader_config.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <utility>
#include <variant>

#include "util/system_error.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild {

namespace {

constexpr std::uint8_t kElfClass32 = 1;
constexpr std::uint8_t kElfClass64 = 2;
constexpr std::uint16_t kMachineI386 = 3;
constexpr std::uint16_t kMachineX86_64 = 62;

constexpr unsigned kI686PlatformBit = 49;  // _DL_FIRST_PLATFORM 48 + index of "i686"
constexpr std::uint64_t kHwcapSse2 = 0x1;  // HWCAP_X86_SSE2, also i386's HWCAP_IMPORTANT
constexpr std::int32_t kFlagElfLibc6 = 3;  // FLAG_ELF_LIBC6: i386's _DL_CACHE_DEFAULT_ID

// Debian 12's libc6:i386 (the multiarch package). Debian's amd64 biarch package libc6-i386 builds
// the same loader with /lib32 instead; asking it (query_loader) tells which one a system has.
LoaderConfig debian_i386_config() {
  LoaderConfig config;
  config.rtld_path = "/lib/ld-linux.so.2";
  config.rtld_soname = "ld-linux.so.2";
  config.elf_class = kElfClass32;
  config.machine = kMachineI386;
  config.system_dirs = {"/lib/i386-linux-gnu/", "/usr/lib/i386-linux-gnu/", "/lib/", "/usr/lib/"};
  config.lib = "lib/i386-linux-gnu";
  config.platform = "i686";
  config.platform_bit = kI686PlatformBit;
  config.hwcaps_subdirs = {};  // i386 has no glibc-hwcaps subdirectories
  config.hwcap = kHwcapSse2;
  config.hwcap_mask = kHwcapSse2;
  config.cache_flags = kFlagElfLibc6;
  config.cache_accepts_plain_elf = true;  // no i386 dl-cache.h: the generic check applies
  return config;
}

}  // namespace

LoaderConfig default_loader_config(std::uint8_t elf_class, std::uint16_t machine) {
  if (elf_class == kElfClass32 && machine == kMachineI386) return debian_i386_config();
  LoaderConfig config;  // Debian 12 x86_64
  if (elf_class == kElfClass64 && machine == kMachineX86_64) return config;
  // A best guess for other machines: their paths, hwcaps and cache flags are not known here, so
  // keep x86_64's and drop the glibc-hwcaps subdirectories, which are x86-64 level names.
  config.elf_class = elf_class;
  config.machine = machine;
  config.hwcaps_subdirs.clear();
  return config;
}

// _dl_important_hwcaps' power set: the components are the names of the hwcap bits the mask keeps
// (lowest bit first), the platform, and "tls"; prefix i holds the components whose bit is set in
// 2^n-1-i, last component first. A hwcap bit without a name is left out.
std::vector<std::string> LoaderConfig::legacy_subdirs() const {
  std::vector<std::string_view> components;
  const std::uint64_t important = hwcap & hwcap_mask;
  for (std::size_t bit = 0; bit < legacy_hwcap_names.size() && bit < 64; ++bit)
    if ((important >> bit) & 1) components.push_back(legacy_hwcap_names[bit]);
  if (platform) components.push_back(*platform);
  components.push_back("tls");

  const std::size_t count = std::size_t{1} << components.size();
  std::vector<std::string> prefixes;
  prefixes.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t members = count - 1 - i;
    std::string prefix;
    for (std::size_t k = components.size(); k-- > 0;) {
      if ((members >> k) & 1) {
        prefix += components[k];
        prefix += '/';
      }
    }
    prefixes.push_back(std::move(prefix));
  }
  return prefixes;
}

std::vector<std::string> LoaderConfig::search_subdirs() const {
  std::vector<std::string> prefixes;
  for (const std::string& name : hwcaps_subdirs) prefixes.push_back("glibc-hwcaps/" + name + "/");
  for (std::string& legacy : legacy_subdirs()) prefixes.push_back(std::move(legacy));
  return prefixes;
}

namespace {

// A string value as the loader printed it. Its escape for a byte outside ' '..'~' repeats the
// top octal digit where the middle one belongs (print_quoted_char), so such a byte cannot be
// recovered: `lossy` says one was seen.
struct QuotedString {
  std::string text;
  bool lossy = false;
};

// A value is a quoted string or a hex number; `0x0` also stands for a NULL string.
using DiagnosticValue = std::variant<QuotedString, std::uint64_t>;

std::optional<QuotedString> parse_quoted(std::string_view raw) {
  if (raw.size() < 2 || raw.front() != '"' || raw.back() != '"') return std::nullopt;
  const std::string_view body = raw.substr(1, raw.size() - 2);
  auto is_octal = [](char c) { return c >= '0' && c <= '7'; };
  QuotedString quoted;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c == '"') return std::nullopt;
    if (c != '\\') {
      quoted.text += c;
      continue;
    }
    if (i + 1 < body.size() && (body[i + 1] == '\\' || body[i + 1] == '"')) {
      quoted.text += body[++i];
    } else if (i + 3 < body.size() && is_octal(body[i + 1]) && is_octal(body[i + 2]) && is_octal(body[i + 3])) {
      quoted.lossy = true;
      i += 3;
    } else {
      return std::nullopt;
    }
  }
  return quoted;
}

std::optional<std::uint64_t> parse_hex(std::string_view raw) {
  if (raw.size() < 3 || raw.substr(0, 2) != "0x") return std::nullopt;
  std::uint64_t value = 0;
  const char* end = raw.data() + raw.size();
  const auto [stop, error] = std::from_chars(raw.data() + 2, end, value, 16);
  if (error != std::errc() || stop != end) return std::nullopt;
  return value;
}

std::optional<DiagnosticValue> parse_value(std::string_view raw) {
  if (auto quoted = parse_quoted(raw)) return DiagnosticValue(std::move(*quoted));
  if (auto number = parse_hex(raw)) return DiagnosticValue(*number);
  return std::nullopt;
}

struct DiagnosticLine {
  std::size_t number;  // 1-based, for messages
  DiagnosticValue value;
};

// The report's `key=value` lines by key (a repeated key: the last wins).
class Diagnostics {
 public:
  static Result<Diagnostics> parse(std::string_view text);

  // Each getter: nullopt if the key is absent, an error if its value has the wrong type.
  Result<std::optional<std::string>> string(std::string_view key) const;
  Result<std::optional<std::uint64_t>> number(std::string_view key) const;
  // A string that the loader prints as 0x0 when it is NULL: nullopt inside means NULL.
  Result<std::optional<std::optional<std::string>>> nullable_string(std::string_view key) const;

 private:
  const DiagnosticLine* find(std::string_view key) const {
    const auto it = lines_.find(key);
    return it == lines_.end() ? nullptr : &it->second;
  }
  static Error wrong_type(std::string_view key, const DiagnosticLine& line, const char* expected);

  std::map<std::string, DiagnosticLine, std::less<>> lines_;
};

Result<Diagnostics> Diagnostics::parse(std::string_view text) {
  Diagnostics diagnostics;
  std::size_t number = 0;
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    ++number;
    if (line.empty()) continue;
    const std::size_t equals = line.find('=');
    std::optional<DiagnosticValue> value;
    if (equals != 0 && equals != std::string_view::npos) value = parse_value(line.substr(equals + 1));
    if (!value)
      return Error{"ld.so --list-diagnostics output line " + std::to_string(number) +
                   " is malformed: " + std::string(line)};
    diagnostics.lines_.insert_or_assign(std::string(line.substr(0, equals)), DiagnosticLine{number, std::move(*value)});
  }
  return diagnostics;
}

Error Diagnostics::wrong_type(std::string_view key, const DiagnosticLine& line, const char* expected) {
  return Error{"ld.so --list-diagnostics output line " + std::to_string(line.number) + ": " + std::string(key) +
               " is not " + expected};
}

Result<std::optional<std::string>> Diagnostics::string(std::string_view key) const {
  const DiagnosticLine* line = find(key);
  if (line == nullptr) return std::optional<std::string>();
  const auto* quoted = std::get_if<QuotedString>(&line->value);
  if (quoted == nullptr) return wrong_type(key, *line, "a quoted string");
  if (quoted->lossy) return wrong_type(key, *line, "printable (the loader's escape of other bytes is lossy)");
  return std::optional<std::string>(quoted->text);
}

Result<std::optional<std::uint64_t>> Diagnostics::number(std::string_view key) const {
  const DiagnosticLine* line = find(key);
  if (line == nullptr) return std::optional<std::uint64_t>();
  const auto* value = std::get_if<std::uint64_t>(&line->value);
  if (value == nullptr) return wrong_type(key, *line, "a hex number");
  return std::optional<std::uint64_t>(*value);
}

Result<std::optional<std::optional<std::string>>> Diagnostics::nullable_string(std::string_view key) const {
  using Nullable = std::optional<std::string>;
  const DiagnosticLine* line = find(key);
  if (line == nullptr) return std::optional<Nullable>();
  if (const auto* value = std::get_if<std::uint64_t>(&line->value)) {
    if (*value != 0) return wrong_type(key, *line, "a quoted string or 0x0 (NULL)");
    return std::optional<Nullable>(Nullable());
  }
  Result<std::optional<std::string>> text = string(key);
  if (!text) return text.error();
  return std::optional<Nullable>(std::move(*text));
}

// Calls `apply` with the value of `key` if it is present; returns the type error otherwise.
template <typename T, typename Apply>
Result<void> apply_if_present(const Result<std::optional<T>>& value, Apply apply) {
  if (!value) return value.error();
  if (*value) apply(**value);
  return {};
}

Result<void> apply_paths(const Diagnostics& report, LoaderConfig& config) {
  TRY(apply_if_present(report.string("path.rtld"), [&](const std::string& v) { config.rtld_path = v; }));
  TRY(apply_if_present(report.string("dso.ld"), [&](const std::string& v) { config.rtld_soname = v; }));
  TRY(apply_if_present(report.string("dl_dst_lib"), [&](const std::string& v) { config.lib = v; }));
  // LD_SO_CACHE and the preload file are SYSCONFDIR "/ld.so.cache" and "/ld.so.preload".
  return apply_if_present(report.string("path.sysconfdir"), [&](const std::string& v) {
    config.cache_path = v + "/ld.so.cache";
    config.preload_path = v + "/ld.so.preload";
  });
}

// path.system_dirs[0x0], [0x1], ... in index order; the list replaces the default if present.
Result<void> apply_system_dirs(const Diagnostics& report, LoaderConfig& config) {
  std::vector<std::string> dirs;
  for (std::size_t index = 0;; ++index) {
    std::array<char, 20> hex{};
    const auto end = std::to_chars(hex.data(), hex.data() + hex.size(), index, 16).ptr;
    const std::string key = "path.system_dirs[0x" + std::string(hex.data(), end) + "]";
    Result<std::optional<std::string>> dir = report.string(key);
    if (!dir) return dir.error();
    if (!*dir) break;
    dirs.push_back(std::move(**dir));
  }
  if (!dirs.empty()) config.system_dirs = std::move(dirs);
  return {};
}

// dl_hwcaps_subdirs is a ':' list and bit i of dl_hwcaps_subdirs_active marks its i-th non-empty
// name (_dl_hwcaps_split_masked); the active names in list order are the priority order.
std::vector<std::string> active_hwcaps_subdirs(std::string_view list, std::uint64_t active) {
  std::vector<std::string> names;
  std::size_t bit = 0;
  while (!list.empty()) {
    const std::size_t colon = list.find(':');
    const std::string_view name = list.substr(0, colon);
    list = colon == std::string_view::npos ? std::string_view() : list.substr(colon + 1);
    if (name.empty()) continue;
    if (bit < 64 && ((active >> bit) & 1)) names.emplace_back(name);
    ++bit;
  }
  return names;
}

Result<void> apply_hwcaps(const Diagnostics& report, LoaderConfig& config) {
  TRY(apply_if_present(report.number("dl_hwcap"), [&](std::uint64_t v) { config.hwcap = v; }));
  // HWCAP_IMPORTANT, which is the hwcap mask when no tunable overrides it (none does here: the
  // loader is asked with an empty environment).
  TRY(apply_if_present(report.number("dl_hwcap_important"), [&](std::uint64_t v) { config.hwcap_mask = v; }));

  Result<std::optional<std::string>> subdirs = report.string("dl_hwcaps_subdirs");
  if (!subdirs) return subdirs.error();
  Result<std::optional<std::uint64_t>> active = report.number("dl_hwcaps_subdirs_active");
  if (!active) return active.error();
  if (subdirs->has_value() != active->has_value())
    return Error{
        "ld.so --list-diagnostics: dl_hwcaps_subdirs and dl_hwcaps_subdirs_active "
        "must come together"};
  if (*subdirs) config.hwcaps_subdirs = active_hwcaps_subdirs(**subdirs, **active);
  return {};
}

Result<void> apply_platform(const Diagnostics& report, LoaderConfig& config) {
  TRY(apply_if_present(report.nullable_string("dl_platform"),
                       [&](const std::optional<std::string>& v) { config.platform = v; }));
  // _dl_string_platform: the cache's platform bit, or -1 for a platform the cache has no bit for.
  Result<std::optional<std::uint64_t>> bit = report.number("dl_string_platform");
  if (!bit) return bit.error();
  if (!*bit) return {};
  if (**bit == ~std::uint64_t{0}) {
    config.platform_bit.reset();
  } else if (**bit < 64) {
    config.platform_bit = static_cast<unsigned>(**bit);
  } else {
    return Error{"ld.so --list-diagnostics: dl_string_platform " + std::to_string(**bit) +
                 " is neither -1 nor a bit number"};
  }
  return {};
}

// The cache's ISA level n of a glibc-hwcaps entry is usable iff bit n of isa_1 is set
// (dl_cache_hwcap_isa_level_compatible), so isa_1 is the mask as it is.
Result<void> apply_isa_level(const Diagnostics& report, LoaderConfig& config) {
  Result<std::optional<std::uint64_t>> isa = report.number("x86.cpu_features.isa_1");
  if (!isa) return isa.error();
  if (!*isa) return {};
  if (**isa > 0xffffffffu) return Error{"ld.so --list-diagnostics: x86.cpu_features.isa_1 does not fit 32 bits"};
  config.isa_level_mask = static_cast<std::uint32_t>(**isa);
  return {};
}

}  // namespace

Result<LoaderConfig> parse_diagnostics(std::string_view text, LoaderConfig base) {
  Result<Diagnostics> report = Diagnostics::parse(text);
  if (!report) return report.error();
  for (auto apply : {apply_paths, apply_system_dirs, apply_hwcaps, apply_platform, apply_isa_level})
    TRY(apply(*report, base));
  return base;
}

namespace {

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

std::optional<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

struct SpawnActions {
  posix_spawn_file_actions_t actions;
  SpawnActions() { posix_spawn_file_actions_init(&actions); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&actions); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
};

struct CapturedRun {
  std::string out;
  std::string err;
  int wait_status = 0;
};

// Reads both pipes to their ends at once, so that neither child stream can fill up and block.
void drain(UniqueFd& out, UniqueFd& err, CapturedRun& run) {
  std::array<pollfd, 2> fds{pollfd{out.get(), POLLIN, 0}, pollfd{err.get(), POLLIN, 0}};
  std::array<std::string*, 2> sinks{&run.out, &run.err};
  std::array<char, 65536> buffer;
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t got = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (got > 0) {
        sinks[i]->append(buffer.data(), static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        fds[i].fd = -1;  // poll ignores negative descriptors
      }
    }
  }
}

// Runs `program --list-diagnostics` with an empty environment (no LD_* or GLIBC_TUNABLES of ours
// may change its answer) and stdin from /dev/null, capturing stdout and stderr.
Result<CapturedRun> run_list_diagnostics(const std::string& program) {
  std::optional<Pipe> out = make_pipe();
  std::optional<Pipe> err = make_pipe();
  if (!out || !err) return system_error("cannot run " + program + ": pipe", errno);

  SpawnActions spawn;
  posix_spawn_file_actions_addopen(&spawn.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&spawn.actions, out->write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&spawn.actions, err->write_end.get(), STDERR_FILENO);
  std::string argument = "--list-diagnostics";
  std::string program_name = program;
  char* argv[] = {program_name.data(), argument.data(), nullptr};
  char* envp[] = {nullptr};

  pid_t pid = 0;
  const int spawn_error = ::posix_spawn(&pid, program.c_str(), &spawn.actions, nullptr, argv, envp);
  if (spawn_error != 0) return system_error("cannot run " + program, spawn_error);
  out->write_end.close();
  err->write_end.close();

  CapturedRun run;
  drain(out->read_end, err->read_end, run);
  while (::waitpid(pid, &run.wait_status, 0) < 0) {
    if (errno != EINTR) return system_error("cannot wait for " + program, errno);
  }
  return run;
}

// "exited with status 127: <first line of stderr>" or "was killed by signal 11 (...)".
std::string describe_failure(const CapturedRun& run) {
  std::string reason;
  if (WIFEXITED(run.wait_status)) {
    reason = "exited with status " + std::to_string(WEXITSTATUS(run.wait_status));
  } else if (WIFSIGNALED(run.wait_status)) {
    const int signal = WTERMSIG(run.wait_status);
    reason = "was killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  } else {
    reason = "ended with wait status " + std::to_string(run.wait_status);
  }
  const std::string first_line = run.err.substr(0, run.err.find('\n'));
  if (!first_line.empty()) reason += ": " + first_line;
  return reason;
}

}  // namespace

Result<LoaderConfig> query_loader(const std::string& loader_path, LoaderConfig base) {
  Result<CapturedRun> run = run_list_diagnostics(loader_path);
  if (!run) return run.error();
  if (!WIFEXITED(run->wait_status) || WEXITSTATUS(run->wait_status) != 0)
    return Error{loader_path + " --list-diagnostics " + describe_failure(*run)};
  Result<LoaderConfig> config = parse_diagnostics(run->out, std::move(base));
  if (!config) return Error{loader_path + ": " + config.error().message};
  return config;
}

}  // namespace jailbuild

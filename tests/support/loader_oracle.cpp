#include "support/loader_oracle.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

namespace jailbuild::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A file descriptor closed on destruction.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

struct Pipe {
  Fd read;
  Fd write;
};

std::optional<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

std::string errno_text(const char* what, int error) { return std::string(what) + ": " + std::strerror(error); }

// Called in the forked child: reports which step failed through `error_fd` and exits.
// Only async-signal-safe calls.
[[noreturn]] void child_fail(int error_fd, const char* step) {
  const int error = errno;
  // The parent reads "STEP\0" followed by the errno bytes.
  [[maybe_unused]] ssize_t ignored = ::write(error_fd, step, std::strlen(step) + 1);
  ignored = ::write(error_fd, &error, sizeof error);
  ::_exit(127);
}

// Reads everything from `fd` until EOF or `deadline`. Returns false on timeout.
bool read_until_eof(int fd, Clock::time_point deadline, std::string& out) {
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd entry{fd, POLLIN, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(std::min<long long>(left.count(), INT_MAX)));
    if (ready == 0) return false;
    if (ready < 0) {
      if (errno == EINTR) continue;
      return true;  // nothing more can be read
    }
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    out.append(buffer, static_cast<std::size_t>(n));
  }
}

// Waits for `pid` until `deadline`; kills it then. Fills the exit fields of `result`.
void reap(pid_t pid, Clock::time_point deadline, ProcessResult& result) {
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) return;
    if (Clock::now() >= deadline) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The kernel's vDSO is listed under its soname; it has no file.
bool is_vdso_name(const std::string& name) {
  return name == "linux-vdso.so.1" || name == "linux-gate.so.1" || name == "linux-vdso64.so.1" ||
         name == "linux-vdso32.so.1";
}

// Parses one `\t…` line of the link map listing into `trace`. Returns false if unknown.
bool parse_map_line(const std::string& body, LoaderTrace& trace) {
  static const std::string kNotFound = " => not found";
  static const std::string kArrow = " => ";
  static const std::string kAddress = " (0x";
  if (body == "statically linked") {
    trace.statically_linked = true;
    return true;
  }
  if (ends_with(body, kNotFound)) {
    trace.not_found.push_back(body.substr(0, body.size() - kNotFound.size()));
    return true;
  }
  const std::size_t address = body.rfind(kAddress);
  if (address == std::string::npos || !ends_with(body, ")")) return false;
  const std::string entry = body.substr(0, address);
  const std::size_t arrow = entry.find(kArrow);
  if (arrow == std::string::npos) {
    if (is_vdso_name(entry)) {
      trace.vdso = true;
    } else {
      trace.objects.push_back({entry, entry});
    }
  } else {
    trace.objects.push_back({entry.substr(0, arrow), entry.substr(arrow + kArrow.size())});
  }
  return true;
}

// `PROG: LIB: version `V' not found (required by X)` and `PROG: LIB: no version information
// available (required by X)` (elf/dl-version.c).
bool is_version_problem(const std::string& line) {
  if (!ends_with(line, ")") || line.find(" (required by ") == std::string::npos) return false;
  return line.find("' not found (required by ") != std::string::npos ||
         line.find(": no version information available (required by ") != std::string::npos;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(path);
  while (std::getline(in, part, '/')) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

std::string join_path(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts) out += "/" + part;
  return out.empty() ? "/" : out;
}

// realpath(3) inside `root`, for an absolute `path` inside it: symlink targets are interpreted
// inside the root too, as after chroot(2).
std::optional<std::string> resolve_in_root(const std::string& root, const std::string& path) {
  constexpr int kMaxSymlinks = 40;  // the kernel's limit (ELOOP)
  std::deque<std::string> pending;
  for (auto& part : split_path(path)) pending.push_back(std::move(part));
  std::vector<std::string> done;
  int symlinks = 0;
  while (!pending.empty()) {
    std::string part = std::move(pending.front());
    pending.pop_front();
    if (part == ".") continue;
    if (part == "..") {
      if (!done.empty()) done.pop_back();
      continue;
    }
    const std::string host = root + join_path(done) + "/" + part;
    struct stat st {};
    if (::lstat(host.c_str(), &st) != 0) return std::nullopt;
    if (!S_ISLNK(st.st_mode)) {
      done.push_back(std::move(part));
      continue;
    }
    if (++symlinks > kMaxSymlinks) return std::nullopt;
    std::string target(PATH_MAX, '\0');
    const ssize_t n = ::readlink(host.c_str(), target.data(), target.size());
    if (n < 0) return std::nullopt;
    target.resize(static_cast<std::size_t>(n));
    if (starts_with(target, "/")) done.clear();
    const auto target_parts = split_path(target);
    pending.insert(pending.begin(), target_parts.begin(), target_parts.end());
  }
  return join_path(done);
}

// The objects of `program` that a trace of it lists: all but the program itself, and its
// interpreter only if some DT_NEEDED or preload resolved to it. Otherwise ld.so unlinks itself
// from the list it prints (rtld.c, `rtld_multiple_ref`), although the kernel did map it.
std::vector<const LoadedObject*> traced_objects(const LinkMap& program) {
  const bool interpreter_needed =
      program.interpreter &&
      std::any_of(program.dependencies.begin(), program.dependencies.end(),
                  [&](const Dependency& dependency) { return dependency.to == program.interpreter; });
  std::vector<const LoadedObject*> objects;
  for (std::size_t i = 0; i < program.objects.size(); ++i) {
    const LoadedObject& object = program.objects[i];
    if (object.found_by == FoundBy::Program) continue;
    if (i == program.interpreter && !interpreter_needed) continue;
    objects.push_back(&object);
  }
  return objects;
}

template <typename Visit>
void for_each_problem(const Closure& closure, Visit visit) {
  for (const auto& problem : closure.problems) visit(problem);
  for (const auto& program : closure.programs) {
    for (const auto& problem : program.problems) visit(problem);
  }
}

}  // namespace

bool kernel_executes(const std::string& program) {
  static std::mutex mutex;
  static std::map<std::string, bool> known;
  const std::lock_guard lock(mutex);
  if (const auto found = known.find(program); found != known.end()) return found->second;
  const ProcessResult result = run_process({program, "--help"}, {});
  const bool runs = result.launch_error.find(std::strerror(ENOEXEC)) == std::string::npos;
  known.emplace(program, runs);
  return runs;
}

std::string ProcessResult::describe() const {
  std::ostringstream out;
  if (!launch_error.empty()) {
    out << "could not start: " << launch_error;
  } else if (timed_out) {
    out << "timed out and was killed";
  } else if (term_signal != 0) {
    out << "killed by signal " << term_signal;
  } else {
    out << "exit status " << exit_code;
  }
  out << "; output:\n" << output;
  return out.str();
}

ProcessResult run_process(const std::vector<std::string>& argv, const Environment& env, const ProcessOptions& options) {
  ProcessResult result;
  if (argv.empty()) {
    result.launch_error = "empty argv";
    return result;
  }
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> child_argv;
  for (const auto& arg : argv) child_argv.push_back(const_cast<char*>(arg.c_str()));
  child_argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  std::vector<char*> child_env;
  for (auto& entry : env_strings) child_env.push_back(entry.data());
  child_env.push_back(nullptr);
  const bool change_root = !options.root.empty() && options.root != "/";

  Fd null_input(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  auto output = make_pipe();
  auto errors = make_pipe();
  if (null_input.get() < 0 || !output || !errors) {
    result.launch_error = errno_text("pipe or /dev/null", errno);
    return result;
  }
  const auto deadline = Clock::now() + options.timeout;
  const pid_t pid = ::fork();
  if (pid < 0) {
    result.launch_error = errno_text("fork", errno);
    return result;
  }
  if (pid == 0) {
    const int error_fd = errors->write.get();
    if (::dup2(null_input.get(), STDIN_FILENO) < 0 || ::dup2(output->write.get(), STDOUT_FILENO) < 0 ||
        ::dup2(output->write.get(), STDERR_FILENO) < 0) {
      child_fail(error_fd, "dup2");
    }
    if (change_root && (::chroot(options.root.c_str()) != 0 || ::chdir("/") != 0)) { child_fail(error_fd, "chroot"); }
    if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) child_fail(error_fd, "chdir");
    ::execve(child_argv[0], child_argv.data(), child_env.data());
    child_fail(error_fd, "execve");
  }
  output->write.reset();
  errors->write.reset();

  // The error pipe closes on a successful exec (O_CLOEXEC) or carries "STEP\0ERRNO".
  std::string launch_report;
  read_until_eof(errors->read.get(), deadline, launch_report);
  if (!launch_report.empty()) {
    const std::size_t nul = launch_report.find('\0');
    int error = 0;
    if (nul != std::string::npos && launch_report.size() >= nul + 1 + sizeof error) {
      std::memcpy(&error, launch_report.data() + nul + 1, sizeof error);
    }
    result.launch_error = errno_text(launch_report.substr(0, nul).c_str(), error) + " (" + argv[0] + ")";
  }
  if (!read_until_eof(output->read.get(), deadline, result.output)) {
    result.timed_out = true;
    ::kill(pid, SIGKILL);
  }
  reap(pid, deadline, result);
  return result;
}

bool LoaderTrace::ran() const {
  return process.exited() && unparsed.empty() && (process.exit_code == 0 || fatal_error.has_value());
}

std::string LoaderTrace::describe() const {
  std::ostringstream out;
  out << "loader trace (cwd " << cwd;
  if (root != "/") out << ", root " << root;
  out << "): " << process.describe();
  for (const auto& line : unparsed) out << "\n  unparsed line: " << line;
  return out.str();
}

std::optional<std::string> LoaderTrace::path_of(const std::string& name) const {
  for (const auto& object : objects) {
    if (object.name == name) return object.path;
  }
  return std::nullopt;
}

LoaderTrace parse_trace(const std::string& output) {
  static const std::string kLoadError = ": error while loading shared libraries: ";
  static const std::string kPreloadPrefix = "ERROR: ld.so: object '";
  static const std::string kPreloadSuffix = ": ignored.";
  LoaderTrace trace;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '\t') {
      if (!parse_map_line(line.substr(1), trace)) trace.unparsed.push_back(line);
    } else if (const auto at = line.find(kLoadError); at != std::string::npos) {
      trace.fatal_error = line.substr(at + kLoadError.size());
    } else if (is_version_problem(line)) {
      trace.version_problems.push_back(line);
    } else if (starts_with(line, kPreloadPrefix) && ends_with(line, kPreloadSuffix)) {
      const std::size_t quote = line.find('\'', kPreloadPrefix.size());
      trace.ignored_preloads.push_back(line.substr(kPreloadPrefix.size(), quote - kPreloadPrefix.size()));
    } else {
      trace.unparsed.push_back(line);
    }
  }
  return trace;
}

namespace {

LoaderTrace run_trace(const std::vector<std::string>& argv, Environment env, const std::string& cwd,
                      ProcessOptions options) {
  env["LD_TRACE_LOADED_OBJECTS"] = "1";
  options.cwd = cwd;
  ProcessResult process = run_process(argv, env, options);
  LoaderTrace trace = parse_trace(process.output);
  trace.process = std::move(process);
  trace.cwd = cwd.empty() ? "/" : cwd;
  trace.root = options.root.empty() ? "/" : options.root;
  return trace;
}

}  // namespace

LoaderTrace trace_exec(const std::string& program, const Environment& env, const std::string& cwd,
                       ProcessOptions options) {
  return run_trace({program}, env, cwd, std::move(options));
}

LoaderTrace trace_explicit(const std::string& loader, const std::string& file, const Environment& env,
                           const std::string& cwd, ProcessOptions options) {
  return run_trace({loader, file}, env, cwd, std::move(options));
}

std::optional<std::string> real_path(const std::string& path, const std::string& cwd, const std::string& root) {
  const std::string absolute = starts_with(path, "/") ? path : cwd + "/" + path;
  if (!root.empty() && root != "/") return resolve_in_root(root, absolute);
  char buffer[PATH_MAX];
  if (::realpath(absolute.c_str(), buffer) == nullptr) return std::nullopt;
  return std::string(buffer);
}

std::vector<std::string> loaded_file_order(const LoaderTrace& trace, const std::set<std::string>& excluded) {
  std::vector<std::string> files;
  for (const auto& object : trace.objects) {
    std::string file = real_path(object.path, trace.cwd, trace.root).value_or("unresolved:" + object.path);
    if (!excluded.contains(file)) files.push_back(std::move(file));
  }
  return files;
}

std::set<std::string> loaded_file_set(const LoaderTrace& trace) {
  const auto files = loaded_file_order(trace);
  return {files.begin(), files.end()};
}

std::set<std::string> resolver_file_set(const Closure& closure) {
  std::set<std::string> files;
  for (const auto& program : closure.programs) {
    for (const LoadedObject* object : traced_objects(program)) files.insert(object->real_path);
  }
  return files;
}

std::vector<std::string> resolver_file_order(const LinkMap& program, const std::set<std::string>& excluded) {
  std::vector<std::string> files;
  for (const LoadedObject* object : traced_objects(program)) {
    if (!excluded.contains(object->real_path)) files.push_back(object->real_path);
  }
  return files;
}

std::multiset<std::string> opened_names(const LoaderTrace& trace) {
  std::multiset<std::string> names;
  for (const auto& object : trace.objects) names.insert(object.path);
  return names;
}

std::multiset<std::string> resolver_opened_names(const Closure& closure) {
  std::multiset<std::string> names;
  for (const auto& program : closure.programs) {
    for (const LoadedObject* object : traced_objects(program)) names.insert(object->path);
  }
  return names;
}

std::size_t resolver_object_count(const Closure& closure) {
  std::size_t count = 0;
  for (const auto& program : closure.programs) count += traced_objects(program).size();
  return count;
}

std::set<std::string> resolver_not_found(const Closure& closure) {
  std::set<std::string> names;
  for_each_problem(closure, [&](const Problem& problem) {
    if (problem.kind == ProblemKind::NotFound) names.insert(problem.name);
  });
  return names;
}

std::vector<const Problem*> resolver_fatal_problems(const Closure& closure) {
  std::vector<const Problem*> fatal;
  for_each_problem(closure, [&](const Problem& problem) {
    if (problem.kind == ProblemKind::Fatal) fatal.push_back(&problem);
  });
  return fatal;
}

namespace {

const char* problem_kind_name(ProblemKind kind) {
  switch (kind) {
    case ProblemKind::NotFound: return "not found";
    case ProblemKind::Fatal: return "fatal";
    case ProblemKind::Skipped: return "skipped";
    case ProblemKind::Unreadable: return "unreadable";
  }
  return "?";
}

void describe_problem(std::ostringstream& out, const Problem& problem) {
  out << "  problem (" << problem_kind_name(problem.kind) << ") " << problem.name << ": " << problem.message << "\n";
}

}  // namespace

std::string describe(const Closure& closure) {
  std::ostringstream out;
  out << "closure of " << closure.file << "\n";
  for (const auto& problem : closure.problems) describe_problem(out, problem);
  for (std::size_t i = 0; i < closure.programs.size(); ++i) {
    const LinkMap& program = closure.programs[i];
    out << "program " << i << (program.static_program ? " (static)" : "") << ":\n";
    for (std::size_t j = 0; j < program.objects.size(); ++j) {
      const LoadedObject& object = program.objects[j];
      out << "  [" << j << "] " << object.path << " (" << to_string(object.found_by) << ") -> " << object.real_path
          << "\n";
    }
    for (const auto& problem : program.problems) describe_problem(out, problem);
  }
  return out.str();
}

std::map<std::string, std::string> loader_diagnostics(const std::string& loader) {
  std::map<std::string, std::string> values;
  const ProcessResult process = run_process({loader, "--list-diagnostics"}, {});
  if (!process.exited() || process.exit_code != 0) return values;
  std::istringstream in(process.output);
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t equals = line.find('=');
    if (equals == std::string::npos) continue;
    std::string value = line.substr(equals + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') { value = value.substr(1, value.size() - 2); }
    values.emplace(line.substr(0, equals), std::move(value));
  }
  return values;
}

Resolver open_resolver(const ResolverOptions& options) {
  auto resolver = Resolver::open(options);
  if (!resolver) throw std::runtime_error(resolver.error().message);
  return std::move(*resolver);
}

}  // namespace jailbuild::testing

// Roots built by `jailbuild add`, judged from inside by the system's own loader and by real
// programs run there.
//
// EveryProgramLoadsInARootOfItsOwn: every dynamically linked program (a regular ELF file with a
// PT_INTERP) in /usr/bin and /usr/sbin gets a root holding just that program (`jailbuild add
// PROGRAM --root ROOT --state-dir STATE`, both in a temporary directory of their own). Inside it,
// the program's own PT_INTERP lists what the program loads (`chroot ROOT PT_INTERP PROGRAM` in
// trace mode, the same as `--list`; tracing `chroot` from outside would trace chroot(8) itself).
// Nothing may be missing, the files loaded (as real paths inside the root) and the names they are
// opened as must be the host's, and every directory, symlink and file of the root must mirror the
// host path of the same name (same type, same link target, same bytes and permission bits, with
// setuid/setgid removed), except the root's generated /etc/ld.so.cache and /etc/ld.so.conf.
// Programs that already miss a library on the host (jailbuild says so and so does the host's
// loader) are counted and listed, not checked.
//
// The host is asked as in system_closure_test: an exec with LD_TRACE_LOADED_OBJECTS=1, or the
// explicit `LD_TRACE_LOADED_OBJECTS=1 PT_INTERP PROGRAM` (what ldd does) for setuid/setgid
// programs, which the loader traces only in that form, and for files without an execute bit.
//
// RealPrograms: bash, coreutils, python3 with its standard library, perl, git, sqlite3, gzip and
// xz, each run inside a root built for it, with their outputs checked.
//
// All of this needs chroot(2), hence root.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "elf/elf.hpp"
#include "support/loader_oracle.hpp"
#include "support/parallel.hpp"

namespace jailbuild {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using testing::LoaderTrace;
using testing::ProcessResult;

const std::vector<std::string> kProgramDirectories = {"/usr/bin", "/usr/sbin"};
// Debian 12 with the build and test dependencies has about 680 such programs; far fewer means the
// survey is broken and the test would pass for nothing.
constexpr std::size_t kMinimumChecked = 300;
constexpr unsigned kParallelRoots = 2;
constexpr std::chrono::seconds kProcessTimeout{60};
const testing::Environment kPlainEnv{{"PATH", "/usr/bin:/bin"}};
// PT_INTERP values of glibc loaders: an exec trace stops after listing instead of running the program.
const std::set<std::string> kGlibcLoaders = {"/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux.so.2",
                                             "/libx32/ld-linux-x32.so.2"};
// Files jailbuild writes into a root instead of copying them from the host: the loader cache, and
// the runtime rules' users, hosts and nss files (tests/rules checks their contents).
const std::set<std::string> kGeneratedFiles = {"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/passwd",
                                               "/etc/group",       "/etc/hosts",      "/etc/host.conf",
                                               "/etc/nsswitch.conf"};

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// A temporary directory, removed with everything in it when destroyed.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    std::string pattern = "/tmp/" + prefix + "-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

ProcessResult jailbuild_add(const std::vector<std::string>& paths, const std::string& root, const std::string& state,
                            const std::vector<std::string>& options = {}) {
  std::vector<std::string> argv{JAILBUILD_BINARY, "add"};
  argv.insert(argv.end(), paths.begin(), paths.end());
  argv.insert(argv.end(), {"--root", root, "--state-dir", state});
  argv.insert(argv.end(), options.begin(), options.end());
  testing::ProcessOptions options_with_timeout;
  options_with_timeout.timeout = kProcessTimeout;
  return testing::run_process(argv, kPlainEnv, options_with_timeout);
}

std::string lines_of(const std::vector<std::string>& items, const std::string& indent = "    ") {
  std::string out;
  for (const std::string& item : items) out += indent + item + "\n";
  return out;
}

std::vector<std::string> minus(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::vector<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

// ---- which programs -------------------------------------------------------------------------

struct Program {
  std::string path;
  std::string interpreter;  // its PT_INTERP, also the loader used inside the root
  bool explicit_host_trace = false;
};

struct Survey {
  std::vector<Program> programs;
  std::size_t elf_files = 0;
  std::size_t not_dynamic = 0;                              // no PT_INTERP: static programs, static-pie, libraries
  std::map<std::string, std::vector<std::string>> skipped;  // reason -> files
};

bool has_elf_magic(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, sizeof magic) && std::memcmp(magic,
                                                     "\x7f"
                                                     "ELF",
                                                     4) == 0;
}

void survey_file(const std::string& file, Survey& survey) {
  ++survey.elf_files;
  const auto object = elf::read_object(file);
  if (!object) {
    survey.skipped["jailbuild's ELF reader rejects it"].push_back(file + ": " + object.error().message);
    return;
  }
  if (!object->interpreter) {
    ++survey.not_dynamic;
    return;
  }
  if (!kGlibcLoaders.contains(*object->interpreter)) {
    survey.skipped["PT_INTERP is no glibc loader (a trace would run it)"].push_back(file);
    return;
  }
  if (!fs::exists(*object->interpreter)) {
    survey.skipped["its PT_INTERP is not installed"].push_back(file);
    return;
  }
  struct stat status {};
  ::stat(file.c_str(), &status);
  const bool secure = (status.st_mode & (S_ISUID | S_ISGID)) != 0;
  const bool executable = (status.st_mode & 0111) != 0;
  survey.programs.push_back({file, *object->interpreter, secure || !executable});
}

Survey survey_programs() {
  Survey survey;
  for (const std::string& directory : kProgramDirectories) {
    for (const auto& entry : fs::directory_iterator(directory)) {
      if (entry.is_symlink() || !entry.is_regular_file() || !has_elf_magic(entry.path())) continue;
      survey_file(entry.path().string(), survey);
    }
  }
  std::sort(survey.programs.begin(), survey.programs.end(),
            [](const Program& a, const Program& b) { return a.path < b.path; });
  return survey;
}

// ---- one program, one root ------------------------------------------------------------------

LoaderTrace host_trace(const Program& program) {
  testing::ProcessOptions options;
  options.timeout = kProcessTimeout;
  if (program.explicit_host_trace) return testing::trace_explicit(program.interpreter, program.path, {}, "/", options);
  return testing::trace_exec(program.path, {}, "/", options);
}

// The loader inside the root, run as the root's own program: `chroot ROOT PT_INTERP PROGRAM` with
// LD_TRACE_LOADED_OBJECTS=1 (the loader's --list sets exactly this mode). The trace's root is
// ROOT, so its real paths are resolved inside the root.
LoaderTrace root_trace(const Program& program, const std::string& root) {
  testing::ProcessOptions options;
  options.timeout = kProcessTimeout;
  options.root = root;
  return testing::trace_explicit(program.interpreter, program.path, {}, "/", options);
}

bool is_missing_something(const LoaderTrace& trace) { return !trace.not_found.empty() || trace.fatal_error; }

// Why ROOT/path is not what the host has at path, or nullopt if it is.
std::optional<std::string> mirror_difference(const std::string& root, const std::string& path) {
  struct stat copy {};
  struct stat host {};
  if (::lstat((root + path).c_str(), &copy) != 0) return "cannot lstat the copy: " + std::string(std::strerror(errno));
  if (fs::path(path).filename().string().starts_with(".jailbuild-tmp.")) return "a temporary file was left";
  if (kGeneratedFiles.contains(path)) {
    if (S_ISREG(copy.st_mode)) return std::nullopt;
    return "a generated file that is not a regular file";
  }
  if (::lstat(path.c_str(), &host) != 0) return "no such path on the host";
  if ((copy.st_mode & S_IFMT) != (host.st_mode & S_IFMT)) return "another file type than on the host";
  if (S_ISLNK(copy.st_mode)) {
    std::error_code ignored;
    const auto copy_target = fs::read_symlink(root + path, ignored);
    const auto host_target = fs::read_symlink(path, ignored);
    if (copy_target != host_target)
      return "symlink to " + copy_target.string() + ", on the host to " + host_target.string();
    return std::nullopt;
  }
  const mode_t expected = host.st_mode & 07777 & ~static_cast<mode_t>(S_ISUID | S_ISGID);
  if ((copy.st_mode & 07777) != expected) {
    std::ostringstream out;
    out << "mode " << std::oct << (copy.st_mode & 07777) << ", expected " << expected;
    return out.str();
  }
  if (S_ISDIR(copy.st_mode)) return std::nullopt;
  if (!S_ISREG(copy.st_mode)) return "neither a directory, a symlink nor a regular file";
  const auto copied = elf::MappedFile::open(root + path);
  const auto original = elf::MappedFile::open(path);
  if (!copied || !original) return "cannot read the copy or the original";
  const auto a = copied->bytes();
  const auto b = original->bytes();
  if (a.size() != b.size() || (!a.empty() && std::memcmp(a.data(), b.data(), a.size()) != 0))
    return "contents differ from the host file";
  return std::nullopt;
}

// Every entry of the root that does not mirror the host, as "PATH: why".
std::vector<std::string> mirror_differences(const std::string& root) {
  std::vector<std::string> differences;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const std::string path = "/" + entry.path().lexically_relative(root).string();
    if (auto why = mirror_difference(root, path)) differences.push_back(path + ": " + *why);
  }
  return differences;
}

enum class Verdict { Checked, IncompleteOnHost, Failed };

struct Outcome {
  Verdict verdict = Verdict::Checked;
  std::vector<std::string> problems;  // for Failed: what is wrong; for IncompleteOnHost: what is missing
};

// What the in-root trace shows wrong compared with the host's.
std::vector<std::string> compare_traces(const LoaderTrace& host, const LoaderTrace& root) {
  if (!root.ran()) return {"the loader inside the root did not run: " + root.describe()};
  std::vector<std::string> problems;
  for (const std::string& name : root.not_found) problems.push_back("not found inside the root: " + name);
  if (root.fatal_error) problems.push_back("the load fails inside the root: " + *root.fatal_error);
  if (!problems.empty()) return problems;
  const auto host_files = testing::loaded_file_set(host);
  const auto root_files = testing::loaded_file_set(root);
  for (const std::string& file : minus(host_files, root_files)) problems.push_back("loaded on the host only: " + file);
  for (const std::string& file : minus(root_files, host_files)) problems.push_back("loaded in the root only: " + file);
  const auto host_names = testing::opened_names(host);
  const auto root_names = testing::opened_names(root);
  if (host_names != root_names) {
    problems.push_back("the loader opens other names inside the root:\n" + root.process.output +
                       "  than on the host:\n" + host.process.output);
  }
  if (host.version_problems != root.version_problems)
    problems.push_back("other symbol-version messages inside the root:\n" + lines_of(root.version_problems));
  return problems;
}

Outcome check_program(const Program& program, const TempDir& scratch, std::size_t index) {
  const std::string root = scratch / ("root-" + std::to_string(index));
  const std::string state = scratch / ("state-" + std::to_string(index));
  // Without the tz rule: most programs import strftime or localtime and would each get the whole
  // zoneinfo tree (1,300 files), which multiplied by every program is most of this test's time and
  // says nothing of the loader; tests/rules checks what the rule adds. Every other rule stays on,
  // so what they add must mirror the host like the rest.
  const ProcessResult add = jailbuild_add({program.path}, root, state, {"--without", "tz"});
  const LoaderTrace host = host_trace(program);
  Outcome outcome;
  if (!host.ran()) {
    outcome.problems.push_back("the host trace is unusable: " + host.describe());
  } else if (add.exit_code == 1 && is_missing_something(host)) {
    outcome.verdict = Verdict::IncompleteOnHost;  // in jailbuild's words, which the host's loader confirms
    std::istringstream said(add.output);
    for (std::string line; std::getline(said, line);)
      if (line.find("not found") != std::string::npos || line.find("error") != std::string::npos)
        outcome.problems.push_back(line);
  } else if (add.exit_code != 0 || !add.exited()) {
    outcome.problems.push_back("jailbuild add failed although the host loader finds everything: " + add.describe());
  } else if (is_missing_something(host)) {
    outcome.problems.push_back("jailbuild add succeeded although the host loader misses something: " + host.describe());
  } else {
    outcome.problems = compare_traces(host, root_trace(program, root));
    for (std::string& difference : mirror_differences(root)) outcome.problems.push_back(std::move(difference));
  }
  if (outcome.verdict != Verdict::IncompleteOnHost && !outcome.problems.empty()) outcome.verdict = Verdict::Failed;
  std::error_code ignored;
  fs::remove_all(root, ignored);
  fs::remove_all(state, ignored);
  return outcome;
}

void print_list(const std::string& title, const std::vector<Program>& programs, const std::vector<Outcome>& outcomes,
                Verdict verdict) {
  for (std::size_t i = 0; i < programs.size(); ++i) {
    if (outcomes[i].verdict != verdict) continue;
    std::cout << title << " " << programs[i].path << "\n" << lines_of(outcomes[i].problems, "  ");
  }
}

TEST(AddRoots, EveryProgramLoadsInARootOfItsOwn) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chroot into the roots";
  const auto start = Clock::now();
  const Survey survey = survey_programs();
  const TempDir scratch("jailbuild-roots");
  std::vector<Outcome> outcomes(survey.programs.size());
  testing::run_in_parallel(survey.programs.size(), kParallelRoots,
                           [&](std::size_t i) { outcomes[i] = check_program(survey.programs[i], scratch, i); });

  std::map<Verdict, std::size_t> counts;
  for (const Outcome& outcome : outcomes) ++counts[outcome.verdict];
  print_list("INCOMPLETE ON THE HOST (not checked)", survey.programs, outcomes, Verdict::IncompleteOnHost);
  print_list("FAILED", survey.programs, outcomes, Verdict::Failed);
  std::cout << "SUMMARY\n  ELF files in /usr/bin and /usr/sbin: " << survey.elf_files
            << "\n  not dynamically linked (no PT_INTERP): " << survey.not_dynamic << "\n";
  for (const auto& [reason, files] : survey.skipped)
    std::cout << "  skipped, " << reason << ": " << files.size() << "\n" << lines_of(files);
  std::cout << "  programs missing libraries on the host: " << counts[Verdict::IncompleteOnHost]
            << "\n  programs checked in a root of their own: " << counts[Verdict::Checked] + counts[Verdict::Failed]
            << "\n  failed: " << counts[Verdict::Failed] << "\n  time: " << seconds_since(start) << " s ("
            << kParallelRoots << " roots at a time)\n";

  EXPECT_GE(counts[Verdict::Checked] + counts[Verdict::Failed], kMinimumChecked)
      << "too few programs were checked: the survey is broken";
  EXPECT_EQ(counts[Verdict::Failed], 0u) << "programs whose root is wrong are listed above";
}

// ---- real programs in roots -----------------------------------------------------------------

class RealPrograms : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to chroot into the roots";
    scratch_.emplace("jailbuild-real");
    root_ = *scratch_ / "root";
  }

  // The first of `programs` that is not installed, if any.
  static std::optional<std::string> absent(const std::vector<std::string>& programs) {
    for (const std::string& program : programs)
      if (!fs::exists(program)) return program;
    return std::nullopt;
  }

  // `jailbuild add PATHS... OPTIONS...`, which must succeed; then a /tmp to work in.
  void build(const std::vector<std::string>& paths, const std::vector<std::string>& options = {}) {
    const ProcessResult add = jailbuild_add(paths, root_, *scratch_ / "state", options);
    ASSERT_EQ(add.exit_code, 0) << add.describe();
    fs::create_directories(root_ + "/tmp");
    fs::permissions(root_ + "/tmp", fs::perms::all | fs::perms::sticky_bit);
  }

  // Runs argv inside the root, in /tmp, with nothing in its environment but PATH.
  ProcessResult run(const std::vector<std::string>& argv) const {
    testing::ProcessOptions options;
    options.root = root_;
    options.cwd = "/tmp";
    options.timeout = kProcessTimeout;
    return testing::run_process(argv, kPlainEnv, options);
  }

  // Runs argv inside the root; it must exit with 0. Returns its output.
  std::string run_ok(const std::vector<std::string>& argv) const {
    const ProcessResult result = run(argv);
    EXPECT_TRUE(result.exited() && result.exit_code == 0) << argv.front() << ": " << result.describe();
    return result.output;
  }

  void write_in_root(const std::string& path, const std::string& text) const {
    std::ofstream(root_ + path, std::ios::binary) << text;
  }
  std::string read_in_root(const std::string& path) const {
    std::ifstream in(root_ + path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  std::optional<TempDir> scratch_;
  std::string root_;
};

// A few hundred kilobytes that compress well but not trivially.
std::string sample_text() {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i * 7919 % 10007) + " of the sample\n";
  return text;
}

TEST_F(RealPrograms, BashRunsScripts) {
  build({"/usr/bin/bash"});
  const std::string output = run_ok({"/usr/bin/bash", "-c",
                                     "x=$((6 * 7)); for w in a b c; do printf '%s-' \"$w\"; done; echo \"$x\"; "
                                     "[[ abc == a* ]] && echo matched; declare -A m=([k]=v); echo \"${m[k]}\""});
  EXPECT_EQ(output, "a-b-c-42\nmatched\nv\n");
}

TEST_F(RealPrograms, CoreutilsWork) {
  build({"/usr/bin/ls", "/usr/bin/cat", "/usr/bin/sort", "/usr/bin/wc", "/usr/bin/head", "/usr/bin/sha256sum",
         "/usr/bin/cp", "/usr/bin/mkdir", "/usr/bin/stat", "/usr/bin/date", "/usr/bin/seq"});
  write_in_root("/tmp/words", "pear\napple\nfig\n");
  EXPECT_EQ(run_ok({"/usr/bin/sort", "/tmp/words"}), "apple\nfig\npear\n");
  EXPECT_EQ(run_ok({"/usr/bin/wc", "-l", "/tmp/words"}), "3 /tmp/words\n");
  EXPECT_EQ(run_ok({"/usr/bin/head", "-n1", "/tmp/words"}), "pear\n");
  EXPECT_EQ(run_ok({"/usr/bin/seq", "3"}), "1\n2\n3\n");
  EXPECT_EQ(run_ok({"/usr/bin/sha256sum", "/tmp/words"}),
            "d7b8370b133ffebfa89e67453a41c3c1bf366d9a0f2cf9263caafc41359dc9a6  /tmp/words\n");
  run_ok({"/usr/bin/mkdir", "-p", "/tmp/a/b"});
  run_ok({"/usr/bin/cp", "/tmp/words", "/tmp/a/b/copy"});
  EXPECT_EQ(read_in_root("/tmp/a/b/copy"), "pear\napple\nfig\n");
  EXPECT_EQ(run_ok({"/usr/bin/ls", "/tmp/a/b"}), "copy\n");
  EXPECT_EQ(run_ok({"/usr/bin/stat", "-c", "%s %F", "/tmp/words"}), "15 regular file\n");
  EXPECT_EQ(run_ok({"/usr/bin/cat", "/tmp/words", "/tmp/a/b/copy"}).size(), 30u);
  EXPECT_EQ(run_ok({"/usr/bin/date", "-u", "-d", "@0", "+%Y-%m-%d"}), "1970-01-01\n");
}

TEST_F(RealPrograms, Python3WithItsStandardLibrary) {
  if (auto missing = absent({"/usr/bin/python3", "/usr/lib/python3.11/os.py"}))
    GTEST_SKIP() << *missing << " is not installed (Debian package python3)";
  build({"/usr/bin/python3", "/usr/lib/python3.11"});
  const std::string output = run_ok(
      {"/usr/bin/python3", "-c",
       "import json, ssl, sqlite3, hashlib, zlib, sys\n"
       "db = sqlite3.connect('/tmp/db.sqlite')\n"
       "db.execute('create table t (x)')\n"
       "db.executemany('insert into t values (?)', [(1,), (2,), (3,)])\n"
       "total = db.execute('select sum(x) from t').fetchone()[0]\n"
       "context = ssl.create_default_context()\n"
       "print(json.dumps({'sum': total, 'tls': context.protocol == ssl.PROTOCOL_TLS_CLIENT,\n"
       "                  'sha': hashlib.sha256(b'x').hexdigest()[:8],\n"
       "                  'zlib': len(zlib.compress(b'a' * 1000)) < 100, 'prefix': sys.prefix}, sort_keys=True))\n"});
  EXPECT_EQ(output, "{\"prefix\": \"/usr\", \"sha\": \"2d711642\", \"sum\": 6, \"tls\": true, \"zlib\": true}\n");
}

TEST_F(RealPrograms, PerlWithItsBaseModules) {
  if (auto missing = absent({"/usr/bin/perl", "/usr/lib/x86_64-linux-gnu/perl-base/strict.pm"}))
    GTEST_SKIP() << *missing << " is not installed (Debian package perl-base)";
  // perl -e reads its script from /dev/null (perl.c open_script), which no ELF file names.
  build({"/usr/bin/perl", "/usr/lib/x86_64-linux-gnu/perl-base", "/dev/null"}, {"--allow-devices"});
  EXPECT_EQ(run_ok({"/usr/bin/perl", "-e", "print 6 * 7, qq{\\n}"}), "42\n");
  EXPECT_EQ(run_ok({"/usr/bin/perl", "-e",
                    "use strict; use warnings; use List::Util qw(sum); use POSIX qw(floor); "
                    "my %h = (a => 1); print sum(1 .. 10), ' ', floor(2.5), ' ', $h{a}, qq{\\n}"}),
            "55 2 1\n");
}

TEST_F(RealPrograms, GitInitCreatesARepositoryFromItsTemplates) {
  if (auto missing = absent({"/usr/bin/git", "/usr/share/git-core/templates"}))
    GTEST_SKIP() << *missing << " is not installed (Debian package git)";
  // git opens /dev/null at every start (common-main.c sanitize_stdfds) and dies without it.
  build({"/usr/bin/git", "/usr/share/git-core/templates", "/dev/null"}, {"--allow-devices"});
  const std::string output = run_ok({"/usr/bin/git", "init", "-q", "-b", "main", "/tmp/repo"});
  EXPECT_EQ(output, "");
  EXPECT_EQ(read_in_root("/tmp/repo/.git/HEAD"), "ref: refs/heads/main\n");
  EXPECT_TRUE(fs::exists(root_ + "/tmp/repo/.git/hooks/pre-commit.sample")) << "the templates were not used";
  write_in_root("/tmp/repo/file", "content\n");
  EXPECT_EQ(run_ok({"/usr/bin/git", "-C", "/tmp/repo", "hash-object", "file"}),
            "d95f3ad14dee633a758d2e331151e950dd13e4ed\n");
}

TEST_F(RealPrograms, Sqlite3RunsSql) {
  if (auto missing = absent({"/usr/bin/sqlite3"}))
    GTEST_SKIP() << *missing << " is not installed (Debian package sqlite3)";
  build({"/usr/bin/sqlite3"});
  const ProcessResult result = run({"/usr/bin/sqlite3", "-batch", "/tmp/db.sqlite",
                                    "create table t (x integer); insert into t values (1), (2), (39); "
                                    "select sum(x) from t; select count(*) from t where x > 1;"});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  // sqlite3 warns on stderr that it has no home directory to read ~/.sqliterc from.
  EXPECT_NE(result.output.find("42\n2\n"), std::string::npos) << result.output;
  EXPECT_EQ(read_in_root("/tmp/db.sqlite").substr(0, 15), "SQLite format 3");
}

TEST_F(RealPrograms, GzipAndXzRoundTrips) {
  if (auto missing = absent({"/usr/bin/gzip", "/usr/bin/xz"})) GTEST_SKIP() << *missing << " is not installed";
  build({"/usr/bin/gzip", "/usr/bin/xz"});
  const std::string text = sample_text();
  write_in_root("/tmp/sample", text);
  for (const auto& [program, suffix] : {std::pair{"/usr/bin/gzip", ".gz"}, std::pair{"/usr/bin/xz", ".xz"}}) {
    SCOPED_TRACE(program);
    run_ok({program, "-k", "-9", "/tmp/sample"});
    const std::string compressed = read_in_root(std::string("/tmp/sample") + suffix);
    EXPECT_LT(compressed.size(), text.size() / 4);
    EXPECT_EQ(run_ok({program, "-d", "-c", std::string("/tmp/sample") + suffix}), text);
    fs::remove(root_ + "/tmp/sample" + suffix);
  }
}

}  // namespace
}  // namespace jailbuild

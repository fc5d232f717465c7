// The resolver against the real loader on every dynamically linked ELF file of this machine.
//
// For each regular file (not a symlink) under /usr/bin, /usr/sbin and /usr/lib that has PT_DYNAMIC
// and DT_NEEDED or PT_INTERP, the files `jailbuild deps --list` prints for it (closure_files, one
// Resolver shared by all files, default options) must be the files the glibc loader loads in trace
// mode, as real paths, the file itself left out and its PT_INTERP counted on both sides (a trace
// prints ld.so only when something references it). The names nothing is found for must be the
// same, and the loader must fail to load exactly the files the resolver reports a fatal (or
// unreadable) problem for. Files jailbuild's ELF reader rejects are counted and listed, not
// compared (what they are is unknown, so they cannot be traced safely).
//
// How the loader is asked (docs/loader-rules.md#candidate-verdicts, #trace-output, #secure-mode):
// * a program with a glibc PT_INTERP: a real exec with LD_TRACE_LOADED_OBJECTS=1, so its $ORIGIN
//   is the kernel's; setuid/setgid programs (secure mode: the exec trace exits 5) and files
//   without an execute bit go through `LD_TRACE_LOADED_OBJECTS=1 PT_INTERP FILE` instead;
// * a library (no PT_INTERP): `LD_TRACE_LOADED_OBJECTS=1 LOADER FILE` with the loader of its ELF
//   class. A file without PT_INTERP is never exec'd: nothing would stop it from running.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "elf/elf.hpp"
#include "jailbuild/report.hpp"
#include "jailbuild/resolver.hpp"
#include "support/loader_oracle.hpp"
#include "support/parallel.hpp"

namespace jailbuild {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using testing::LoaderTrace;
using testing::real_path;

const std::vector<std::string> kTrees = {"/usr/bin", "/usr/sbin", "/usr/lib"};
// The development machine has about 2,150 such files; far fewer means the survey is broken.
constexpr std::size_t kMinimumCompared = 500;
constexpr std::size_t kMinimumComparedPerMode = 50;
constexpr unsigned kParallelTraces = 2;
constexpr std::chrono::seconds kTraceTimeout{30};

const std::string kLoader64 = "/lib64/ld-linux-x86-64.so.2";
const std::string kLoader32 = "/lib/ld-linux.so.2";
// PT_INTERP values of glibc loaders: they stop after the trace instead of running the program.
const std::set<std::string> kGlibcLoaders = {kLoader64, kLoader32, "/libx32/ld-linux-x32.so.2"};

enum class TraceMode { Exec, Explicit };

// A file to compare, and how the loader is asked about it.
struct Subject {
  std::string file;                        // as found under one of kTrees
  std::string real;                        // its real path, left out of both answers
  std::optional<std::string> interpreter;  // PT_INTERP
  TraceMode mode = TraceMode::Exec;
  std::string loader;  // for TraceMode::Explicit
};

// Why a dynamically linked file is not compared.
struct Skip {
  std::string reason;
};

// The files to compare, and the ELF files left out.
struct Survey {
  std::vector<Subject> subjects;
  std::size_t elf_files = 0;
  std::size_t not_dynamic = 0;                              // static, relocatable, no DT_NEEDED
  std::map<std::string, std::vector<std::string>> skipped;  // reason -> files
};

// One side's answer for one file, in the terms both sides can give.
struct Answer {
  std::set<std::string> files;       // real paths, the file itself left out
  std::set<std::string> not_found;   // names nothing was found for
  std::optional<std::string> error;  // why the whole load fails, if it does
};

struct Difference {
  std::string file;
  std::vector<std::string> only_in_loader;
  std::vector<std::string> only_in_jailbuild;
  std::string note;  // the error messages, or why the loader's answer is unusable
};

// ---- choosing the files ----------------------------------------------------------------------

bool has_elf_magic(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, sizeof magic) && std::string_view(magic, sizeof magic) ==
                                             "\x7f"
                                             "ELF";
}

bool is_dynamically_linked(const elf::ElfObject& object) {
  return object.has_dynamic && (!object.needed.empty() || object.interpreter);
}

// The loader that traces a file without PT_INTERP: the one of its ELF class and machine.
std::optional<std::string> loader_for(const elf::ElfHeader& header) {
  if (header.elf_class == elf::kClass64 && header.machine == elf::kMachineX86_64) return kLoader64;
  if (header.elf_class == elf::kClass32 && header.machine == elf::kMachineX86 && fs::exists(kLoader32) &&
      testing::kernel_executes(kLoader32))
    return kLoader32;
  return std::nullopt;
}

bool has_any(fs::perms perms, fs::perms bits) { return (perms & bits) != fs::perms::none; }

std::variant<Subject, Skip> plan_trace(const std::string& file, const elf::ElfObject& object) {
  Subject subject;
  subject.file = file;
  subject.real = real_path(file).value_or(file);
  subject.interpreter = object.interpreter;
  if (!object.interpreter) {
    const auto loader = loader_for(object.header);
    if (!loader) return Skip{"library of an ELF class/machine with no loader installed or runnable on this kernel"};
    subject.mode = TraceMode::Explicit;
    subject.loader = *loader;
    return subject;
  }
  if (!kGlibcLoaders.contains(*object.interpreter))
    return Skip{"PT_INTERP is no glibc loader: an exec trace would run it"};
  if (!fs::exists(*object.interpreter)) return Skip{"its PT_INTERP is not installed"};
  if (!testing::kernel_executes(*object.interpreter))
    return Skip{"its PT_INTERP cannot run on this kernel (no IA-32 emulation)"};
  const fs::perms perms = fs::status(file).permissions();
  const bool secure = has_any(perms, fs::perms::set_uid | fs::perms::set_gid);
  const bool executable = has_any(perms, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec);
  if (secure || !executable) {
    subject.mode = TraceMode::Explicit;
    subject.loader = *object.interpreter;
  }
  return subject;
}

void survey_file(const std::string& file, Survey& survey) {
  ++survey.elf_files;
  const auto object = elf::read_object(file);
  if (!object) {
    survey.skipped["jailbuild's ELF reader rejects it"].push_back(object.error().message);
    return;
  }
  if (!is_dynamically_linked(*object)) {
    ++survey.not_dynamic;
    return;
  }
  auto plan = plan_trace(file, *object);
  if (auto* skip = std::get_if<Skip>(&plan)) {
    survey.skipped[skip->reason].push_back(file);
  } else {
    survey.subjects.push_back(std::move(std::get<Subject>(plan)));
  }
}

Survey survey_trees() {
  Survey survey;
  for (const std::string& tree : kTrees) {
    for (const auto& entry : fs::recursive_directory_iterator(tree, fs::directory_options::skip_permission_denied)) {
      if (entry.is_symlink() || !entry.is_regular_file() || !has_elf_magic(entry.path())) continue;
      survey_file(entry.path().string(), survey);
    }
  }
  return survey;
}

// ---- the two answers -------------------------------------------------------------------------

std::string real_or_marked(const std::string& path, const std::string& cwd) {
  return real_path(path, cwd).value_or("unresolved:" + path);
}

// Why the loader would refuse the whole load, if the resolver says it would.
std::optional<std::string> load_error(const Closure& closure) {
  for (const Problem& problem : closure.problems)
    if (problem.kind == ProblemKind::Unreadable) return problem.message;
  const auto fatal = testing::resolver_fatal_problems(closure);
  if (!fatal.empty()) return fatal.front()->message;
  return std::nullopt;
}

Answer jailbuild_answer(Resolver& resolver, const Subject& subject, const std::string& cwd) {
  const std::vector<Closure> closures{resolver.resolve(subject.file)};
  Answer answer;
  for (const std::string& path : closure_files(closures, cwd)) answer.files.insert(real_or_marked(path, cwd));
  answer.files.erase(subject.real);
  answer.not_found = testing::resolver_not_found(closures.front());
  answer.error = load_error(closures.front());
  return answer;
}

LoaderTrace trace(const Subject& subject, const std::string& cwd) {
  testing::ProcessOptions options;
  options.timeout = kTraceTimeout;
  if (subject.mode == TraceMode::Exec) return testing::trace_exec(subject.file, {}, cwd, options);
  return testing::trace_explicit(subject.loader, subject.file, {}, cwd, options);
}

Answer loader_answer(const Subject& subject, const LoaderTrace& trace, const std::string& cwd) {
  Answer answer;
  answer.files = testing::loaded_file_set(trace);
  if (subject.interpreter) answer.files.insert(real_or_marked(*subject.interpreter, cwd));
  answer.files.erase(subject.real);
  answer.not_found = {trace.not_found.begin(), trace.not_found.end()};
  answer.error = trace.fatal_error;
  return answer;
}

std::vector<LoaderTrace> trace_all(const std::vector<Subject>& subjects, const std::string& cwd) {
  std::vector<LoaderTrace> traces(subjects.size());
  testing::run_in_parallel(subjects.size(), kParallelTraces,
                           [&](std::size_t i) { traces[i] = trace(subjects[i], cwd); });
  return traces;
}

std::vector<Answer> resolve_all(const std::vector<Subject>& subjects, const std::string& cwd) {
  Resolver resolver = testing::open_resolver(ResolverOptions{});
  std::vector<Answer> answers;
  for (const Subject& subject : subjects) answers.push_back(jailbuild_answer(resolver, subject, cwd));
  return answers;
}

// ---- comparing -------------------------------------------------------------------------------

// What is compared: a failed load is one fact, whatever else a side says; otherwise the files
// and the names not found.
std::set<std::string> facts(const Answer& answer) {
  if (answer.error) return {"<the load fails>"};
  std::set<std::string> out = answer.files;
  for (const std::string& name : answer.not_found) out.insert("not found: " + name);
  return out;
}

std::vector<std::string> minus(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::vector<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::string error_note(const Answer& loader, const Answer& jailbuild) {
  std::string note;
  if (loader.error) note += "loader: " + *loader.error + "\n";
  if (jailbuild.error) note += "jailbuild: " + *jailbuild.error + "\n";
  return note;
}

std::optional<Difference> compare(const Subject& subject, const LoaderTrace& trace, const Answer& jailbuild,
                                  const std::string& cwd) {
  if (!trace.ran()) return Difference{subject.file, {}, {}, "the loader's trace is unusable: " + trace.describe()};
  const Answer loader = loader_answer(subject, trace, cwd);
  const auto loader_facts = facts(loader);
  const auto jailbuild_facts = facts(jailbuild);
  if (loader_facts == jailbuild_facts) return std::nullopt;
  return Difference{subject.file, minus(loader_facts, jailbuild_facts), minus(jailbuild_facts, loader_facts),
                    error_note(loader, jailbuild)};
}

// The outcome of all comparisons.
struct Tally {
  std::vector<Difference> differences;
  std::size_t files_agreed = 0;        // loaded files, summed over the files both sides agree on
  std::size_t agreed_not_found = 0;    // files both sides find something missing for
  std::size_t agreed_load_errors = 0;  // files both sides say the loader refuses
};

std::ostream& operator<<(std::ostream& out, const Difference& difference) {
  out << "DIFFERENCE " << difference.file << "\n";
  for (const auto& item : difference.only_in_loader) out << "  only in loader:    " << item << "\n";
  for (const auto& item : difference.only_in_jailbuild) out << "  only in jailbuild: " << item << "\n";
  std::istringstream note(difference.note);
  for (std::string line; std::getline(note, line);) out << "  " << line << "\n";
  return out;
}

// Compares every subject, printing each difference as it is found.
Tally compare_all(const std::vector<Subject>& subjects, const std::vector<LoaderTrace>& traces,
                  const std::vector<Answer>& answers, const std::string& cwd) {
  Tally tally;
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    if (auto difference = compare(subjects[i], traces[i], answers[i], cwd)) {
      std::cout << *difference;
      tally.differences.push_back(std::move(*difference));
      continue;
    }
    tally.files_agreed += answers[i].files.size();
    tally.agreed_not_found += answers[i].not_found.empty() ? 0 : 1;
    tally.agreed_load_errors += answers[i].error ? 1 : 0;
  }
  return tally;
}

// ---- reporting -------------------------------------------------------------------------------

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Wall-clock seconds of each phase.
struct Timings {
  double survey = 0;
  double jailbuild = 0;
  double loader = 0;
};

std::map<TraceMode, std::size_t> count_modes(const std::vector<Subject>& subjects) {
  std::map<TraceMode, std::size_t> counts{{TraceMode::Exec, 0}, {TraceMode::Explicit, 0}};
  for (const Subject& subject : subjects) ++counts[subject.mode];
  return counts;
}

void print_skipped(const Survey& survey) {
  constexpr std::size_t kExamples = 3;
  for (const auto& [reason, files] : survey.skipped) {
    std::cout << "  skipped, " << reason << ": " << files.size() << "\n";
    for (std::size_t i = 0; i < files.size() && i < kExamples; ++i) std::cout << "    e.g. " << files[i] << "\n";
  }
}

void print_summary(const Survey& survey, const Tally& tally, const Timings& timings) {
  const auto modes = count_modes(survey.subjects);
  std::cout << "SUMMARY\n  ELF files under /usr/bin, /usr/sbin, /usr/lib: " << survey.elf_files
            << "\n  not dynamically linked (static, relocatable, no DT_NEEDED): " << survey.not_dynamic
            << "\n  files compared: " << survey.subjects.size() << " (" << modes.at(TraceMode::Exec)
            << " by exec trace, " << modes.at(TraceMode::Explicit) << " by explicit loader trace)\n";
  print_skipped(survey);
  std::cout << "  agreed: " << tally.files_agreed << " loaded files; missing libraries for " << tally.agreed_not_found
            << " files; load errors for " << tally.agreed_load_errors
            << " files\n  differences: " << tally.differences.size() << "\n  time: survey " << timings.survey
            << " s, jailbuild " << timings.jailbuild << " s, loader traces " << timings.loader << " s ("
            << kParallelTraces << " at a time)\n";
}

// Runs `step`, adding its wall-clock time to `seconds`.
template <typename Step>
auto timed(double& seconds, Step step) {
  const auto start = Clock::now();
  auto result = step();
  seconds = seconds_since(start);
  return result;
}

TEST(SystemClosure, EveryDynamicallyLinkedFileMatchesTheLoader) {
  const std::string cwd = fs::current_path().string();
  Timings timings;
  const Survey survey = timed(timings.survey, survey_trees);
  const auto answers = timed(timings.jailbuild, [&] { return resolve_all(survey.subjects, cwd); });
  const auto traces = timed(timings.loader, [&] { return trace_all(survey.subjects, cwd); });
  const Tally tally = compare_all(survey.subjects, traces, answers, cwd);
  print_summary(survey, tally, timings);

  const auto modes = count_modes(survey.subjects);
  EXPECT_GE(survey.subjects.size(), kMinimumCompared) << "the survey found too few files: it is broken";
  EXPECT_GE(modes.at(TraceMode::Exec), kMinimumComparedPerMode);
  EXPECT_GE(modes.at(TraceMode::Explicit), kMinimumComparedPerMode);
  // Every dynamically linked file loads at least its interpreter or one library.
  EXPECT_GE(tally.files_agreed, survey.subjects.size() - tally.differences.size());
  EXPECT_TRUE(tally.differences.empty()) << tally.differences.size()
                                         << " files where jailbuild and the loader differ (above)";
}

}  // namespace
}  // namespace jailbuild

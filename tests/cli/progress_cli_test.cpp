// The progress line of add, sync, apply and export, judged on a real pseudo-terminal (`script -qc`,
// whose transcript is what the terminal was sent) and in a pipe (run_jailbuild captures stdout and
// stderr through one): the line appears on the terminal with the totals the run then reports, is
// erased before the summary, never splits a message, and never appears in a pipe or with -q.
// Each pty case has its control: the same command in a pipe, or with --progress=never.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/progress_line.hpp"
#include "support/command_test_support.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace jailbuild {
namespace {

namespace fs = std::filesystem;
using cli::progress_counts;
using testing::contains;
using testing::ProcessResult;
using testing::run_jailbuild;

constexpr const char* kScript = "/usr/bin/script";

std::string shell_quoted(const std::string& word) {
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// jailbuild ARGS with its stdout and stderr on a pseudo-terminal: `output` is what the terminal
// was sent (the pty turns each \n into \r\n).
ProcessResult run_on_terminal(const std::vector<std::string>& args) {
  std::string command = shell_quoted(JAILBUILD_BINARY);
  for (const std::string& arg : args) command += " " + shell_quoted(arg);
  return testing::run_process({kScript, "-qec", command, "/dev/null"}, testing::kPlainEnv);
}

// What a terminal shows after `sent`: \r back to the start of the line, \n to the next one, each
// other byte written over what is under it. Trailing spaces dropped.
std::vector<std::string> screen_of(const std::string& sent) {
  std::vector<std::string> lines(1);
  std::size_t column = 0;
  for (const char c : sent) {
    if (c == '\r') {
      column = 0;
    } else if (c == '\n') {
      lines.emplace_back();
      column = 0;
    } else {
      std::string& line = lines.back();
      if (line.size() <= column) line.resize(column + 1, ' ');
      line[column++] = c;
    }
  }
  for (std::string& line : lines) line.erase(line.find_last_not_of(' ') + 1);
  if (lines.back().empty()) lines.pop_back();
  return lines;
}

bool on_screen(const std::vector<std::string>& screen, const std::string& part) {
  for (const std::string& line : screen)
    if (contains(line, part)) return true;
  return false;
}

// "ROOT: N created, U updated, R removed, K unchanged, B bytes copied": the entries of the plan
// (N + U + K) and the bytes copied, as the summary says them.
struct Summary {
  std::uint64_t entries = 0;
  std::uint64_t bytes = 0;
  std::string line;
};
std::optional<Summary> summary_in(const std::vector<std::string>& screen, const std::string& root) {
  const std::regex form(root + R"(: (\d+) created, (\d+) updated, \d+ removed, (\d+) unchanged, (\d+) bytes copied)");
  for (const std::string& line : screen) {
    std::smatch match;
    if (!std::regex_match(line, match, form)) continue;
    return Summary{std::stoull(match[1]) + std::stoull(match[2]) + std::stoull(match[3]), std::stoull(match[4]), line};
  }
  return std::nullopt;
}

// The first line a stage draws: nothing done yet of `total`.
std::string first_line(const std::string& stage, const std::string& subject, std::optional<ProgressCount> total) {
  return "jailbuild: " + stage + " " + subject + ": " + progress_counts({}, total, std::chrono::seconds(0));
}

class ProgressLineOnTerminal : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kScript, X_OK) != 0) GTEST_SKIP() << kScript << " (util-linux) is not installed";
    // Enough files that the line has something to count; a few megabytes so that it takes time.
    for (int dir = 0; dir < 4; ++dir) {
      fs::create_directories(data_ + "/d" + std::to_string(dir));
      for (int file = 0; file < 50; ++file)
        testing::write_file(data_ + "/d" + std::to_string(dir) + "/f" + std::to_string(file),
                            std::string(20'000 + static_cast<std::size_t>(file), 'x'));
    }
  }

  std::vector<std::string> add(const std::vector<std::string>& options = {}) {
    return testing::add_args({data_}, root_, state_, options);
  }

  testing::TempDir dir_{"jailbuild-progress"};
  std::string data_ = dir_ / "data";
  std::string root_ = dir_ / "root";
  std::string state_ = dir_ / "state";
};

TEST(ProgressCounts, SaysFilesAndBytesOfTheTotalTheRateAndTheTimeElapsed) {
  using std::chrono::milliseconds;
  EXPECT_EQ(progress_counts({1406, 1536}, ProgressCount{4694, 8 << 20}, milliseconds(2500)),
            "1,406/4,694 files, 1.5 KB/8.4 MB, 614 B/s, 0:02");
  EXPECT_EQ(progress_counts({3, 1 << 30}, ProgressCount{3, 1 << 30}, std::chrono::seconds(3725)),
            "3/3 files, 1.1 GB/1.1 GB, 288.3 KB/s, 1:02:05");
  // No rate over less than a tenth of a second, none without a total (planning).
  EXPECT_EQ(progress_counts({0, 0}, ProgressCount{7, 100}, milliseconds(50)), "0/7 files, 0 B/100 B, 0:00");
  EXPECT_EQ(progress_counts({5, 2048}, std::nullopt, std::chrono::seconds(61)), "5 files, 2.0 KB, 1:01");
}

TEST_F(ProgressLineOnTerminal, AddShowsPlanningAndCopyingWithTheTotalsItReportsThenErasesTheLine) {
  const ProcessResult added = run_on_terminal(add());
  ASSERT_EQ(added.exit_code, 0) << added.describe();
  const std::vector<std::string> screen = screen_of(added.output);
  const std::optional<Summary> summary = summary_in(screen, root_);
  ASSERT_TRUE(summary) << added.output;
  ASSERT_GT(summary->entries, 200u) << summary->line;  // every file was planned and copied
  EXPECT_TRUE(contains(added.output, first_line("planning", root_, std::nullopt))) << added.output;
  // The copying stage's total is what the run then reports: every entry, every byte copied.
  EXPECT_TRUE(contains(added.output, first_line("copying", root_, ProgressCount{summary->entries, summary->bytes})))
      << added.output;
  // Drawn over itself, and erased: the terminal shows the summary and no progress at all.
  EXPECT_TRUE(contains(added.output, "\r")) << added.output;
  EXPECT_FALSE(on_screen(screen, "jailbuild: planning")) << added.output;
  EXPECT_FALSE(on_screen(screen, "jailbuild: copying")) << added.output;
  EXPECT_EQ(screen.back(), summary->line) << added.output;
}

TEST_F(ProgressLineOnTerminal, NeverInAPipeNorWithQuietNorWithNever) {
  // The control: on the terminal it is there.
  const ProcessResult shown = run_on_terminal(add());
  ASSERT_EQ(shown.exit_code, 0) << shown.describe();
  ASSERT_TRUE(contains(shown.output, "jailbuild: copying")) << shown.output;

  fs::remove_all(root_);
  fs::remove_all(state_);
  const ProcessResult piped = run_jailbuild(add());
  ASSERT_EQ(piped.exit_code, 0) << piped.describe();
  ASSERT_TRUE(contains(piped.output, root_ + ": ")) << piped.output;  // the summary, so the output was read
  EXPECT_FALSE(contains(piped.output, "jailbuild: planning")) << piped.output;
  EXPECT_FALSE(contains(piped.output, "jailbuild: copying")) << piped.output;
  EXPECT_FALSE(contains(piped.output, "\r")) << piped.output;

  for (const std::vector<std::string>& options :
       std::vector<std::vector<std::string>>{{"--progress=never"}, {"-q"}, {"-q", "--progress=always"}}) {
    fs::remove_all(root_);
    fs::remove_all(state_);
    const ProcessResult quiet = run_on_terminal(add(options));
    ASSERT_EQ(quiet.exit_code, 0) << quiet.describe();
    EXPECT_FALSE(contains(quiet.output, "jailbuild: planning")) << options.back() << ": " << quiet.output;
    EXPECT_FALSE(contains(quiet.output, "jailbuild: copying")) << options.back() << ": " << quiet.output;
  }
}

TEST_F(ProgressLineOnTerminal, AlwaysShowsItInAPipeToo) {
  const ProcessResult piped = run_jailbuild(add({"--progress=always"}));
  ASSERT_EQ(piped.exit_code, 0) << piped.describe();
  EXPECT_TRUE(contains(piped.output, first_line("planning", root_, std::nullopt))) << piped.output;
  EXPECT_TRUE(contains(piped.output, "jailbuild: copying " + root_ + ": 0/")) << piped.output;
}

TEST_F(ProgressLineOnTerminal, MessagesLoggedUnderTheLineStandOnLinesOfTheirOwn) {
  // -vv says each entry's decision while the line is shown: each message erases the line, and the
  // line comes back under it.
  const ProcessResult added = run_on_terminal(add({"-vv"}));
  ASSERT_EQ(added.exit_code, 0) << added.describe();
  const std::vector<std::string> screen = screen_of(added.output);
  std::size_t decisions = 0;
  for (const std::string& line : screen) {
    if (!contains(line, "jailbuild: ")) continue;
    EXPECT_TRUE(line.starts_with("jailbuild: ")) << "a message after something else: " << line;
    EXPECT_EQ(line.find("jailbuild: ", 1), std::string::npos) << "two messages on one line: " << line;
    if (line.starts_with("jailbuild: trace: " + root_ + data_ + "/")) ++decisions;
  }
  EXPECT_GT(decisions, 200u) << added.output;  // the guard: the messages were there to be judged
  EXPECT_FALSE(on_screen(screen, "jailbuild: copying")) << added.output;
}

TEST_F(ProgressLineOnTerminal, SyncAndApplyShowItToo) {
  const ProcessResult added = run_jailbuild(add());
  ASSERT_EQ(added.exit_code, 0) << added.describe();
  const std::optional<Summary> copied = summary_in(testing::lines_of(added.output), root_);
  ASSERT_TRUE(copied) << added.output;
  // --checksum: the watch list proves nothing, every entry is read again. The total is the same
  // plan's: every entry, and the bytes the add copied into the empty root.
  const ProcessResult synced = run_on_terminal({"sync", root_, "--state-dir", state_, "--checksum"});
  ASSERT_EQ(synced.exit_code, 0) << synced.describe();
  const std::optional<Summary> summary = summary_in(screen_of(synced.output), root_);
  ASSERT_TRUE(summary) << synced.output;
  EXPECT_EQ(summary->bytes, 0u) << summary->line;
  EXPECT_TRUE(contains(synced.output, first_line("copying", root_, ProgressCount{summary->entries, copied->bytes})))
      << synced.output;
  const ProcessResult piped = run_jailbuild({"sync", root_, "--state-dir", state_, "--checksum"});
  EXPECT_FALSE(contains(piped.output, "jailbuild: copying")) << piped.output;

  const std::string spec = dir_ / "jail.toml";
  std::ofstream(spec) << "root = \"" << root_ << "2\"\nstate-dir = \"" << state_ << "\"\npaths = [\"" << data_
                      << "\"]\n";
  const ProcessResult applied = run_on_terminal({"apply", spec});
  ASSERT_EQ(applied.exit_code, 0) << applied.describe();
  EXPECT_TRUE(contains(applied.output, first_line("planning", root_ + "2", std::nullopt))) << applied.output;
  EXPECT_TRUE(contains(applied.output, "jailbuild: copying " + root_ + "2: 0/")) << applied.output;
}

TEST_F(ProgressLineOnTerminal, AddTraceShowsItForWhatTheWorkloadUsed) {
  if (::geteuid() != 0) GTEST_SKIP() << "add --trace runs the workload in namespaces made as root";
  const ProcessResult traced = run_on_terminal(
      {"add", "--trace", "--root", root_, "--state-dir", state_, "--", "/bin/sh", "-c", "echo the workload; date"});
  ASSERT_EQ(traced.exit_code, 0) << traced.describe();
  const std::vector<std::string> screen = screen_of(traced.output);
  // The terminal is the workload's while it runs: its output intact, on its own line.
  EXPECT_NE(std::find(screen.begin(), screen.end(), "the workload"), screen.end()) << traced.output;
  EXPECT_TRUE(contains(traced.output, "jailbuild: copying " + root_ + ": 0/")) << traced.output;
  EXPECT_FALSE(on_screen(screen, "jailbuild: copying")) << traced.output;
}

TEST_F(ProgressLineOnTerminal, ExportShowsItForTheLayerAndTheBundle) {
  if (::geteuid() != 0) GTEST_SKIP() << "export reads the root as root";
  const std::string spec = dir_ / "jail.toml";
  std::ofstream(spec) << "root = \"" << root_ << "\"\nstate-dir = \"" << state_ << "\"\npaths = [\"/bin/sh\", \""
                      << data_ << "\"]\n[run]\ncommand = [\"/bin/sh\", \"-c\", \"true\"]\n";
  const ProcessResult applied = run_jailbuild({"apply", spec});
  ASSERT_EQ(applied.exit_code, 0) << applied.describe();

  const ProcessResult layout = run_on_terminal({"export", root_, "--state-dir", state_, "--oci", dir_ / "image"});
  ASSERT_EQ(layout.exit_code, 0) << layout.describe();
  EXPECT_TRUE(contains(layout.output, "jailbuild: exporting " + root_ + ": 0/")) << layout.output;
  EXPECT_FALSE(on_screen(screen_of(layout.output), "jailbuild: exporting")) << layout.output;

  const std::string bundle = dir_ / "bundle";
  const ProcessResult unpacked = run_on_terminal({"export", root_, "--state-dir", state_, "--bundle", bundle});
  ASSERT_EQ(unpacked.exit_code, 0) << unpacked.describe();
  EXPECT_TRUE(contains(unpacked.output, "jailbuild: exporting " + root_ + ": 0/")) << unpacked.output;
  EXPECT_TRUE(contains(unpacked.output, "jailbuild: unpacking " + bundle + ": 0/")) << unpacked.output;

  // The control: the same export in a pipe.
  const ProcessResult piped = run_jailbuild({"export", root_, "--state-dir", state_, "--oci", dir_ / "image2"});
  ASSERT_EQ(piped.exit_code, 0) << piped.describe();
  EXPECT_FALSE(contains(piped.output, "jailbuild: exporting")) << piped.output;
}

}  // namespace
}  // namespace jailbuild

// The spec reader and the run settings: what a TOML spec becomes, the line-numbered error every
// bad spec gets, and how recorded settings and a command line's combine.
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "jailbuild/spec.hpp"
#include "support/temp_dir.hpp"

namespace jailbuild {
namespace {

using testing::TempDir;

class SpecReading : public ::testing::Test {
 protected:
  // The spec `text` read from spec.toml in a fresh directory.
  Result<Spec> read(const std::string& text) {
    std::ofstream(file_) << text;
    return read_spec(file_);
  }
  // The error of reading `text`; "" if it was read.
  std::string error_of(const std::string& text) {
    const Result<Spec> spec = read(text);
    return spec ? "" : spec.error().message;
  }

  TempDir dir_{"jailbuild-spec"};
  std::string file_ = dir_ / "spec.toml";
};

TEST_F(SpecReading, ReadsEveryPart) {
  const Result<Spec> spec = read(R"(root = "jail"
paths = ["/usr/bin/date", "bin/tool"]
users = ["nobody"]
with = ["dns"]
without = ["terminfo"]
keep-setuid = true

[[trace]]
command = ["python3", "-c", "import ssl"]
user = "nobody"
exclude = ["/srv/data/"]

[run]
command = ["/usr/bin/date", "-u"]
user = "nobody"
groups = ["nogroup"]
cap = ["NET_BIND_SERVICE"]
env = { TZ = "UTC", LANG = "C.UTF-8" }
cwd = "/srv"
net = "none"
seccomp = "on"
tmpfs = ["/var/cache/app/tmp", "/var/cache/app:mode=0700"]
ro-bind = ["site:/var/www"]
tmpfs-size = "64m"
rlimit = { nofile = 1024, core = "0:0" }
)");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->root, dir_ / "jail");  // relative to the spec's directory
  EXPECT_EQ(spec->paths, (std::vector<std::string>{"/usr/bin/date", dir_ / "bin/tool"}));
  EXPECT_EQ(spec->options.users, std::vector<std::string>{"nobody"});
  EXPECT_EQ(spec->options.rules_with, std::vector<std::string>{"dns"});
  EXPECT_EQ(spec->options.rules_without, std::vector<std::string>{"terminfo"});
  EXPECT_TRUE(spec->options.keep_setuid);
  ASSERT_EQ(spec->traces.size(), 1u);
  EXPECT_EQ(spec->traces[0].command, (std::vector<std::string>{"python3", "-c", "import ssl"}));
  EXPECT_EQ(spec->traces[0].user, "nobody");
  EXPECT_EQ(spec->traces[0].excluded, std::vector<std::string>{"/srv/data"});
  const RunSettings& run = spec->run;
  EXPECT_EQ(run.command, (std::vector<std::string>{"/usr/bin/date", "-u"}));
  EXPECT_EQ(run.user, "nobody");
  EXPECT_EQ(run.groups, std::vector<std::string>{"nogroup"});
  EXPECT_EQ(run.capabilities, std::vector<std::string>{"NET_BIND_SERVICE"});
  EXPECT_EQ(run.environment, (std::vector<std::string>{"LANG=C.UTF-8", "TZ=UTC"}));
  EXPECT_EQ(run.cwd, "/srv");
  EXPECT_EQ(run.network, "none");
  EXPECT_EQ(run.tmpfs_size, "64m");
  EXPECT_EQ(run.limits, (std::vector<std::string>{"core=0:0", "nofile=1024"}));
  // Parents first, whichever list named them: /var/cache/app before the tmpfs inside it.
  using Kind = JailMount::Kind;
  const std::vector<std::pair<Kind, std::string>> mounts{{Kind::ReadOnlyBind, dir_ / "site:/var/www"},
                                                         {Kind::Tmpfs, "/var/cache/app:mode=0700"},
                                                         {Kind::Tmpfs, "/var/cache/app/tmp"}};
  EXPECT_EQ(run.mounts, mounts);
  EXPECT_FALSE(run.writable.has_value());  // not given: run's default, or the command line's
}

TEST_F(SpecReading, EveryBadSpecNamesTheFileAndTheLine) {
  const std::string at = file_ + ":";
  struct Case {
    std::string text;
    std::string error;  // what the message must hold after "FILE:"
  };
  const std::vector<Case> cases{
      {"root = \"r\"\nrots = 1\n", "2: unknown key \"rots\" in the spec"},
      {"root = \"r\"\n[run]\ncommand = [\"x\"]\nuser = 0\n", "4: user must be a string"},
      {"root = \"r\"\npaths = \"/usr/bin/date\"\n", "2: paths must be a list of strings"},
      {"root = \"r\"\n[run]\nnet = \"bridge\"\n", "3: net = \"bridge\": must be host or none"},
      {"root = \"r\"\n[run]\ncap = [\"NOT_A_CAP\"]\n", "3: "},
      {"root = \"r\"\n[run]\nbind = [\"/srv:relative\"]\n", "3: "},
      {"root = \"r\"\n[run]\nrlimit = { nofiles = 3 }\n", "3: "},
      {"root = \"r\"\n[run]\nenv = { A = 1 }\n", "3: env A must be a string"},
      {"root = \"r\"\n[run]\nwritable = \"yes\"\n", "3: writable must be true or false"},
      {"root = \"r\"\n[run]\ncommand = []\n", "3: command must name a program"},
      {"root = \"r\"\n[[trace]]\nuser = \"nobody\"\n", "2: [[trace]] needs a command"},
      {"root = \"r\"\n[[trace]]\ncommand = [\"ls\"]\nshell = true\n", "4: unknown key \"shell\" in [[trace]]"},
      {"root = \"r\"\nwith = [\"no-such-rule\"]\n", "2: "},
      {"root = \"r\"\n[run\n", "2: "},  // TOML syntax
      {"paths = [\"/usr/bin/date\"]\n", "no root"},
  };
  for (const Case& bad : cases) {
    const std::string error = error_of(bad.text);
    EXPECT_TRUE(error.starts_with(at + bad.error) || (bad.error == "no root" && error.find("no root") != std::string::npos))
        << "spec:\n" << bad.text << "error: " << error;
  }
  EXPECT_EQ(error_of("root = \"r\"\n"), "");  // the control: the smallest good spec
}

TEST_F(SpecReading, CgroupLimitsTakeNumbersOrTheOptionsWords) {
  const Result<Spec> numbers = read("root = \"r\"\n[run]\nmemory = 33554432\npids = 64\ncpus = 0.5\n");
  ASSERT_TRUE(numbers) << numbers.error().message;
  EXPECT_EQ(numbers->run.memory, "33554432");
  EXPECT_EQ(numbers->run.pids, "64");
  EXPECT_EQ(numbers->run.cpus, "0.5");
  const Result<Spec> words = read("root = \"r\"\n[run]\nmemory = \"256M\"\npids = \"512\"\ncpus = 2\n");
  ASSERT_TRUE(words) << words.error().message;
  EXPECT_EQ(words->run.memory, "256M");
  EXPECT_EQ(words->run.cpus, "2");
  // Checked as the options are, naming the line.
  EXPECT_TRUE(error_of("root = \"r\"\n[run]\nmemory = \"lots\"\n").starts_with(file_ + ":3: --memory lots"));
  EXPECT_TRUE(error_of("root = \"r\"\n[run]\npids = 1\n").starts_with(file_ + ":3: --pids 1"));
  EXPECT_TRUE(error_of("root = \"r\"\n[run]\ncpus = 0.001\n").starts_with(file_ + ":3: --cpus"));
  EXPECT_TRUE(
      error_of("root = \"r\"\n[run]\npids = true\n").starts_with(file_ + ":3: pids must be a number or a string"));
}

TEST_F(SpecReading, AMissingFileIsAnError) {
  const Result<Spec> spec = read_spec(dir_ / "none.toml");
  ASSERT_FALSE(spec);
  EXPECT_NE(spec.error().message.find("none.toml"), std::string::npos);
}

TEST(RunSettings, TheCommandLineReplacesRecordedOptionsOneByOne) {
  RunSettings recorded;
  recorded.user = "nobody";
  recorded.environment = {"A=1", "B=2"};
  recorded.network = "none";
  recorded.command = {"date", "-u"};
  RunSettings given;
  given.environment = {"C=3"};
  given.writable = true;
  const RunSettings settings = overlay(recorded, given);
  EXPECT_EQ(settings.user, "nobody");
  EXPECT_EQ(settings.network, "none");
  EXPECT_EQ(settings.environment, std::vector<std::string>{"C=3"});
  EXPECT_EQ(settings.writable, true);
  EXPECT_EQ(settings.command, (std::vector<std::string>{"date", "-u"}));
}

TEST(RunSettings, JsonRoundTripsAndRefusesWhatItDoesNotKnow) {
  RunSettings settings;
  settings.user = "nobody";
  settings.capabilities = std::vector<std::string>{"NET_BIND_SERVICE"};
  settings.keep_environment = false;
  settings.mounts = std::vector<std::pair<JailMount::Kind, std::string>>{{JailMount::Kind::Tmpfs, "/x:mode=0700"},
                                                                         {JailMount::Kind::Bind, "/srv:/srv"}};
  settings.limits = std::vector<std::string>{"nofile=64"};
  settings.command = {"id", "-u"};
  const Result<RunSettings> back = run_settings_from_json(run_settings_json(settings));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, settings);
  EXPECT_FALSE(run_settings_from_json(nlohmann::json{{"users", "x"}}));
  EXPECT_FALSE(run_settings_from_json(nlohmann::json{{"user", 3}}));
  EXPECT_FALSE(run_settings_from_json(nlohmann::json{{"mounts", {{{"overlay", "/x"}}}}}));
}

TEST(RunSettings, AreCheckedAsTheCommandLineIs) {
  RunSettings settings;
  settings.network = "bridge";
  EXPECT_FALSE(run_options_of(settings, "/r", {"date"}, {}, "", ""));
  settings.network = "none";
  settings.capabilities = std::vector<std::string>{"NOT_A_CAP"};
  EXPECT_FALSE(run_options_of(settings, "/r", {"date"}, {}, "", ""));
  settings.capabilities.reset();
  EXPECT_FALSE(run_options_of(settings, "/r", {}, {}, "", ""));  // nothing to run
  const Result<RunOptions> options = run_options_of(settings, "/r", {"date", "-u"}, {}, "", "");
  ASSERT_TRUE(options) << options.error().message;
  EXPECT_EQ(options->program, "date");
  EXPECT_EQ(options->arguments, std::vector<std::string>{"-u"});
  EXPECT_EQ(options->network, Network::None);
}

}  // namespace
}  // namespace jailbuild

// Times jailbuild's ELF reader against LIEF 0.9 on every ELF file under /usr/bin, /usr/sbin and
// /usr/lib, and on one big file (the largest libLLVM-*.so*, else the largest ELF file), and prints
// the median wall times. Both sides start from a path: our side maps the file and parses it, LIEF
// reads and parses it.
//
// With `imports`, it times instead what reading the imported symbols (imported_symbols) costs
// beside the parse alone, on the ELF files of /usr/bin.
//
// Usage: bench_elf_reader_vs_lief [RUNS] [imports]   (RUNS passes over all files, default 5)

#include <time.h>

#include <LIEF/ELF.hpp>
#include <LIEF/logging.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "elf/elf.hpp"
#include "elf/system_elf_files.hpp"
#include "elf/dynamic_symbols.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kBigFileRunsOurs = 101;
constexpr int kBigFileRunsLief = 5;

// Outcome of one pass over a set of files: files the reader refused (for ours, the debug-info-only
// files under /usr/lib/debug) and a checksum that keeps the work observable.
struct Pass {
  std::size_t failures = 0;
  std::size_t needed_entries = 0;
};

Pass read_with_ours(const std::vector<fs::path>& files) {
  Pass pass;
  for (const fs::path& path : files) {
    const jailbuild::Result<jailbuild::elf::ElfObject> object = jailbuild::elf::read_object(path);
    if (object) {
      pass.needed_entries += object->needed.size();
    } else {
      ++pass.failures;
    }
  }
  return pass;
}

Pass read_with_lief(const std::vector<fs::path>& files) {
  Pass pass;
  for (const fs::path& path : files) {
    try {
      const std::unique_ptr<LIEF::ELF::Binary> binary = LIEF::ELF::Parser::parse(path.string());
      if (binary) {
        pass.needed_entries += binary->imported_libraries().size();
      } else {
        ++pass.failures;
      }
    } catch (const std::exception&) { ++pass.failures; }
  }
  return pass;
}

// What a pass over the files does: the parse alone (MappedFile::open, parse_object), the parse
// and imported_symbols on the same mapping, or the parse and then read_imported_symbols(path),
// which maps the file again.
enum class ImportsMode { kParseOnly, kSameMapping, kMapAgain };

// The pass counts imported symbols instead of DT_NEEDED entries when it reads them.
Pass read_imports(const std::vector<fs::path>& files, ImportsMode mode) {
  Pass pass;
  for (const fs::path& path : files) {
    const jailbuild::Result<jailbuild::elf::MappedFile> file = jailbuild::elf::MappedFile::open(path);
    if (!file) {
      ++pass.failures;
      continue;
    }
    const jailbuild::Result<jailbuild::elf::ElfObject> object = jailbuild::elf::parse_object(file->bytes());
    if (!object) {
      ++pass.failures;
      continue;
    }
    if (mode == ImportsMode::kParseOnly) {
      pass.needed_entries += object->needed.size();
      continue;
    }
    const auto symbols = mode == ImportsMode::kSameMapping ? jailbuild::elf::imported_symbols(file->bytes())
                                                           : jailbuild::elf::read_imported_symbols(path);
    if (symbols) {
      pass.needed_entries += symbols->size();
    } else {
      ++pass.failures;
    }
  }
  return pass;
}

struct Timing {
  double median_seconds = 0;
  double min_seconds = 0;
  double max_seconds = 0;
  Pass last_pass;
};

Timing time_runs(int runs, const std::function<Pass()>& run) {
  std::vector<double> seconds;
  Timing timing;
  for (int i = 0; i < runs; ++i) {
    const Clock::time_point start = Clock::now();
    timing.last_pass = run();
    seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  timing.median_seconds = seconds[seconds.size() / 2];
  timing.min_seconds = seconds.front();
  timing.max_seconds = seconds.back();
  return timing;
}

void print(const char* what, const char* reader, int runs, const Timing& timing) {
  std::printf("%-9s %-4s median %12.3f ms  (min %.3f, max %.3f; %d runs; %zu failures, %zu DT_NEEDED)\n", what, reader,
              timing.median_seconds * 1e3, timing.min_seconds * 1e3, timing.max_seconds * 1e3, runs,
              timing.last_pass.failures, timing.last_pass.needed_entries);
}

void compare(const char* what, int runs_ours, int runs_lief, const std::function<Pass()>& ours,
             const std::function<Pass()>& lief) {
  const Timing our_timing = time_runs(runs_ours, ours);
  const Timing lief_timing = time_runs(runs_lief, lief);
  print(what, "ours", runs_ours, our_timing);
  print(what, "LIEF", runs_lief, lief_timing);
  std::printf("%-9s LIEF/ours median ratio: %.0f\n", what, lief_timing.median_seconds / our_timing.median_seconds);
}

// The largest libLLVM-*.so* among `files`, else the largest file.
fs::path big_file(const std::vector<fs::path>& files) {
  const auto by_size = [](const fs::path& a, const fs::path& b) { return fs::file_size(a) < fs::file_size(b); };
  std::vector<fs::path> llvm;
  std::copy_if(files.begin(), files.end(), std::back_inserter(llvm), [](const fs::path& path) {
    const std::string name = path.filename().string();
    return name.starts_with("libLLVM-") && name.find(".so") != std::string::npos;
  });
  const std::vector<fs::path>& candidates = llvm.empty() ? files : llvm;
  return *std::max_element(candidates.begin(), candidates.end(), by_size);
}

}  // namespace

// Median wall and CPU (user + system, of this process) times of `runs` passes.
struct WallAndCpu {
  double wall_ms = 0;
  double cpu_ms = 0;
  Pass last_pass;
};

WallAndCpu time_wall_and_cpu(int runs, const std::function<Pass()>& run) {
  const auto cpu_now = [] {
    timespec now{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
  };
  std::vector<double> wall, cpu;
  WallAndCpu timing;
  for (int i = 0; i < runs; ++i) {
    const double cpu_start = cpu_now();
    const Clock::time_point start = Clock::now();
    timing.last_pass = run();
    wall.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    cpu.push_back(cpu_now() - cpu_start);
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  timing.wall_ms = wall[wall.size() / 2];
  timing.cpu_ms = cpu[cpu.size() / 2];
  return timing;
}

// The cost of reading imported symbols beside the parse the resolver already does. CPU time as
// well as wall time: on a shared machine it is the steadier of the two.
void compare_imports(const std::vector<fs::path>& all_files, int runs) {
  std::vector<fs::path> files;
  std::copy_if(all_files.begin(), all_files.end(), std::back_inserter(files),
               [](const fs::path& path) { return path.string().starts_with("/usr/bin/"); });
  std::printf("%zu ELF files under /usr/bin, %d runs each\n", files.size(), runs);
  read_imports(files, ImportsMode::kSameMapping);  // warm the page cache
  const WallAndCpu parse = time_wall_and_cpu(runs, [&] { return read_imports(files, ImportsMode::kParseOnly); });
  std::printf("parse                     median wall %8.3f ms, cpu %8.3f ms  (%zu failures, %zu DT_NEEDED)\n",
              parse.wall_ms, parse.cpu_ms, parse.last_pass.failures, parse.last_pass.needed_entries);
  // The decoding alone, on mappings made beforehand: what the system calls leave out.
  std::vector<jailbuild::elf::MappedFile> mapped;
  for (const fs::path& path : files) {
    if (auto file = jailbuild::elf::MappedFile::open(path)) mapped.push_back(std::move(*file));
  }
  const WallAndCpu decode_parse = time_wall_and_cpu(runs, [&] {
    Pass pass;
    for (const auto& file : mapped) pass.needed_entries += jailbuild::elf::parse_object(file.bytes())->needed.size();
    return pass;
  });
  const WallAndCpu decode_imports = time_wall_and_cpu(runs, [&] {
    Pass pass;
    for (const auto& file : mapped) pass.needed_entries += jailbuild::elf::imported_symbols(file.bytes())->size();
    return pass;
  });
  std::printf("mapped beforehand: parse_object median cpu %.3f ms, imported_symbols %.3f ms (%.0f%% of the parse)\n",
              decode_parse.cpu_ms, decode_imports.cpu_ms, 100 * decode_imports.cpu_ms / decode_parse.cpu_ms);
  for (const auto& [mode, name] : {std::pair{ImportsMode::kSameMapping, "parse+imports, one map"},
                                   std::pair{ImportsMode::kMapAgain, "parse+imports, map again"}}) {
    const WallAndCpu both = time_wall_and_cpu(runs, [&, mode = mode] { return read_imports(files, mode); });
    std::printf("%-25s median wall %8.3f ms, cpu %8.3f ms  (%zu failures, %zu imported symbols)\n", name, both.wall_ms,
                both.cpu_ms, both.last_pass.failures, both.last_pass.needed_entries);
    std::printf("%-25s imports add wall %.3f ms (%.0f%%), cpu %.3f ms (%.0f%%) to the parse\n", "",
                both.wall_ms - parse.wall_ms, 100 * (both.wall_ms - parse.wall_ms) / parse.wall_ms,
                both.cpu_ms - parse.cpu_ms, 100 * (both.cpu_ms - parse.cpu_ms) / parse.cpu_ms);
  }
}

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  LIEF::Logger::disable();

  const std::vector<fs::path> files = jailbuild::testing::system_elf_files();
  if (files.empty()) {
    std::fprintf(stderr, "no ELF files found\n");
    return 1;
  }
  if (argc > 2 && std::string_view(argv[2]) == "imports") {
    compare_imports(files, runs);
    return 0;
  }
  std::uintmax_t total_bytes = 0;
  for (const fs::path& path : files) total_bytes += fs::file_size(path);
  std::printf("%zu ELF files under /usr/bin /usr/sbin /usr/lib, %.1f MB\n", files.size(), total_bytes / 1e6);

  // An untimed LIEF pass loads every file into the page cache: both readers are timed warm.
  read_with_lief(files);
  compare(
      "all files", runs, runs, [&] { return read_with_ours(files); }, [&] { return read_with_lief(files); });

  const std::vector<fs::path> big = {big_file(files)};
  std::printf("big file: %s, %.1f MB\n", big.front().c_str(), fs::file_size(big.front()) / 1e6);
  compare(
      "big file", kBigFileRunsOurs, kBigFileRunsLief, [&] { return read_with_ours(big); },
      [&] { return read_with_lief(big); });
  return 0;
}

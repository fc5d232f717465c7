// Opening candidate files the way the loader's open_verify does, remembering every answer so that
// each path is opened, and each file read, once per Resolver however many objects ask for it.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "elf/elf.hpp"
#include "jailbuild/loader_config.hpp"
#include "root_view.hpp"

namespace jailbuild {

// What the resolver keeps of one file (one inode).
struct FileData {
  std::size_t size = 0;
  bool is_directory = false;
  int read_error = 0;                    // errno of a failed read/map; 0 if read
  std::array<unsigned char, 64> head{};  // the first bytes, as the loader's header checks see them
  // A `#!` script's first bytes, as many as the kernel reads for its interpreter line
  // (BINPRM_BUF_SIZE); empty for any other file.
  std::string script_head;
  std::shared_ptr<const elf::ElfObject> elf;  // null when our reader rejects the file
  std::string elf_error;                      // why, when elf is null
};

// The result of opening one path string inside the root.
struct Probe {
  int open_error = 0;  // errno of open(2); 0 when the path opened
  dev_t dev = 0;
  ino_t ino = 0;
  std::shared_ptr<const FileData> data;  // set when the path opened
};

// The loader's verdict on a candidate (open_verify, docs/loader-rules.md#candidate-verdicts).
enum class Verdict {
  Accept,
  Skip,            // try the next candidate (missing, unreadable, wrong machine)
  SkipOtherClass,  // as Skip, and remembered for the final "wrong ELF class" message
  Fatal,           // the whole load fails
};

struct Verification {
  Verdict verdict = Verdict::Accept;
  int error = 0;                      // for Skip: the errno the loader is left with (decides whether a path list stops)
  std::string message;                // for Fatal
  const char* skip_reason = nullptr;  // for a Skip that is not an open error: why, for `-vv`
};

// open_verify's checks of the file behind `probe` for the loader described by `config`.
Verification verify_candidate(const Probe& probe, const LoaderConfig& config);

class FileProbes {
 public:
  // `read_imports`: also read each ELF file's imported symbols (ElfObject::imported_names).
  FileProbes(const RootView& root, bool read_imports) : root_(root), read_imports_(read_imports) {}

  // Opens `path` (absolute inside the root) once; later calls return the remembered answer.
  const Probe& probe(const std::string& path);
  // `path` with all symlinks resolved inside the root (remembered).
  const Result<std::string>& canonical(const std::string& path);
  // Every path probed or canonicalized so far.
  std::vector<std::string> paths() const;

 private:
  std::shared_ptr<const FileData> read_file(int fd, const std::string& path, dev_t dev, ino_t ino, std::size_t size,
                                            bool is_directory);

  const RootView& root_;
  bool read_imports_;
  std::unordered_map<std::string, Probe> probes_;
  std::unordered_map<std::string, Result<std::string>> canonical_;
  std::map<std::pair<dev_t, ino_t>, std::shared_ptr<const FileData>> files_;
};

}  // namespace jailbuild

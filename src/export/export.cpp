// export: the root's layer (layer.cpp), the OCI documents that describe it, and the three outputs
// (an image layout, the same as one tar, a runtime bundle), each made beside its final name and
// renamed into place.
#include "jailbuild/export.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "jailbuild/run_settings.hpp"
#include "jailbuild/seccomp_allowlist.hpp"
#include "jailbuild/spec.hpp"
#include "jailbuild/types.hpp"
#include "layer.hpp"
#include "unrecorded.hpp"
#include "manifest/root_lock.hpp"
#include "manifest/state_dir.hpp"
#include "run/mount_plan.hpp"
#include "run/seccomp_oci.hpp"
#include "util/dir_stream.hpp"
#include "util/files.hpp"
#include "util/io.hpp"
#include "util/open_beneath.hpp"
#include "util/paths.hpp"
#include "util/root_dir.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild {
namespace {

using nlohmann::json;
using exporting::Layer;

// The image is of the machine jailbuild was built for: the root holds that machine's programs.
#if defined(__x86_64__)
constexpr const char* kImageArchitecture = "amd64";
#elif defined(__aarch64__)
constexpr const char* kImageArchitecture = "arm64";
#else
#error "export: name this machine's OCI architecture"
#endif

constexpr const char* kManifestMediaType = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kConfigMediaType = "application/vnd.oci.image.config.v1+json";
constexpr const char* kLayerMediaType = "application/vnd.oci.image.layer.v1.tar+gzip";

// The time every date of the export is: the caller's, $SOURCE_DATE_EPOCH, else the manifest's.
Result<std::int64_t> epoch_of(const ExportOptions& options, const std::string& manifest_path) {
  if (options.source_date_epoch) return *options.source_date_epoch;
  if (const char* given = std::getenv("SOURCE_DATE_EPOCH"); given != nullptr && *given != '\0') {
    char* end = nullptr;
    const long long epoch = std::strtoll(given, &end, 10);
    if (*end != '\0' || epoch < 0) return Error::usage(std::string("SOURCE_DATE_EPOCH=") + given + ": not a time");
    return static_cast<std::int64_t>(epoch);
  }
  struct stat status {};
  if (::stat(manifest_path.c_str(), &status) != 0) return system_error(manifest_path, errno);
  return static_cast<std::int64_t>(status.st_mtim.tv_sec);
}

std::string rfc3339(std::int64_t epoch) {
  const auto time = static_cast<std::time_t>(epoch);
  std::tm utc{};
  ::gmtime_r(&time, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
  return text;
}

// How the jail runs, from the settings `apply` recorded (run's defaults when none were), looked up
// with no caller environment: an export must not depend on who makes it.
struct RunFacts {
  RunOptions run;
  bool has_command = false;
};

Result<RunFacts> run_facts(const ExportOptions& options, const std::string& root, int root_fd) {
  const std::optional<RunSettings> recorded = TRY(recorded_run_settings(options.jail.state_dir, root));
  const RunSettings settings = recorded.value_or(RunSettings{});
  RunFacts facts;
  facts.has_command = !settings.command.empty();
  const std::vector<std::string> command = facts.has_command ? settings.command : std::vector<std::string>{"/bin/sh"};
  facts.run = TRY(run_options_of(settings, root, command, {}, "", options.jail.state_dir));
  // The root's traced allowlist, when it has one, is the bundle's filter unless the settings chose.
  if (facts.run.seccomp && !facts.run.seccomp_allowlist && !settings.seccomp) {
    facts.run.seccomp_allowlist = TRY(recorded_allowlist(options.jail.state_dir, root));
    if (facts.run.seccomp_allowlist)
      spdlog::info("export: the bundle's seccomp filter is the allowlist of {} ({} system calls and the baseline)",
                   facts.run.seccomp_allowlist->origin, facts.run.seccomp_allowlist->calls.size());
  }
  // run sets LANG from the root at each run; an image has one environment: C.UTF-8 if it holds it.
  const bool has_lang = std::any_of(facts.run.environment.begin(), facts.run.environment.end(),
                                    [](const std::string& entry) { return entry.starts_with("LANG="); });
  const UniqueFd locale(open_beneath(root_fd, std::string(kRunLocaleFiles).substr(1), O_PATH));
  if (!has_lang && locale.valid()) facts.run.environment.push_back(std::string("LANG=") + kRunLocale);
  return facts;
}

std::vector<std::string> command_of(const RunOptions& run) {
  std::vector<std::string> command{run.program};
  command.insert(command.end(), run.arguments.begin(), run.arguments.end());
  return command;
}

json image_config(const RunFacts& facts, const Layer& layer, std::int64_t epoch) {
  const Identity& identity = facts.run.identity;
  json config = {{"User", std::to_string(identity.uid) + ":" + std::to_string(identity.gid)},
                 {"Env", facts.run.environment},
                 {"WorkingDir", facts.run.cwd}};
  if (facts.has_command) config["Cmd"] = command_of(facts.run);
  return {{"architecture", kImageArchitecture},
          {"os", "linux"},
          {"created", rfc3339(epoch)},
          {"config", config},
          {"rootfs", {{"type", "layers"}, {"diff_ids", {layer.diff_id}}}},
          {"history", {{{"created", rfc3339(epoch)}, {"created_by", "jailbuild export"}}}}};
}

json descriptor(const char* media_type, const std::string& bytes) {
  return {{"mediaType", media_type}, {"digest", exporting::sha256_digest(bytes)}, {"size", bytes.size()}};
}

// config.json of a runtime bundle: the isolation `run` gives, as far as OCI says it.
json bundle_config(const RunFacts& facts) {
  const RunOptions& run = facts.run;
  json capabilities = json::array();
  for (const int capability : run.capabilities) {
    char* name = cap_to_name(static_cast<cap_value_t>(capability));
    capabilities.push_back(upper(name != nullptr ? name : std::to_string(capability)));
    cap_free(name);
  }
  json rlimits = json::array();
  for (const ResourceLimit& limit : run.limits)
    rlimits.push_back({{"type", "RLIMIT_" + upper(limit.name)}, {"soft", limit.soft}, {"hard", limit.hard}});
  const std::string tmpfs_size = "size=" + run.tmpfs_size;
  json mounts = {
      {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}, {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/dev"},
       {"type", "tmpfs"},
       {"source", "tmpfs"},
       {"options", {"nosuid", "noexec", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"},
       {"type", "devpts"},
       {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}},
      {{"destination", "/dev/shm"},
       {"type", "tmpfs"},
       {"source", "shm"},
       {"options", {"nosuid", "noexec", "nodev", "mode=1777", tmpfs_size}}},
      {{"destination", "/tmp"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"nosuid", "nodev", "mode=1777", tmpfs_size}}}};
  for (const JailMount& mount : run.mounts) {
    if (mount.kind == JailMount::Kind::Tmpfs) {
      mounts.push_back({{"destination", mount.target},
                        {"type", "tmpfs"},
                        {"source", "tmpfs"},
                        {"options", {"nosuid", "nodev", "mode=0755", "size=" + mount.tmpfs.size.value_or(run.tmpfs_size)}}});
      continue;
    }
    const char* access = mount.kind == JailMount::Kind::ReadOnlyBind ? "ro" : "rw";
    mounts.push_back({{"destination", mount.target},
                      {"type", "bind"},
                      {"source", mount.source},
                      {"options", {"rbind", access, "nosuid", "nodev"}}});
  }
  json namespaces = {{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}};
  if (run.network == Network::None) namespaces.push_back({{"type", "network"}});
  json linux_section = {{"namespaces", namespaces},
                        {"maskedPaths", std::vector<std::string>(run::proc_masked_paths().begin(), run::proc_masked_paths().end())},
                        {"readonlyPaths",
                         std::vector<std::string>(run::proc_read_only_paths().begin(), run::proc_read_only_paths().end())}};
  // The allowlist when the run has one (--seccomp traced or allowlist:FILE), the denylist folded in.
  if (run.seccomp)
    linux_section["seccomp"] = run.seccomp_allowlist ? oci_seccomp(*run.seccomp_allowlist) : run::oci_default_seccomp();
  // --memory, --pids, --cpus, as the runtime's cgroup: memory bounds memory and swap together, as
  // run's does (OCI's swap is the total of both), so a jail at its limit is stopped, not swapped out.
  const CgroupLimits& limits = run.cgroup_limits;
  if (limits.memory) linux_section["resources"]["memory"] = {{"limit", *limits.memory}, {"swap", *limits.memory}};
  if (limits.pids) linux_section["resources"]["pids"] = {{"limit", *limits.pids}};
  if (limits.cpus)
    linux_section["resources"]["cpu"] = {{"quota", limits.cpu_quota_microseconds()},
                                         {"period", CgroupLimits::kCpuPeriodMicroseconds}};
  json process = {{"terminal", false},
                  {"user", {{"uid", run.identity.uid}, {"gid", run.identity.gid}}},
                  {"args", command_of(run)},
                  {"env", run.environment},
                  {"cwd", run.cwd},
                  {"capabilities",
                   {{"bounding", capabilities},
                    {"effective", capabilities},
                    {"permitted", capabilities},
                    {"inheritable", capabilities},
                    {"ambient", capabilities}}},
                  {"rlimits", rlimits},
                  {"noNewPrivileges", true}};
  if (!run.identity.groups.empty()) process["user"]["additionalGids"] = run.identity.groups;
  return {{"ociVersion", "1.0.2"},
          {"process", process},
          {"root", {{"path", "rootfs"}, {"readonly", !run.writable}}},
          {"hostname", "jail"},
          {"mounts", mounts},
          {"linux", linux_section}};
}

// A directory made beside `output` for the export to be written into, removed unless kept.
class Staging {
 public:
  static Result<Staging> beside(const std::string& output) {
    std::string pattern = join_path(parent_directory(output), ".jailbuild-tmp." + base_name(output) + ".XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) return system_error(pattern + ": make a staging directory", errno);
    Staging staging;
    staging.path_ = pattern;
    return staging;
  }
  Staging() = default;
  Staging(Staging&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  Staging& operator=(Staging&&) = delete;
  ~Staging() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }
  // Renames the staging directory (or a file in it) to `output`, which must not exist meanwhile;
  // or, with `over_empty_directory`, must be an empty directory (rename(2) replaces one at once,
  // and fails with ENOTEMPTY if anything was put in it meanwhile).
  Result<void> publish(const std::string& inside, const std::string& output, bool over_empty_directory = false) {
    const std::string from = inside.empty() ? path_ : join_path(path_, inside);
    const unsigned flags = over_empty_directory ? 0 : RENAME_NOREPLACE;
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, output.c_str(), flags) != 0)
      return system_error(output, errno);
    if (inside.empty()) path_.clear();
    return {};
  }

 private:
  std::string path_;
};

Result<void> write_text(const std::string& path, const std::string& text) {
  const UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return system_error(path, errno);
  if (const int error = write_all(fd.get(), text); error != 0) return system_error(path, error);
  return {};
}

// The layer written to the new file `path`, the progress line told of each entry (a stage whose
// total is the manifest's: what the files held when they were placed).
Result<Layer> write_layer_file(int root_fd, const Manifest& manifest, std::int64_t epoch, const std::string& path,
                               Progress& progress, const std::string& subject) {
  const UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return system_error(path, errno);
  ProgressCount total;
  for (const auto& [entry_path, entry] : manifest.entries) {
    if (entry_path == "/") continue;  // not in the layer
    ++total.files;
    if (entry.type == EntryType::File) total.bytes += entry.copy_identity.size;
  }
  const ProgressStageScope stage(progress, ProgressStage::Exporting, subject, total);
  Layer layer = TRY(exporting::write_layer(root_fd, manifest.entries, epoch, fd.get(), progress));
  if (::fsync(fd.get()) != 0) return system_error(path, errno);
  return layer;
}

// The image layout's files, by path in the layout, the layer's blob aside (a file on disk).
struct LayoutDocuments {
  std::string config, manifest, index;
  std::string config_digest, manifest_digest;
};

LayoutDocuments layout_documents(const RunFacts& facts, const Layer& layer, std::int64_t epoch, const std::string& tag) {
  LayoutDocuments documents;
  documents.config = image_config(facts, layer, epoch).dump();
  const json config_descriptor = descriptor(kConfigMediaType, documents.config);
  documents.config_digest = config_descriptor["digest"];
  documents.manifest = json{{"schemaVersion", 2},
                            {"mediaType", kManifestMediaType},
                            {"config", config_descriptor},
                            {"layers", {{{"mediaType", kLayerMediaType}, {"digest", layer.digest}, {"size", layer.size}}}}}
                           .dump();
  json manifest_descriptor = descriptor(kManifestMediaType, documents.manifest);
  documents.manifest_digest = manifest_descriptor["digest"];
  manifest_descriptor["annotations"] = {{"org.opencontainers.image.ref.name", tag}};
  documents.index =
      json{{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.index.v1+json"}, {"manifests", {manifest_descriptor}}}
          .dump();
  return documents;
}

std::string blob_path(const std::string& digest) { return "blobs/sha256/" + digest.substr(7); }

Result<void> write_layout(const std::string& directory, const LayoutDocuments& documents, const std::string& layer_file,
                          const Layer& layer) {
  for (const char* made : {"", "blobs", "blobs/sha256"})
    if (::mkdir(join_path(directory, made).c_str(), 0755) != 0 && errno != EEXIST)
      return system_error(join_path(directory, made), errno);
  if (::rename(layer_file.c_str(), join_path(directory, blob_path(layer.digest)).c_str()) != 0)
    return system_error(layer_file, errno);
  TRY(write_text(join_path(directory, blob_path(documents.config_digest)), documents.config));
  TRY(write_text(join_path(directory, blob_path(documents.manifest_digest)), documents.manifest));
  TRY(write_text(join_path(directory, "index.json"), documents.index));
  TRY(write_text(join_path(directory, "oci-layout"), R"({"imageLayoutVersion":"1.0.0"})"));
  return {};
}

// The layout as one tar (--oci-archive), entries in path order, owned by 0, dated `epoch`.
Result<void> write_layout_archive(const std::string& directory, const std::string& path, std::int64_t epoch) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(directory))
    names.push_back(entry.path().lexically_relative(directory).string());
  std::sort(names.begin(), names.end());
  const std::unique_ptr<archive, int (*)(archive*)> tar(archive_write_new(), archive_write_free);
  if (archive_write_set_format_pax_restricted(tar.get()) != ARCHIVE_OK ||
      archive_write_open_filename(tar.get(), path.c_str()) != ARCHIVE_OK)
    return Error{"export: " + path + ": " + archive_error_string(tar.get())};
  std::vector<char> buffer(1 << 20);
  for (const std::string& name : names) {
    const std::string file = join_path(directory, name);
    struct stat status {};
    if (::lstat(file.c_str(), &status) != 0) return system_error(file, errno);
    const std::unique_ptr<archive_entry, void (*)(archive_entry*)> entry(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_set_mode(entry.get(), S_ISDIR(status.st_mode) ? S_IFDIR | 0755 : S_IFREG | 0644);
    archive_entry_set_mtime(entry.get(), epoch, 0);
    if (S_ISREG(status.st_mode)) archive_entry_set_size(entry.get(), status.st_size);
    if (archive_write_header(tar.get(), entry.get()) != ARCHIVE_OK)
      return Error{"export: " + path + ": " + archive_error_string(tar.get())};
    if (!S_ISREG(status.st_mode)) continue;
    const UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return system_error(file, errno);
    for (ssize_t got; (got = ::read(fd.get(), buffer.data(), buffer.size())) != 0;) {
      if (got < 0) return system_error(file, errno);
      if (archive_write_data(tar.get(), buffer.data(), static_cast<std::size_t>(got)) < 0)
        return Error{"export: " + path + ": " + archive_error_string(tar.get())};
    }
  }
  if (archive_write_close(tar.get()) != ARCHIVE_OK) return Error{"export: " + path + ": " + archive_error_string(tar.get())};
  return {};
}

}  // namespace

// Whether `path` is a directory (not a symlink to one) holding nothing: what `mktemp -d` gives,
// which an export of a layout or a bundle may take the place of.
bool is_empty_directory(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return false;
  auto stream = DirStream::adopt(std::move(fd), path);
  if (!stream) return false;
  const auto first = stream->next();
  return first && *first == nullptr;
}

Result<Exported> export_root(const ExportOptions& options) {
  if (options.output.empty()) return Error::usage("export: no output given (--oci, --oci-archive or --bundle)");
  struct stat existing {};
  const bool over_empty_directory = ::lstat(options.output.c_str(), &existing) == 0;
  if (over_empty_directory && (options.format == ExportFormat::Archive || !is_empty_directory(options.output)))
    return Error::usage(options.output + ": exists; export makes a new one (remove it first; an empty directory is" +
                        " replaced by a layout or a bundle)");
  const OpenedRoot root = TRY(open_root(options.jail.root, false));
  const StateDir state_dir(options.jail.state_dir);
  // Under the root's lock: no sync changes a file between its check and its copy into the layer.
  const RootLock lock = TRY(RootLock::acquire(state_dir.path(), root.path, options.jail.wait_for_lock));
  const std::string manifest_path = state_dir.files_of(root.path).manifest;
  const std::optional<Manifest> manifest = TRY(load_manifest(manifest_path));
  if (!manifest) return Error::usage(root.path + ": jailbuild has no manifest for this root (looked in " + manifest_path + ")");
  if (!root.fd.valid()) return Error{root.path + ": the root is gone (its manifest remains)"};
  const std::int64_t epoch = TRY(epoch_of(options, manifest_path));
  const RunFacts facts = TRY(run_facts(options, root.path, root.fd.get()));
  // What jailbuild did not place is not exported; said at -v, since whoever put it there may
  // expect it in the image. The walk costs a readdir of every recorded directory: not done unless
  // it is said. A directory it cannot read is said too, not a failure: -v changes no export.
  if (spdlog::should_log(spdlog::level::debug)) {
    const auto unrecorded = exporting::unrecorded_paths(root.fd.get(), manifest->entries);
    if (!unrecorded)
      spdlog::debug("export: {}: cannot list what it holds beyond its manifest: {}", root.path, unrecorded.error().message);
    else
      for (const std::string& path : *unrecorded) spdlog::debug("export: {}: not in the manifest, left out of the layer", path);
  }
  if (options.format == ExportFormat::Bundle && !facts.has_command)
    return Error::usage(root.path + ": a bundle needs a command, and none is recorded (apply a spec with [run] command)");

  Staging staging = TRY(Staging::beside(options.output));
  const std::string layer_file = join_path(staging.path(), ".layer");
  spdlog::debug("export: {}: the layer of {} entries, times clamped to {}", root.path, manifest->entries.size(),
                rfc3339(epoch));
  Progress& progress = Progress::or_none(options.jail.progress);
  const Layer layer = TRY(write_layer_file(root.fd.get(), *manifest, epoch, layer_file, progress, root.path));
  Exported exported;
  exported.output = options.output;
  exported.layer_digest = layer.digest;
  exported.diff_id = layer.diff_id;
  exported.layer_size = layer.size;
  exported.entries = layer.entries;
  exported.differences = layer.differences;
  if (!layer.differences.empty()) {
    if (!options.force) {
      std::string listed;
      for (std::size_t i = 0; i < layer.differences.size() && i < 10; ++i) listed += "\n  " + layer.differences[i];
      if (layer.differences.size() > 10) listed += "\n  ... and " + std::to_string(layer.differences.size() - 10) + " more";
      return Error{root.path + ": the root differs from its manifest in " + std::to_string(layer.differences.size()) +
                   " entries (jailbuild sync restores them; export --force exports it as it is):" + listed};
    }
    for (const std::string& difference : layer.differences) spdlog::warn("export --force: {}", difference);
  }

  switch (options.format) {
    case ExportFormat::Layout:
    case ExportFormat::Archive: {
      const LayoutDocuments documents = layout_documents(facts, layer, epoch, options.tag);
      exported.config_digest = documents.config_digest;
      exported.manifest_digest = documents.manifest_digest;
      if (options.format == ExportFormat::Layout) {
        TRY(write_layout(staging.path(), documents, layer_file, layer));
        if (::chmod(staging.path().c_str(), 0755) != 0) return system_error(staging.path(), errno);
        TRY(staging.publish("", options.output, over_empty_directory));
        break;
      }
      const std::string layout = join_path(staging.path(), "layout");
      TRY(write_layout(layout, documents, layer_file, layer));
      TRY(write_layout_archive(layout, join_path(staging.path(), "image.tar"), epoch));
      TRY(staging.publish("image.tar", options.output));
      break;
    }
    case ExportFormat::Bundle: {
      const std::string rootfs = join_path(staging.path(), "rootfs");
      if (::mkdir(rootfs.c_str(), 0755) != 0) return system_error(rootfs, errno);
      {
        const ProgressStageScope stage(progress, ProgressStage::Unpacking, options.output,
                                       ProgressCount{layer.entries, layer.bytes});
        TRY(exporting::unpack_layer(layer_file, rootfs, progress));
      }
      if (::unlink(layer_file.c_str()) != 0) return system_error(layer_file, errno);
      TRY(write_text(join_path(staging.path(), "config.json"), bundle_config(facts).dump(2) + "\n"));
      // The bundle's top is readable by the runtime; the staging directory was made 0700.
      if (::chmod(staging.path().c_str(), 0755) != 0) return system_error(staging.path(), errno);
      TRY(staging.publish("", options.output, over_empty_directory));
      break;
    }
  }
  return exported;
}

}  // namespace jailbuild

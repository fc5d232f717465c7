// The layer: libarchive writes the tar (pax, restricted to what needs it) and, through a second
// archive in its "raw" format, the gzip stream; each stream is hashed as it goes (see layer.hpp).
#include "layer.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <memory>

#include <spdlog/spdlog.h>

#include "util/io.hpp"
#include "util/json_bytes.hpp"
#include "util/open_beneath.hpp"
#include "util/system_error.hpp"
#include "util/unique_fd.hpp"

namespace jailbuild::exporting {
namespace {

constexpr std::size_t kReadChunk = 1 << 20;
// The one extended attribute a layer keeps: a program's file capabilities (ping's cap_net_raw),
// which `add --keep-setuid` kept on the copy; the others are the host's business (SELinux labels).
constexpr const char* kCapabilityAttribute = "security.capability";

struct DigestDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};

// SHA-256 of a stream, by OpenSSL's libcrypto.
class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr); }
  void update(const void* bytes, std::size_t size) { EVP_DigestUpdate(context_.get(), bytes, size); }
  std::string digest() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> hash{};
    unsigned size = 0;
    EVP_DigestFinal_ex(context_.get(), hash.data(), &size);
    return "sha256:" + hex_text(std::string_view(reinterpret_cast<const char*>(hash.data()), size));
  }

 private:
  std::unique_ptr<EVP_MD_CTX, DigestDeleter> context_;
};

struct ArchiveDeleter {
  void operator()(archive* handle) const { archive_write_free(handle); }
};
using WriteArchive = std::unique_ptr<archive, ArchiveDeleter>;

Error archive_error(archive* handle, const std::string& what) {
  const char* message = archive_error_string(handle);
  return Error{"export: " + what + ": " + (message != nullptr ? message : "libarchive failed")};
}

// The compressed stream: hashed, counted and written to the output.
struct CompressedSink {
  int fd = -1;
  Sha256 hash;
  std::uint64_t size = 0;
  int error = 0;
};

la_ssize_t write_compressed(archive*, void* data, const void* buffer, std::size_t length) {
  auto* sink = static_cast<CompressedSink*>(data);
  sink->hash.update(buffer, length);
  sink->size += length;
  if (const int error = write_all(sink->fd, std::string_view(static_cast<const char*>(buffer), length)); error != 0) {
    sink->error = error;
    return -1;
  }
  return static_cast<la_ssize_t>(length);
}

// The tar stream: hashed (the diff id) and handed to the gzip archive as its one entry's data.
struct TarSink {
  archive* gzip = nullptr;
  Sha256 hash;
};

la_ssize_t write_tar(archive*, void* data, const void* buffer, std::size_t length) {
  auto* sink = static_cast<TarSink*>(data);
  sink->hash.update(buffer, length);
  return archive_write_data(sink->gzip, buffer, length);
}

// What an entry is in the root now, opened once: the descriptor (for a file's contents, read
// from it) and its status. Never through a symlink: a directory on the way replaced by one fails.
struct Opened {
  UniqueFd fd;
  struct stat status {};
  std::string link_target;
};

Result<Opened> open_entry(int root_fd, const ManifestEntry& entry) {
  const std::string relative = entry.path == "/" ? "." : entry.path.substr(1);
  int flags = O_PATH | O_NOFOLLOW;
  // A file is opened to be read; without blocking, should a FIFO have been swapped in.
  if (entry.type == EntryType::File) flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
  Opened opened;
  opened.fd = UniqueFd(open_beneath(root_fd, relative, flags));
  if (!opened.fd.valid()) return system_error(entry.path, -opened.fd.get());
  if (::fstat(opened.fd.get(), &opened.status) != 0) return system_error(entry.path, errno);
  if (S_ISLNK(opened.status.st_mode)) {
    std::array<char, 4096> target{};
    const ssize_t size = ::readlinkat(opened.fd.get(), "", target.data(), target.size());
    if (size < 0) return system_error(entry.path + ": readlink", errno);
    opened.link_target.assign(target.data(), static_cast<std::size_t>(size));
  }
  return opened;
}

// How the entry differs from what the manifest recorded; "" when it does not.
std::string difference(const ManifestEntry& entry, const Opened& opened) {
  const FileIdentity now = identity_of(opened.status);
  switch (entry.type) {
    case EntryType::Directory:
      if (!S_ISDIR(now.mode)) return "no longer a directory";
      // A directory's times change with what it holds; its mode and owner are what counts.
      if ((now.mode & 07777) != (entry.copy_identity.mode & 07777) || now.uid != entry.copy_identity.uid ||
          now.gid != entry.copy_identity.gid)
        return "changed (mode or owner)";
      return "";
    case EntryType::Symlink:
      if (!S_ISLNK(now.mode)) return "no longer a symlink";
      if (opened.link_target != entry.link_target) return "points elsewhere (" + opened.link_target + ")";
      return "";
    case EntryType::File:
      if (const std::string what = identity_difference(entry.copy_identity, now); !what.empty())
        return "changed (" + what + ")";
      return "";
  }
  return "";
}

// `buffer`: the caller's, one for every file (a megabyte zeroed per file cost 2.5% of an export).
Result<void> write_entry(archive* tar, const ManifestEntry& entry, const Opened& opened, std::int64_t epoch,
                         std::vector<char>& buffer) {
  const std::unique_ptr<archive_entry, void (*)(archive_entry*)> header(archive_entry_new(), archive_entry_free);
  archive_entry* item = header.get();
  archive_entry_set_pathname(item, entry.path.c_str() + 1);
  archive_entry_set_mode(item, opened.status.st_mode);
  archive_entry_set_uid(item, opened.status.st_uid);
  archive_entry_set_gid(item, opened.status.st_gid);
  // The host's time for what mirrors a host path, as recorded when it was placed: the root's own
  // times say when jailbuild wrote there (a sync that re-made a symlink, a directory whose entry
  // was replaced), which no image should show as a change. Generated files keep the root's.
  constexpr std::int64_t kNanosecondsPerSecond = 1'000'000'000;
  const std::int64_t recorded = entry.source_identity.mtime_ns / kNanosecondsPerSecond;
  const std::int64_t time = entry.source.empty() || entry.source_identity == FileIdentity{}
                                ? static_cast<std::int64_t>(opened.status.st_mtim.tv_sec)
                                : recorded;
  const std::int64_t mtime = time < epoch ? time : epoch;
  archive_entry_set_mtime(item, mtime, 0);
  if (S_ISLNK(opened.status.st_mode)) archive_entry_set_symlink(item, opened.link_target.c_str());
  if (S_ISCHR(opened.status.st_mode) || S_ISBLK(opened.status.st_mode)) archive_entry_set_rdev(item, opened.status.st_rdev);
  const bool regular = S_ISREG(opened.status.st_mode);
  if (regular) {
    archive_entry_set_size(item, opened.status.st_size);
    std::array<char, 256> capability{};
    const ssize_t size = ::fgetxattr(opened.fd.get(), kCapabilityAttribute, capability.data(), capability.size());
    if (size > 0) archive_entry_xattr_add_entry(item, kCapabilityAttribute, capability.data(), static_cast<std::size_t>(size));
  }
  // A name that is not UTF-8 is a warning: libarchive writes its bytes as they are, said so in
  // that entry's pax header (hdrcharset=BINARY). Names that are UTF-8 are translated from the
  // C.UTF-8 locale jailbuild-export sets, whatever the caller's.
  if (const int written = archive_write_header(tar, item); written != ARCHIVE_OK) {
    if (written != ARCHIVE_WARN) return archive_error(tar, entry.path);
    spdlog::debug("export: {}: {}", entry.path, archive_error_string(tar));
  }
  if (!regular) return {};
  auto left = static_cast<std::uint64_t>(opened.status.st_size);
  while (left > 0) {
    const ssize_t got = ::read(opened.fd.get(), buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return system_error(entry.path + ": read", errno);
    if (got == 0) return Error{entry.path + ": shorter than its size while exported (changed meanwhile)"};
    const auto size = static_cast<std::uint64_t>(got) < left ? static_cast<std::size_t>(got) : static_cast<std::size_t>(left);
    if (archive_write_data(tar, buffer.data(), size) < 0) return archive_error(tar, entry.path);
    left -= size;
  }
  return {};
}

}  // namespace

std::string sha256_digest(std::string_view bytes) {
  Sha256 hash;
  hash.update(bytes.data(), bytes.size());
  return hash.digest();
}

Result<Layer> write_layer(int root_fd, const std::map<std::string, ManifestEntry>& entries, std::int64_t epoch,
                          int out, Progress& progress) {
  CompressedSink compressed;
  compressed.fd = out;
  const WriteArchive gzip(archive_write_new());
  // "raw": one entry's data as it is, here the tar, through the gzip filter: no name, no time.
  if (archive_write_set_format_raw(gzip.get()) != ARCHIVE_OK || archive_write_add_filter_gzip(gzip.get()) != ARCHIVE_OK ||
      archive_write_set_options(gzip.get(), "gzip:!timestamp") != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(gzip.get(), 1) != ARCHIVE_OK ||
      archive_write_open(gzip.get(), &compressed, nullptr, write_compressed, nullptr) != ARCHIVE_OK)
    return archive_error(gzip.get(), "set up gzip");
  const std::unique_ptr<archive_entry, void (*)(archive_entry*)> stream(archive_entry_new(), archive_entry_free);
  archive_entry_set_pathname(stream.get(), "layer.tar");
  archive_entry_set_filetype(stream.get(), AE_IFREG);
  if (archive_write_header(gzip.get(), stream.get()) != ARCHIVE_OK) return archive_error(gzip.get(), "start gzip");

  TarSink tar_sink;
  tar_sink.gzip = gzip.get();
  const WriteArchive tar(archive_write_new());
  if (archive_write_set_format_pax_restricted(tar.get()) != ARCHIVE_OK ||
      archive_write_open(tar.get(), &tar_sink, nullptr, write_tar, nullptr) != ARCHIVE_OK)
    return archive_error(tar.get(), "set up tar");

  Layer layer;
  std::vector<char> buffer(kReadChunk);
  for (const auto& [path, entry] : entries) {
    if (path == "/") continue;  // the layer's own top
    auto opened = open_entry(root_fd, entry);
    if (!opened) {
      layer.differences.push_back(path + ": " + opened.error().message);
      continue;
    }
    if (const std::string differs = difference(entry, *opened); !differs.empty())
      layer.differences.push_back(path + ": " + differs);
    TRY(write_entry(tar.get(), entry, *opened, epoch, buffer));
    const std::uint64_t bytes = S_ISREG(opened->status.st_mode) ? static_cast<std::uint64_t>(opened->status.st_size) : 0;
    ++layer.entries;
    layer.bytes += bytes;
    progress.advance(1, bytes);
  }
  if (archive_write_close(tar.get()) != ARCHIVE_OK) return archive_error(tar.get(), "finish the tar");
  if (archive_write_close(gzip.get()) != ARCHIVE_OK) {
    if (compressed.error != 0) return system_error("export: write the layer", compressed.error);
    return archive_error(gzip.get(), "finish gzip");
  }
  layer.digest = compressed.hash.digest();
  layer.diff_id = tar_sink.hash.digest();
  layer.size = compressed.size;
  return layer;
}

Result<void> unpack_layer(const std::string& layer, const std::string& directory, Progress& progress) {
  // libarchive writes relative to the working directory (an absolute name is refused): the
  // directory, for the time of the unpacking (jailbuild-export is single-threaded).
  const UniqueFd layer_fd(::open(layer.c_str(), O_RDONLY | O_CLOEXEC));  // named relative to the caller's directory
  if (!layer_fd.valid()) return system_error(layer, errno);
  const UniqueFd caller_cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  const UniqueFd target(::open(directory.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!caller_cwd.valid() || !target.valid() || ::fchdir(target.get()) != 0) return system_error(directory, errno);
  struct BackToCaller {
    int fd;
    ~BackToCaller() { (void)::fchdir(fd); }
  } back{caller_cwd.get()};
  const std::unique_ptr<archive, int (*)(archive*)> reader(archive_read_new(), archive_read_free);
  archive_read_support_filter_gzip(reader.get());
  archive_read_support_format_tar(reader.get());
  if (archive_read_open_fd(reader.get(), layer_fd.get(), kReadChunk) != ARCHIVE_OK)
    return archive_error(reader.get(), layer);
  const WriteArchive disk(archive_write_disk_new());
  archive_write_disk_set_options(disk.get(), ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_TIME |
                                                 ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                 ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                 ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
  for (archive_entry* entry = nullptr;;) {
    const int status = archive_read_next_header(reader.get(), &entry);
    if (status == ARCHIVE_EOF) break;
    if (status != ARCHIVE_OK) return archive_error(reader.get(), layer);
    const std::string path = archive_entry_pathname(entry);
    if (archive_write_header(disk.get(), entry) != ARCHIVE_OK) return archive_error(disk.get(), path);
    const void* block = nullptr;
    std::size_t size = 0;
    la_int64_t offset = 0;
    int read = ARCHIVE_OK;
    while ((read = archive_read_data_block(reader.get(), &block, &size, &offset)) == ARCHIVE_OK)
      if (archive_write_data_block(disk.get(), block, size, offset) != ARCHIVE_OK)
        return archive_error(disk.get(), path);
    if (read != ARCHIVE_EOF) return archive_error(reader.get(), path);
    if (archive_write_finish_entry(disk.get()) != ARCHIVE_OK) return archive_error(disk.get(), path);
    progress.advance(1, archive_entry_size_is_set(entry) ? static_cast<std::uint64_t>(archive_entry_size(entry)) : 0);
  }
  if (archive_write_close(disk.get()) != ARCHIVE_OK) return archive_error(disk.get(), directory);
  return {};
}

}  // namespace jailbuild::exporting

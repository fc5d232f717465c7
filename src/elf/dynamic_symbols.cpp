// The imported symbols of an object, from its dynamic symbol table as the loader finds it: the
// dynamic segment's DT_SYMTAB and DT_STRTAB, translated to file offsets through the PT_LOAD
// segments. Section headers are never read: they are optional, unchecked by the loader, and
// reading them (or .symtab) would cost more than the rules that use this may add to a plan.
//
// The table has no size of its own in the dynamic segment. Its symbol count is DT_HASH's nchain
// (one chain entry per symbol); an object with only DT_GNU_HASH hashes just the symbols from
// `symoffset` on (ld puts the undefined ones first, below it), so the count is one past the last
// symbol of the chain of the highest bucket (the chain ends at the first entry with bit 0 set).
// When no bucket is used (an object that exports nothing) the table says nothing of the symbols:
// ld then writes symoffset 1 whatever their number. The loader looks up only the symbols that
// relocations name, so the count is then one past the highest symbol index of the dynamic
// relocations (DT_RELA, DT_REL, DT_JMPREL): every symbol the object can import from another.
//
// Bounds: as in the reader, every range is checked with contains() before it is read, each table
// is confined to the file-backed part of the PT_LOAD segment that maps it, loops advance through
// bytes that are present, and nothing is allocated in proportion to a header field.

#include <algorithm>
#include <iterator>
#include <utility>

#include "dynamic_symbols.hpp"
#include "elf_format.hpp"

namespace jailbuild::elf {
namespace {

using namespace format;

constexpr std::uint64_t kDtPltrelsz = 2;
constexpr std::uint64_t kDtHash = 4;
constexpr std::uint64_t kDtSymtab = 6;
constexpr std::uint64_t kDtRela = 7;
constexpr std::uint64_t kDtRelasz = 8;
constexpr std::uint64_t kDtRelaent = 9;
constexpr std::uint64_t kDtSyment = 11;
constexpr std::uint64_t kDtRel = 17;
constexpr std::uint64_t kDtRelsz = 18;
constexpr std::uint64_t kDtRelent = 19;
constexpr std::uint64_t kDtPltrel = 20;
constexpr std::uint64_t kDtJmprel = 23;
constexpr std::uint64_t kDtGnuHash = 0x6ffffef5;
constexpr std::uint64_t kDtVersym = 0x6ffffff0;
constexpr std::uint64_t kDtVerneed = 0x6ffffffe;
constexpr std::uint64_t kDtVerneednum = 0x6fffffff;

constexpr std::uint16_t kShnUndef = 0;
constexpr std::uint8_t kStbWeak = 2;
// DT_VERSYM entries: bit 15 hides a defined symbol's version; 0 (local) and 1 (global) name none.
constexpr std::uint16_t kVersymIndexMask = 0x7fff;
constexpr std::uint16_t kFirstVersionIndex = 2;

// Each imported symbol gets its own copy of its name and version, so N symbols naming one long
// string would cost N copies (a 256 KiB file could ask for GiBs). The largest real import lists
// hold a few hundred KiB of names, so the total is capped far above them instead of capping one.
constexpr std::uint64_t kMaxNameBytes = std::uint64_t{16} << 20;

// The dynamic tags that locate the symbol table; like the loader, the last entry of a tag wins.
struct SymbolTags {
  std::optional<std::uint64_t> strtab, strsz, symtab, syment, hash, gnu_hash, versym, verneed, verneednum;
  std::optional<std::uint64_t> rela, relasz, relaent, rel, relsz, relent, jmprel, pltrelsz, pltrel;

  void record(std::uint64_t tag, std::uint64_t value) {
    switch (tag) {
      case kDtStrtab: strtab = value; break;
      case kDtStrsz: strsz = value; break;
      case kDtSymtab: symtab = value; break;
      case kDtSyment: syment = value; break;
      case kDtHash: hash = value; break;
      case kDtGnuHash: gnu_hash = value; break;
      case kDtVersym: versym = value; break;
      case kDtVerneed: verneed = value; break;
      case kDtVerneednum: verneednum = value; break;
      case kDtRela: rela = value; break;
      case kDtRelasz: relasz = value; break;
      case kDtRelaent: relaent = value; break;
      case kDtRel: rel = value; break;
      case kDtRelsz: relsz = value; break;
      case kDtRelent: relent = value; break;
      case kDtJmprel: jmprel = value; break;
      case kDtPltrelsz: pltrelsz = value; break;
      case kDtPltrel: pltrel = value; break;
      default: break;
    }
  }
};

template <std::endian Order>
std::uint32_t word_at(Bytes bytes, std::uint64_t offset) {
  return load<Stored<std::uint32_t, Order>>(bytes, offset);
}

// DT_HASH: nbucket, nchain, then the buckets and one chain entry per symbol.
template <std::endian Order>
Result<std::uint64_t> count_from_hash(Bytes table) {
  if (!contains(table, 0, 8)) {
    return Error{"DT_HASH table cut short: " + dec(table.size()) + " bytes left in its PT_LOAD segment"};
  }
  return std::uint64_t{word_at<Order>(table, 4)};
}

struct GnuHashCount {
  std::uint64_t count = 0;  // symoffset if no symbol is hashed
  bool hashes_any = false;
};

// DT_GNU_HASH: nbuckets, symoffset, bloom_size, bloom_shift, the bloom filter (words of the
// class's size), the buckets (the first symbol of each chain, 0 for none), then one chain entry
// per symbol from symoffset on. The walk reads consecutive entries forward, so a chain without
// its end bit stops at the end of the segment instead of looping.
template <std::endian Order>
Result<GnuHashCount> count_from_gnu_hash(Bytes table, std::uint64_t word_size) {
  if (!contains(table, 0, 16)) {
    return Error{"DT_GNU_HASH header cut short: " + dec(table.size()) + " bytes left in its PT_LOAD segment"};
  }
  const std::uint64_t bucket_count = word_at<Order>(table, 0);
  const std::uint64_t symoffset = word_at<Order>(table, 4);
  const std::uint64_t bloom_words = word_at<Order>(table, 8);
  // 32-bit fields times at most 8: no product or sum here can overflow 64 bits.
  const std::uint64_t buckets_offset = 16 + bloom_words * word_size;
  if (!contains(table, buckets_offset, bucket_count * 4)) {
    return Error{"DT_GNU_HASH buckets run past the end of its PT_LOAD segment: " + dec(bloom_words) + " bloom words, " +
                 dec(bucket_count) + " buckets, " + dec(table.size()) + " bytes"};
  }
  std::uint64_t last_chain_start = 0;
  for (std::uint64_t bucket = 0; bucket < bucket_count; ++bucket) {
    last_chain_start = std::max<std::uint64_t>(last_chain_start, word_at<Order>(table, buckets_offset + bucket * 4));
  }
  if (last_chain_start == 0) return GnuHashCount{symoffset, false};
  if (last_chain_start < symoffset) {
    return Error{"DT_GNU_HASH bucket names symbol " + dec(last_chain_start) + ", below symoffset " + dec(symoffset)};
  }
  const std::uint64_t chains_offset = buckets_offset + bucket_count * 4;
  for (std::uint64_t symbol = last_chain_start;; ++symbol) {
    const std::uint64_t entry = chains_offset + (symbol - symoffset) * 4;
    if (!contains(table, entry, 4)) {
      return Error{"DT_GNU_HASH chain from symbol " + dec(last_chain_start) +
                   " has no end marker before the end of its PT_LOAD segment"};
    }
    if ((word_at<Order>(table, entry) & 1) != 0) return GnuHashCount{symbol + 1, true};
  }
}

// One DT_VERNEED auxiliary entry: the version index DT_VERSYM uses for it, and its name.
struct NeededVersion {
  std::uint16_t index = 0;
  std::uint32_t name = 0;  // offset in the dynamic string table
};

// The needed versions, sorted by index. Entries are linked by forward offsets (vn_next, vna_next;
// 0 ends a list) within the segment that maps DT_VERNEED. Real entries never overlap, so more
// entries than 16-byte slots in that segment means a crafted file.
template <std::endian Order>
Result<std::vector<NeededVersion>> read_needed_versions(Bytes table, std::uint64_t verneed_count) {
  const std::uint64_t budget = table.size() / sizeof(Vernaux<Order>) + 1;
  std::uint64_t visited = 0;
  std::vector<NeededVersion> versions;
  const auto too_many = [&] {
    return Error{"DT_VERNEED entries overlap: more than " + dec(budget) + " in " + dec(table.size()) + " bytes"};
  };
  std::uint64_t need_offset = 0;
  for (std::uint64_t need = 0; need < verneed_count; ++need) {
    if (++visited > budget) return too_many();
    if (!contains(table, need_offset, sizeof(Verneed<Order>))) {
      return Error{"DT_VERNEED entry " + dec(need) + " at offset " + hex(need_offset) +
                   " runs past the end of its PT_LOAD segment"};
    }
    const auto entry = load<Verneed<Order>>(table, need_offset);
    std::uint64_t aux_offset = need_offset + entry.aux;  // both below 2^33: no overflow
    for (std::uint64_t aux = 0; aux < entry.count; ++aux) {
      if (++visited > budget) return too_many();
      if (!contains(table, aux_offset, sizeof(Vernaux<Order>))) {
        return Error{"DT_VERNEED entry " + dec(need) + ": version " + dec(aux) + " at offset " + hex(aux_offset) +
                     " runs past the end of its PT_LOAD segment"};
      }
      const auto version = load<Vernaux<Order>>(table, aux_offset);
      versions.push_back({static_cast<std::uint16_t>(version.other & kVersymIndexMask), version.name});
      if (version.next == 0) break;
      aux_offset += version.next;
    }
    if (entry.next == 0) break;
    need_offset += entry.next;
  }
  // Stable: for an index given twice the last entry wins, as in glibc's l_versions.
  std::stable_sort(versions.begin(), versions.end(),
                   [](const NeededVersion& a, const NeededVersion& b) { return a.index < b.index; });
  return versions;
}

// The table at `address`, which must hold `count` entries of `entry_size` bytes.
Result<Bytes> table_of(Bytes file, std::span<const Segment> segments, std::uint64_t address, std::uint64_t count,
                       std::uint64_t entry_size, std::string_view tag_name) {
  const MappedTable mapped = TRY(map_address(file, segments, address, tag_name));
  std::uint64_t size = 0;
  if (__builtin_mul_overflow(count, entry_size, &size) || !contains(mapped.to_segment_end, 0, size)) {
    return Error{std::string(tag_name) + " " + hex(address) + ": " + dec(count) + " entries of " + dec(entry_size) +
                 " bytes run past the end of its PT_LOAD segment (" + dec(mapped.to_segment_end.size()) +
                 " bytes from there)"};
  }
  return mapped.to_segment_end.first(size);
}

// One past the highest symbol index that the relocation table at `address` (of `size` bytes, in
// entries of type Entry) refers to; 0 for no table.
template <typename Layout, typename Entry>
Result<std::uint64_t> symbols_relocated(Bytes file, std::span<const Segment> segments,
                                        std::optional<std::uint64_t> address, std::optional<std::uint64_t> size,
                                        std::optional<std::uint64_t> entry_size, std::string_view tag_name) {
  if (!address || size.value_or(0) == 0) return std::uint64_t{0};
  if (entry_size && *entry_size != sizeof(Entry)) {
    return Error{std::string(tag_name) + " entry size " + dec(*entry_size) + " is not the " +
                 std::string(Layout::kName) + " size " + dec(sizeof(Entry))};
  }
  const Bytes table = TRY(table_of(file, segments, *address, *size / sizeof(Entry), sizeof(Entry), tag_name));
  std::uint64_t end = 0;
  for (std::uint64_t offset = 0; offset < table.size(); offset += sizeof(Entry)) {
    const std::uint64_t info = load<Entry>(table, offset).info;
    end = std::max(end, (info >> Layout::kRelocationSymbolShift) + 1);
  }
  return end;
}

// One past the highest symbol index of the dynamic relocations (DT_RELA, DT_REL, DT_JMPREL).
template <typename Layout>
Result<std::uint64_t> symbols_relocated(Bytes file, std::span<const Segment> segments, const SymbolTags& tags) {
  using Rel = typename Layout::Rel;
  using Rela = typename Layout::Rela;
  const std::uint64_t end =
      std::max(TRY((symbols_relocated<Layout, Rela>(file, segments, tags.rela, tags.relasz, tags.relaent, "DT_RELA"))),
               TRY((symbols_relocated<Layout, Rel>(file, segments, tags.rel, tags.relsz, tags.relent, "DT_REL"))));
  if (!tags.jmprel || tags.pltrelsz.value_or(0) == 0) return end;
  // The PLT's relocations are of the type DT_PLTREL names.
  if (tags.pltrel != kDtRela && tags.pltrel != kDtRel) {
    return Error{"DT_JMPREL without a DT_PLTREL of DT_REL or DT_RELA"};
  }
  Result<std::uint64_t> plt_end =
      tags.pltrel == kDtRela
          ? symbols_relocated<Layout, Rela>(file, segments, tags.jmprel, tags.pltrelsz, std::nullopt, "DT_JMPREL")
          : symbols_relocated<Layout, Rel>(file, segments, tags.jmprel, tags.pltrelsz, std::nullopt, "DT_JMPREL");
  return std::max(end, TRY(plt_end));
}

template <typename Layout>
Result<std::vector<ImportedSymbol>> imported_symbols_as(Bytes file, const ElfHeader& header) {
  using Sym = typename Layout::Sym;
  constexpr std::endian kOrder = Layout::kOrder;
  const std::vector<Segment> segments = TRY(read_segments<Layout>(file, header));
  const Segment* dynamic = find_dynamic_segment(segments);
  if (dynamic == nullptr) return std::vector<ImportedSymbol>();  // statically linked
  const Bytes dynamic_contents = TRY(segment_contents(file, *dynamic, "PT_DYNAMIC"));
  const SymbolTags tags = TRY((read_dynamic_tags<Layout, SymbolTags>(dynamic_contents)));
  if (!tags.symtab) return std::vector<ImportedSymbol>();
  if (!tags.strtab) return Error{"dynamic section has DT_SYMTAB but no DT_STRTAB"};
  if (tags.syment && *tags.syment != sizeof(Sym)) {
    return Error{"DT_SYMENT " + dec(*tags.syment) + " is not the " + std::string(Layout::kName) + " symbol size " +
                 dec(sizeof(Sym))};
  }

  std::uint64_t count = 0;
  if (tags.hash) {
    const Bytes table = TRY(map_address(file, segments, *tags.hash, "DT_HASH")).to_segment_end;
    count = TRY(count_from_hash<kOrder>(table));
  } else if (tags.gnu_hash) {
    const Bytes table = TRY(map_address(file, segments, *tags.gnu_hash, "DT_GNU_HASH")).to_segment_end;
    const GnuHashCount hashed = TRY(count_from_gnu_hash<kOrder>(table, header.elf_class == kClass64 ? 8 : 4));
    count = hashed.count;
    if (!hashed.hashes_any) count = std::max(count, TRY(symbols_relocated<Layout>(file, segments, tags)));
  } else {
    return Error{"dynamic section has DT_SYMTAB but neither DT_HASH nor DT_GNU_HASH to give its size"};
  }
  const Bytes symbols = TRY(table_of(file, segments, *tags.symtab, count, sizeof(Sym), "DT_SYMTAB"));
  const StringTable strings = TRY(StringTable::locate(file, segments, *tags.strtab, tags.strsz));

  Bytes versym;
  std::vector<NeededVersion> needed_versions;
  if (tags.versym) {
    versym = TRY(table_of(file, segments, *tags.versym, count, 2, "DT_VERSYM"));
    if (tags.verneed) {
      const Bytes table = TRY(map_address(file, segments, *tags.verneed, "DT_VERNEED")).to_segment_end;
      needed_versions = TRY(read_needed_versions<kOrder>(table, tags.verneednum.value_or(0)));
    }
  }

  std::vector<ImportedSymbol> imports;
  std::uint64_t name_bytes = 0;
  const auto charge = [&name_bytes](const std::string& text) -> Result<void> {
    name_bytes += text.size();
    if (name_bytes > kMaxNameBytes) {
      return Error{"imported symbol names exceed " + dec(kMaxNameBytes) + " bytes in all"};
    }
    return {};
  };
  // Symbol 0 is the reserved null symbol.
  for (std::uint64_t index = 1; index < count; ++index) {
    const auto symbol = load<Sym>(symbols, index * sizeof(Sym));
    if (symbol.shndx != kShnUndef || symbol.name == 0) continue;
    ImportedSymbol import;
    import.name = TRY(strings.string_at(symbol.name, "st_name of symbol " + dec(index)));
    if (import.name.empty()) continue;
    TRY(charge(import.name));
    import.weak = (symbol.info >> 4) == kStbWeak;
    if (!versym.empty()) {
      const std::uint16_t version_index = load<Stored<std::uint16_t, kOrder>>(versym, index * 2) & kVersymIndexMask;
      if (version_index >= kFirstVersionIndex) {
        const auto after =
            std::upper_bound(needed_versions.begin(), needed_versions.end(), version_index,
                             [](std::uint16_t wanted, const NeededVersion& version) { return wanted < version.index; });
        if (after == needed_versions.begin() || std::prev(after)->index != version_index) {
          return Error{"DT_VERSYM gives undefined symbol " + import.name + " version index " + dec(version_index) +
                       ", which no DT_VERNEED entry defines"};
        }
        import.version = TRY(strings.string_at(std::prev(after)->name, "vna_name"));
        TRY(charge(*import.version));
      }
    }
    imports.push_back(std::move(import));
  }
  return imports;
}

}  // namespace

Result<std::vector<ImportedSymbol>> imported_symbols(std::span<const std::byte> bytes) {
  const ElfHeader header = TRY(parse_header(bytes));
  return visit_layout(header.elf_class, header.data,
                      [&](auto layout) { return imported_symbols_as<decltype(layout)>(bytes, header); });
}

Result<std::vector<ImportedSymbol>> read_imported_symbols(const std::string& path) {
  const MappedFile file = TRY(MappedFile::open(path));  // its errors name the path
  Result<std::vector<ImportedSymbol>> imports = imported_symbols(file.bytes());
  if (!imports) return Error{path + ": " + imports.error().message};
  return imports;
}

}  // namespace jailbuild::elf

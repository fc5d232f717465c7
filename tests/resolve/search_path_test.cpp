// The pure search-path rules of docs/loader-rules.md#path-lists and #dynamic-string-tokens, with no disk access.
#include <gtest/gtest.h>

#include "resolve/search_path.hpp"

namespace jailbuild {
namespace {

const DstValues kValues{"/opt/app/bin", "lib/x86_64-linux-gnu", "x86_64"};
const DstValues kNoOrigin{std::nullopt, "lib/x86_64-linux-gnu", "x86_64"};
using Dirs = std::vector<std::string>;

TEST(ExpandDst, ReplacesEveryTokenBracedOrNot) {
  EXPECT_EQ(expand_dst("$ORIGIN/../lib", kValues), "/opt/app/bin/../lib");
  EXPECT_EQ(expand_dst("${ORIGIN}/x", kValues), "/opt/app/bin/x");
  EXPECT_EQ(expand_dst("/usr/$LIB/a:${PLATFORM}", kValues), "/usr/lib/x86_64-linux-gnu/a:x86_64");
  EXPECT_EQ(expand_dst("libpl-$PLATFORM.so", kValues), "libpl-x86_64.so");
}

TEST(ExpandDst, LeavesNonTokensLiterally) {
  EXPECT_EQ(expand_dst("$ORIGINX/lib", kValues), "$ORIGINX/lib");
  EXPECT_EQ(expand_dst("$ORIGIN_1", kValues), "$ORIGIN_1");
  EXPECT_EQ(expand_dst("${ORIGIN", kValues), "${ORIGIN");
  EXPECT_EQ(expand_dst("$HOME/lib$", kValues), "$HOME/lib$");
  EXPECT_EQ(expand_dst("$LIBS", kValues), "$LIBS");
  // A token followed by a non-identifier character is still a token.
  EXPECT_EQ(expand_dst("$LIB-x", kValues), "lib/x86_64-linux-gnu-x");
}

TEST(ExpandDst, FailsWhenATokenHasNoValue) {
  EXPECT_EQ(expand_dst("$ORIGIN/lib", kNoOrigin), std::nullopt);
  EXPECT_EQ(expand_dst("/a/$LIB", kNoOrigin), "/a/lib/x86_64-linux-gnu");
  const DstValues no_platform{"/o", "lib", std::nullopt};
  EXPECT_EQ(expand_dst("/p/$PLATFORM", no_platform), std::nullopt);
}

TEST(HasDst, RecognisesOnlyRealTokens) {
  EXPECT_TRUE(has_dst("$ORIGIN"));
  EXPECT_TRUE(has_dst("a/${LIB}/b"));
  EXPECT_FALSE(has_dst("$ORIGINX"));
  EXPECT_FALSE(has_dst("libc.so.6"));
  EXPECT_FALSE(has_dst("$"));
}

TEST(ParseSearchPath, SplitsDynamicTagsOnColonOnly) {
  EXPECT_EQ(parse_search_path("/a:/b;c", PathListKind::DynamicTag, kValues), (Dirs{"/a/", "/b;c/"}));
}

TEST(ParseSearchPath, SplitsLdLibraryPathOnColonAndSemicolon) {
  EXPECT_EQ(parse_search_path("/a;/b:/c", PathListKind::LdLibraryPath, kValues), (Dirs{"/a/", "/b/", "/c/"}));
}

TEST(ParseSearchPath, KeepsEmptyElementsAsTheCurrentDirectory) {
  EXPECT_EQ(parse_search_path("/a::/b", PathListKind::DynamicTag, kValues), (Dirs{"/a/", "", "/b/"}));
  EXPECT_EQ(parse_search_path(":", PathListKind::LdLibraryPath, kValues), (Dirs{""}));
  EXPECT_EQ(parse_search_path("/nonexistent;", PathListKind::LdLibraryPath, kValues), (Dirs{"/nonexistent/", ""}));
  EXPECT_EQ(parse_search_path("", PathListKind::LdLibraryPath, kValues), Dirs{});
}

TEST(ParseSearchPath, NormalisesOnlyTrailingSlashes) {
  EXPECT_EQ(parse_search_path("//opt//lib//:/:$ORIGIN/../lib", PathListKind::DynamicTag, kValues),
            (Dirs{"//opt//lib/", "/", "/opt/app/bin/../lib/"}));
}

TEST(ParseSearchPath, DropsDuplicatesKeepingTheFirst) {
  EXPECT_EQ(parse_search_path("/b:/a:/b/:/a", PathListKind::DynamicTag, kValues), (Dirs{"/b/", "/a/"}));
}

TEST(ParseSearchPath, DropsElementsWhoseTokensCannotExpand) {
  EXPECT_EQ(parse_search_path("$ORIGIN/lib:/usr/lib", PathListKind::DynamicTag, kNoOrigin), (Dirs{"/usr/lib/"}));
  EXPECT_EQ(parse_search_path("/x/$LIB:rel", PathListKind::DynamicTag, kNoOrigin),
            (Dirs{"/x/lib/x86_64-linux-gnu/", "rel/"}));
}

TEST(ParseSearchPath, ExpandsLdLibraryPathAsAWholeFirst) {
  // An unknown token empties the whole LD_LIBRARY_PATH, which then reads as one empty element.
  EXPECT_EQ(parse_search_path("/a:$ORIGIN/w", PathListKind::LdLibraryPath, kNoOrigin), (Dirs{""}));
  EXPECT_EQ(parse_search_path("$ORIGIN/w", PathListKind::LdLibraryPath, kValues), (Dirs{"/opt/app/bin/w/"}));
}

TEST(OriginOf, CutsTheLastComponentWithoutResolvingAnything) {
  EXPECT_EQ(origin_of("/usr/lib/x86_64-linux-gnu/libc.so.6", "/cwd"), "/usr/lib/x86_64-linux-gnu");
  EXPECT_EQ(origin_of("/S10/x/lib/../dep/libd.so", "/cwd"), "/S10/x/lib/../dep");
  EXPECT_EQ(origin_of("/libx.so", "/cwd"), "/");
  EXPECT_EQ(origin_of("sub8/librel.so", "/home/u"), "/home/u/sub8");
  EXPECT_EQ(origin_of("libw.so", "/home/u/"), "/home/u");
}

// Search order (docs/loader-rules.md#search-order). Objects: 0 the program, 1.. libraries.
using Source = SearchSource;
std::vector<std::pair<Source, std::size_t>> order(const SearchContext& context) {
  std::vector<std::pair<Source, std::size_t>> out;
  for (const SearchStep& step : search_steps(context)) {
    const bool owned = step.source == Source::Rpath || step.source == Source::Runpath;
    out.emplace_back(step.source, owned ? step.owner : 0);
  }
  return out;
}

TEST(SearchSteps, PlainLibraryGoesToCacheThenSystemDirs) {
  SearchContext context;
  context.loader_chain = {{2, false}, {1, false}, {0, false}};
  EXPECT_EQ(order(context), (decltype(order(context)){{Source::Cache, 0}, {Source::SystemDirs, 0}}));
}

TEST(SearchSteps, RpathChainComesBeforeLdLibraryPathAndRunpathIsLast) {
  SearchContext context;
  context.loader_chain = {{2, true}, {1, false}, {0, true}};
  context.program_has_rpath = true;
  context.has_ld_library_path = true;
  EXPECT_EQ(order(context), (decltype(order(context)){{Source::Rpath, 2},
                                                      {Source::Rpath, 0},
                                                      {Source::LdLibraryPath, 0},
                                                      {Source::Cache, 0},
                                                      {Source::SystemDirs, 0}}));
}

TEST(SearchSteps, ProgramRpathIsInheritedWhenTheChainDoesNotReachIt) {
  SearchContext context;  // e.g. a dlopen'ed object: its chain stops before the program
  context.loader_chain = {{3, false}};
  context.program_has_rpath = true;
  EXPECT_EQ(order(context).front(), (std::pair{Source::Rpath, std::size_t{0}}));
}

TEST(SearchSteps, ARunpathOnTheRequesterSuppressesEveryRpath) {
  SearchContext context;
  context.loader_chain = {{2, false}, {1, true}, {0, true}};
  context.program_has_rpath = true;
  context.loader_has_runpath = true;
  context.has_ld_library_path = true;
  EXPECT_EQ(order(context),
            (decltype(order(context)){
                {Source::LdLibraryPath, 0}, {Source::Runpath, 2}, {Source::Cache, 0}, {Source::SystemDirs, 0}}));
}

TEST(SearchSteps, NodeflibDropsTheSystemDirsButKeepsTheCache) {
  SearchContext context;
  context.loader_chain = {{0, false}};
  context.nodeflib = true;
  EXPECT_EQ(order(context), (decltype(order(context)){{Source::Cache, 0}}));
}

TEST(CacheHitAllowed, NodeflibRejectsSystemDirsAndTheirSubdirectoriesByPrefix) {
  const std::vector<std::string> system_dirs{"/lib/x86_64-linux-gnu/", "/usr/lib/x86_64-linux-gnu/", "/lib/",
                                             "/usr/lib/"};
  EXPECT_TRUE(cache_hit_allowed("/usr/lib/x86_64-linux-gnu/libfakeroot/libfakeroot-0.so", system_dirs, false));
  EXPECT_FALSE(cache_hit_allowed("/usr/lib/x86_64-linux-gnu/libfakeroot/libfakeroot-0.so", system_dirs, true));
  EXPECT_FALSE(cache_hit_allowed("/lib/libc.so.6", system_dirs, true));
  EXPECT_TRUE(cache_hit_allowed("/usr/local/cuda-13.0/lib/libcudart.so.13", system_dirs, true));
  EXPECT_TRUE(cache_hit_allowed("/usr/libx/libc.so.6", system_dirs, true));
}

}  // namespace
}  // namespace jailbuild

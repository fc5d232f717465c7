// The byte-string encoder every JSON document uses (src/util/json_bytes.hpp). The oracle for
// "is UTF-8" is nlohmann itself: a string is UTF-8 exactly when its strict dump does not refuse it,
// which is the property the encoder exists to guarantee.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/non_utf8_names.hpp"
#include "util/json_bytes.hpp"

namespace jailbuild {
namespace {

using testing::bytes_in;
using testing::plain_dump_refuses;

// Edge cases of table 3-7 on both sides of each boundary, and the names the command tests use.
const std::vector<std::string> kSamples = {
    "",
    "/usr/bin/ls",
    "caf\xc3\xa9",           // 2 bytes
    "\xe2\x82\xac",          // 3 bytes (euro sign)
    "\xf0\x9f\x98\x80",      // 4 bytes
    "\xf4\x8f\xbf\xbf",      // U+10FFFF, the last code point
    "\xed\x9f\xbf",          // U+D7FF, just below the surrogates
    "\xef\xbf\xbf",          // U+FFFF
    "caf\xe9",               // Latin-1
    "lib\xff.so",            // a byte UTF-8 never uses
    "\xc0\xaf",              // overlong "/"
    "\xe0\x80\xaf",          // overlong, 3 bytes
    "\xf0\x80\x80\xaf",      // overlong, 4 bytes
    "\xed\xa0\x80",          // a surrogate
    "\xf4\x90\x80\x80",      // above U+10FFFF
    "\xe2\x82",              // cut short
    "\x80",                  // a lone continuation byte
    std::string("a\0b", 3),  // NUL is UTF-8 (a path cannot hold one, a message might)
};

TEST(JsonBytes, IsUtf8ExactlyWhenNlohmannWritesTheString) {
  for (const std::string& sample : kSamples)
    EXPECT_EQ(is_utf8(sample), !plain_dump_refuses(sample)) << nlohmann::json(bytes_json(sample)).dump();
}

TEST(JsonBytes, Utf8IsAStringAndAnythingElseIsLowercaseHexOfEveryByte) {
  EXPECT_EQ(bytes_json("/srv/caf\xc3\xa9"), nlohmann::json("/srv/caf\xc3\xa9"));
  EXPECT_EQ(bytes_json("/srv/caf\xe9"), (nlohmann::json{{"hex", "2f7372762f636166e9"}}));
  for (const std::string& sample : kSamples) {
    const nlohmann::json value = bytes_json(sample);
    EXPECT_EQ(value.is_string(), is_utf8(sample));
    EXPECT_EQ(bytes_in(value), sample) << value.dump();  // decoded by the tests' own reader
    EXPECT_EQ(bytes_in(nlohmann::json::parse(value.dump())), sample) << "written and read back";
    if (value.is_object()) { EXPECT_EQ(bytes_from_hex(value["hex"].get<std::string>()), sample); }
  }
  EXPECT_EQ(bytes_json(std::vector<std::string>{"a", "caf\xe9"}), (nlohmann::json{"a", {{"hex", "636166e9"}}}));
}

TEST(JsonBytes, BytesFromHexAcceptsOnlyPairsOfLowercaseDigits) {
  EXPECT_EQ(bytes_from_hex(""), "");
  EXPECT_EQ(bytes_from_hex("00ff7f"), std::string("\x00\xff\x7f", 3));
  for (const char* bad : {"2", "2F", "zz", "0g", " 2f"}) EXPECT_EQ(bytes_from_hex(bad), std::nullopt) << bad;
}

// The last resort: a string that did not go through bytes_json is still printed, never thrown on.
TEST(JsonBytes, JsonTextCannotThrowEvenOnAStringThatMissedTheEncoder) {
  const nlohmann::json document = {{"path", bytes_json("/caf\xe9")}, {"missed", "/caf\xe9"}};
  ASSERT_TRUE(plain_dump_refuses("/caf\xe9")) << "the control: a strict dump throws on it";
  std::string text;
  ASSERT_NO_THROW(text = json_text(document));
  const nlohmann::json read = nlohmann::json::parse(text);
  EXPECT_EQ(bytes_in(read["path"]), "/caf\xe9");
  EXPECT_EQ(read["missed"], "/caf\xef\xbf\xbd") << "U+FFFD in place of the bad byte";
}

}  // namespace
}  // namespace jailbuild

// Path strings, lexically: nothing here looks at the file system.
#pragma once

#include <string>
#include <string_view>

namespace jailbuild {

// `name` inside `directory`, with one slash between them: ("/", "x") and ("/a/", "x") give "/x"
// and "/a/x", never "//x".
std::string join_path(std::string_view directory, std::string_view name);

// `path` as it is if absolute, else joined to `directory` (absolute: the working directory, say).
std::string absolute_path(const std::string& path, std::string_view directory);

// `path` without ".", "..", repeated or trailing slashes, as written: no symlink is looked up, so
// ".." after a symlink is taken lexically ("/srv//site/./" gives "/srv/site").
std::string lexically_normal(const std::string& path);

// Everything before the last slash: "/a/b" gives "/a", "/a" gives "/", "a" gives ".".
std::string parent_directory(std::string_view path);

// Everything after the last slash: "/a/b" gives "b", "b" gives "b".
std::string base_name(std::string_view path);

}  // namespace jailbuild

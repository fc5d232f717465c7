// Build-time tool: writes the default filter's BPF program (seccomp_policy.cpp) to the file named
// by its argument, for jailbuild to embed (seccomp_filter.cpp).
#include <cstdio>
#include <fstream>

#include "seccomp_policy.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT\n", argv[0]);
    return 2;
  }
  auto program = jailbuild::run::compile_default_filter();
  if (!program) {
    std::fprintf(stderr, "%s\n", program.error().message.c_str());
    return 1;
  }
  std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(program->data()),
            static_cast<std::streamsize>(program->size() * sizeof(sock_filter)));
  if (!out.flush()) {
    std::fprintf(stderr, "%s: cannot write the filter\n", argv[1]);
    return 1;
  }
  return 0;
}

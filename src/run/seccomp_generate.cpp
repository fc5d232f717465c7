// Build-time tool: writes the BPF program of the default filter or of the trace filter
// (seccomp_policy.cpp) to the file named by its second argument, for jailbuild to embed
// (seccomp_filter.cpp).
#include <cstdio>
#include <cstring>
#include <fstream>

#include "seccomp_policy.hpp"

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "default") != 0 && std::strcmp(argv[1], "trace") != 0)) {
    std::fprintf(stderr, "usage: %s default|trace OUTPUT\n", argv[0]);
    return 2;
  }
  const bool trace = std::strcmp(argv[1], "trace") == 0;
  auto program = trace ? jailbuild::run::compile_trace_filter() : jailbuild::run::compile_default_filter();
  if (!program) {
    std::fprintf(stderr, "%s\n", program.error().message.c_str());
    return 1;
  }
  std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(program->data()),
            static_cast<std::streamsize>(program->size() * sizeof(sock_filter)));
  if (!out.flush()) {
    std::fprintf(stderr, "%s: cannot write the filter\n", argv[2]);
    return 1;
  }
  return 0;
}
